"""The package as a user gets it: the wheel's contents, the console script, and --help everywhere."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import click
from click.testing import CliRunner

from assist.main import COMMANDS, main
from conftest import run

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_prompts_and_schemas(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(REPO)],
                   check=True, capture_output=True)
    [wheel] = tmp_path.glob("assist-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "assist/prompts/echo.md" in names
    assert "assist/schemas/task.schema.json" in names and "assist/schemas/config.schema.json" in names
    for name in ("index.html", "signin.html", "app.js", "app.css"):  # the dashboard, no build step
        assert f"assist/serve/static/{name}" in names
    assert "assist/serve/openapi.json" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "assist = assist.main:cli" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert not any(n.startswith(("tests/", "spool/")) for n in names)


def _commands(group: click.Group, prefix: list[str]) -> list[list[str]]:
    ctx = click.Context(group)
    out = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        out.append([*prefix, name])
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, [*prefix, name]))
    return out


def test_every_command_has_help_with_an_example():
    runner = CliRunner()
    commands = _commands(main, [])
    assert {c[0] for c in commands} == set(COMMANDS)
    assert ["queue", "ls"] in commands and ["stage", "passthrough"] in commands
    for path in commands:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example" in result.output, f"assist {' '.join(path)} --help has no example"


def test_console_script_runs_and_reports_version():
    r = run(["--version"])
    assert r.code == 0 and r.out.startswith("assist ")
    r = run(["no-such-command"])
    assert r.code == 2 and "No such command" in r.err
