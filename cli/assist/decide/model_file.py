"""Reading a model file (.npz: decide/intent.py, decide/spam.py) that a person names on the command line or
points the config at: a file that is not a model is named, never numpy's or zipfile's complaint."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..errors import ConfigError, UsageError

if TYPE_CHECKING:
    from ..config import Config

# what reading a damaged or foreign .npz raises (numpy's and JSON's complaints are ValueErrors; a zip
# cut short is a BadZipFile)
DAMAGE: tuple[type[Exception], ...] = (ValueError, KeyError, EOFError, OSError, zipfile.BadZipFile)
Model = TypeVar("Model")


class NotAModel(UsageError):
    """A file given as a model that assist cannot read as one (exit 2)."""


class ConfiguredNotAModel(ConfigError):
    """The config's model file is not one (exit 78): a stage stops on it rather than failing each task."""


def read_model(load: Callable[[Path], Model], path: Path) -> Model:
    """`load(path)`, or NotAModel naming the file."""
    try:
        return load(path)
    except DAMAGE as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else \
            "not an .npz that `assist classify train` or `spam-train` writes"
        raise NotAModel(f"{path}: not a model assist can read ({why})") from None


def file_problems(config: Config) -> list[str]:
    """What `assist config check` says of the files `[classify]` names: a model that is not there or not
    one ("classify.KEY: ..."); an encoder or tokenizer that is not there (loading one is classify's work)."""
    from .intent import IntentModel
    from .spam import SpamModel

    settings = config.section("classify")
    out = []
    for key, load in (("model", IntentModel.load), ("spam_model", SpamModel.load)):
        if settings.get(key):
            try:
                read_model(load, config.resolve(str(settings[key])))
            except NotAModel as exc:
                out.append(f"classify.{key}: {exc}")
    for key in ("encoder", "tokenizer"):
        if settings.get(key) and not config.resolve(str(settings[key])).is_file():
            out.append(f"classify.{key}: no such file: {config.resolve(str(settings[key]))}")
    return out


def configured_model(load: Callable[[Path], Model], config: Config, key: str) -> Model:
    """The model file `[classify] KEY` names; one that is not a model is a fault of the config (exit 78:
    a stage stops on it and its tasks stay queued)."""
    try:
        return read_model(load, config.resolve(str(config.section("classify")[key])))
    except NotAModel as exc:
        raise ConfiguredNotAModel([f"{config.path or 'assist.toml'}: classify.{key}: {exc}"]) from None
