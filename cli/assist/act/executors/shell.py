"""shell.run: a command from the config's argv allowlist, run without a shell, time-limited.

An allowlist entry is a whole command line: the argv must have as many arguments as the entry, each equal
to the entry's string, or, where the entry has `{pattern = "..."}`, matching that pattern in full (RE2:
linear time). Nothing else is accepted: `["find", "~/Notes"]` allows exactly `find ~/Notes`, not
`find ~/Notes -exec sh -c ...`.

    [actions.shell]
    allow = [["notify-send", "assist", {pattern = "[^-][^\\n]{0,200}"}],
             ["git", "-C", "~/notes", "pull", "--ff-only"]]
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from typing import IO, Any

from ..registry import ActionContext, ActionError, Refused, executor

# programs that run other programs (or code) from their arguments: an entry for one of them is only as
# safe as its fixed arguments; `assist config check` warns about them
RUNS_OTHERS = {"sh", "bash", "dash", "zsh", "fish", "ksh", "csh", "tcsh", "env", "xargs", "find", "nice", "nohup",
               "timeout", "sudo", "doas", "su", "ssh", "scp", "rsync", "python", "python3", "perl", "ruby", "node",
               "php", "lua", "awk", "gawk", "sed", "make", "docker", "podman", "flatpak", "systemd-run",
               "watch", "parallel", "script", "busybox", "tclsh", "osascript", "powershell", "pwsh", "vim", "vi",
               "emacs", "less", "man", "tar", "zip", "crontab", "at", "ionice", "chroot", "strace", "gdb"}


KEPT = 4000  # characters of a command's stdout and stderr kept in its result, the last ones


def _matches(entry: list[Any], argv: list[str]) -> bool:
    if len(entry) != len(argv):
        return False
    for want, arg in zip(entry, argv, strict=True):
        if isinstance(want, dict):
            from ...decide.regex import fullmatch

            if not fullmatch(want["pattern"], arg):
                return False
        elif os.path.expanduser(want) != arg:
            return False
    return True


def allowed(argv: list[str], entries: list[list[Any]]) -> bool:
    return any(_matches(entry, argv) for entry in entries)


def warnings(entries: list[list[Any]]) -> list[str]:
    """What `config check` says about allowlist entries that are riskier than they look."""
    out = []
    for index, entry in enumerate(entries):
        where = f"actions.shell.allow.{index}"
        program = os.path.basename(entry[0]) if entry and isinstance(entry[0], str) else ""
        patterned = any(isinstance(want, dict) for want in entry)
        risky = (program == "git" and ("-c" in entry or patterned)) or \
            (program != "git" and program.rstrip("0123456789.") in RUNS_OTHERS)
        if risky:
            out.append(f"{where}: {program} can run other programs from its arguments; make sure the fixed "
                       "arguments leave it no way to (no pattern for an option, no -c, -exec or a script)")
        for position, want in enumerate(entry):
            if isinstance(want, dict):
                from ...decide.regex import fullmatch

                if fullmatch(want["pattern"], "--x"):
                    out.append(f"{where}.{position}: the pattern also matches options such as '--x'; "
                               "start it with [^-] unless options are meant")
    return out


@executor("shell.run", {
    "required": ["argv"],
    "properties": {"argv": {"type": "array", "items": {"type": "string", "maxLength": 4000}, "minItems": 1,
                            "maxItems": 100}},
})
def run(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    section = ctx.section("shell")
    argv = args["argv"]
    if not allowed(argv, section.get("allow", [])):
        raise Refused(f"shell: {argv[0]!r} with these arguments is not in [actions.shell] allow")
    timeout = section.get("timeout_s", 30)
    try:
        code, out, err = _run(argv, timeout)
    except FileNotFoundError:
        raise ActionError(f"shell: no program {argv[0]!r}") from None
    except subprocess.TimeoutExpired:
        raise ActionError(f"shell: {argv[0]} ran longer than {timeout} s") from None
    result = {"exit": code, "stdout": out.decode(errors="replace")[-KEPT:],
              "stderr": err.decode(errors="replace")[-KEPT:]}
    if code != 0:
        raise ActionError(f"shell: {argv[0]} exited {code}")
    return result


def _run(argv: list[str], timeout: float) -> tuple[int, bytes, bytes]:
    """(exit code, the last KEPT * 4 bytes of stdout, of stderr): the output is read as it comes and only
    its tail kept, so a command that writes without end costs no more memory than one that writes a line.
    On timeout the command and what it started are killed (a session of their own)."""
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    tails = [bytearray(), bytearray()]
    readers = [threading.Thread(target=_keep_tail, args=(stream, tail), daemon=True)
               for stream, tail in zip((proc.stdout, proc.stderr), tails, strict=True)]
    for reader in readers:
        reader.start()
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        for reader in readers:  # something the command left running may hold its output open: its
            reader.join(timeout=5)  # reader ends (and closes it) when that does; not waited for here
    return code, bytes(tails[0]), bytes(tails[1])


def _keep_tail(stream: IO[bytes], tail: bytearray) -> None:
    with stream:
        while chunk := stream.read1(65536):  # type: ignore[attr-defined]
            tail += chunk
            del tail[:-KEPT * 4]  # a character is up to 4 bytes in UTF-8
