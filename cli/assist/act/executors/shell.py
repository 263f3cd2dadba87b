"""shell.run: a command from the config's argv allowlist, run without a shell, time-limited."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from ..registry import ActionContext, ActionError, Refused, executor


@executor("shell.run", {
    "required": ["argv"],
    "properties": {"argv": {"type": "array", "items": {"type": "string", "maxLength": 4000}, "minItems": 1,
                            "maxItems": 100}},
})
def run(args: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    section = ctx.section("shell")
    argv = args["argv"]
    allowed = [[os.path.expanduser(a) for a in prefix] for prefix in section.get("allow", [])]
    if not any(argv[: len(prefix)] == prefix for prefix in allowed):
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
