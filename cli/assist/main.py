"""The `assist` command: a click group that imports each subcommand only when it runs (fast start)."""

from __future__ import annotations

import importlib
import os
import sys

import click

from .errors import AssistError

# name -> (module, attribute, one-line help shown in `assist --help` without importing the module)
COMMANDS = {
    "act": ("assist.commands.act", "act", "Carry out the tasks' actions, within route policies."),
    "ask": ("assist.commands.ask", "ask", "Ask something: your calendar, notes, mail; add an event."),
    "ingest": ("assist.commands.ingest", "ingest", "Turn mail, text lines and timer ticks into events."),
    "enqueue": ("assist.commands.enqueue", "enqueue", "Put tasks (JSON lines on stdin) into a queue."),
    "queue": ("assist.commands.queue", "queue", "List, inspect, retry, cancel and approve queued tasks."),
    "stage": ("assist.commands.stage", "stage", "Run a built-in utility stage (passthrough)."),
    "logs": ("assist.commands.logs", "logs", "Show the per-component JSON logs."),
    "classify": ("assist.commands.classify", "classify", "Route tasks: rules, then the intent model."),
    "config": ("assist.commands.config", "config", "Check assist.toml and show where files live."),
    "token": ("assist.commands.token", "token", "Keep credentials in the encrypted token store."),
    "prompt": ("assist.commands.prompt", "prompt", "Build each task's prompt from its route's template."),
    "run": ("assist.commands.run", "run", "Ask a model each task's prompt; parse and check the reply."),
    "models": ("assist.commands.models", "models", "List, fetch and check the language models."),
    "memory": ("assist.commands.memory", "memory", "Add, query and remove notes in the context store."),
    "work": ("assist.commands.work", "work", "Run several stages in one long-lived process."),
    "demo": ("assist.commands.demo", "demo", "Run the whole pipeline on a sample mailbox, locally."),
    "init": ("assist.commands.init", "init", "Make a working home: config, mail account, model, schedule."),
    "serve": ("assist.commands.serve", "serve", "REST, WebSocket events and a web dashboard for the queues."),
    "top": ("assist.commands.top", "top", "A live terminal dashboard of the queues and workers."),
}


_invoked: list[str] = []  # the command being run, for error messages ("assist serve needs ...")


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        _invoked[:] = [cmd_name]
        module = importlib.import_module(spec[0])
        return getattr(module, spec[1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False), envvar="ASSIST_HOME",
              help="The assist home, before or after the command (default: $ASSIST_HOME, else the nearest "
                   "folder upward with assist.toml, else the user data folder).")
@click.option("--queue-url", envvar="ASSIST_QUEUE_URL", metavar="URL",
              help="Use this queue instead of queue.url: a spool folder or redis://host:port/db (before or "
                   "after the command).")
@click.version_option(package_name="assist", message="assist %(version)s")
def main(home: str | None, queue_url: str | None) -> None:
    """assist: a local-first orchestration layer for a personal AI assistant.

    Small commands that read and write JSON lines and share a durable spool queue, so stages run piped
    together or separately under cron and systemd.

    \b
    Examples:
      echo '{"type": "text", "data": {"text": "hi"}}' | assist enqueue --queue inbox
      assist stage passthrough --from inbox --to outbox --once
      assist queue ls --state failed
    """
    if home:
        os.environ["ASSIST_HOME"] = os.path.abspath(home)
    if queue_url:
        os.environ["ASSIST_QUEUE_URL"] = queue_url


def _command() -> str:
    """The command being run, with its subcommand: "serve", "ingest http"."""
    if not _invoked:
        return ""
    args = sys.argv[1:]
    rest = args[args.index(_invoked[0]) + 1:] if _invoked[0] in args else []
    sub = next((a for a in rest if not a.startswith("-")), None)
    return f"{_invoked[0]} {sub}" if sub and _invoked[0] in ("ingest", "queue", "memory", "models", "token",
                                                            "config", "classify", "stage") else _invoked[0]


GLOBAL_FLAGS = ("--home", "--queue-url")


def global_flags_first(args: list[str]) -> list[str]:
    """args with --home and --queue-url moved before the command when typed after it (`assist init --home
    DIR`, as the help's "the home is --home" reads), up to a `--`, after which words are the command's own.
    A flag without its value stays where it is, for click to say so."""
    at = 0
    while at < len(args) and args[at].startswith("-"):  # the group's own options, and their values
        at += 2 if args[at] in GLOBAL_FLAGS else 1
    if at >= len(args) or args[at] not in COMMANDS:
        return args
    moved: list[str] = []
    rest: list[str] = []
    i = at + 1
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg.split("=", 1)[0] in GLOBAL_FLAGS and "=" in arg:
            moved.append(arg)
        elif arg in GLOBAL_FLAGS and i + 1 < len(args):
            moved += args[i:i + 2]
            i += 1
        else:
            rest.append(arg)
        i += 1
    return [*args[:at], *moved, args[at], *rest]


def _fail(exc: AssistError) -> None:
    from .printable import printable

    # a message can quote what it could not read (a file's bad value, a server's reply): never an escape
    for line in str(exc).splitlines() or [type(exc).__name__]:
        sys.stderr.write(f"assist: {printable(line)}\n")
    sys.exit(exc.exit_code)


def cli() -> None:
    from .errors import storage_error
    from .extras import missing_extra

    try:
        main.main(args=global_flags_first(sys.argv[1:]), prog_name="assist")
    except AssistError as exc:
        _fail(exc)
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, as unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
    except ImportError as exc:  # an optional extra is not installed: one line, exit 69
        extra = missing_extra(exc, _command())
        if extra is None:
            raise
        _fail(extra)
    except OSError as exc:  # the disk is full, read-only or not ours: one line, exit 75 or 73
        storage = storage_error(exc)
        if storage is None:
            raise
        _fail(storage)


if __name__ == "__main__":
    cli()
