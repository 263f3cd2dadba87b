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

import os
import subprocess
from typing import Any

from ..registry import ActionContext, ActionError, Refused, executor

# programs that run other programs (or code) from their arguments: an entry for one of them is only as
# safe as its fixed arguments; `assist config check` warns about them
RUNS_OTHERS = {"sh", "bash", "dash", "zsh", "fish", "ksh", "csh", "tcsh", "env", "xargs", "find", "nice", "nohup",
               "timeout", "sudo", "doas", "su", "ssh", "scp", "rsync", "python", "python3", "perl", "ruby", "node",
               "php", "lua", "awk", "gawk", "sed", "make", "docker", "podman", "flatpak", "systemd-run",
               "watch", "parallel", "script", "busybox", "tclsh", "osascript", "powershell", "pwsh", "vim", "vi",
               "emacs", "less", "man", "tar", "zip", "crontab", "at", "ionice", "chroot", "strace", "gdb"}


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
    try:
        done = subprocess.run(argv, capture_output=True, timeout=section.get("timeout_s", 30), check=False,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise ActionError(f"shell: no program {argv[0]!r}") from None
    except subprocess.TimeoutExpired:
        raise ActionError(f"shell: {argv[0]} ran longer than {section.get('timeout_s', 30)} s") from None
    result = {"exit": done.returncode, "stdout": done.stdout.decode(errors="replace")[-4000:],
              "stderr": done.stderr.decode(errors="replace")[-4000:]}
    if done.returncode != 0:
        raise ActionError(f"shell: {argv[0]} exited {done.returncode}")
    return result
