"""Docs that cannot rot (as sqlite-utils' test_docs.py and llm's cog): every page a doc or docstring points
to exists, every `assist ...` command line shown in README.md and docs/ names real commands and options,
every command's --help has an example, and docs/cli.md is the --help of today's code."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from assist.commands._help_doc import commands, render
from assist.main import GLOBAL_FLAGS, main

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "bench").glob("*.md"))]
SOURCES = sorted((REPO / "cli" / "assist").rglob("*.py"))


def test_docs_cli_md_is_up_to_date():
    assert (REPO / "docs" / "cli.md").read_text() == render(), "run scripts/cli-docs"


def test_every_page_pointed_to_exists():
    missing = []
    for path in PAGES + SOURCES:
        text = path.read_text()
        assert "DESIGN §" not in text, f"{path}: points to a design section that does not exist here"
        for target in re.findall(r"\(([a-z0-9_-]+\.md)(?:#[^)]*)?\)", text):  # markdown links beside a page
            if not (path.parent / target).exists() and not (REPO / "docs" / target).exists():
                missing.append(f"{path.name}: {target}")
        for target in re.findall(r"\b(docs/[a-z0-9_-]+\.md|bench/README\.md)", text):
            if not (REPO / target).exists():
                missing.append(f"{path.name}: {target}")
    assert missing == []


def command_lines() -> list[tuple[str, str]]:
    """(page, line) of every `assist ...` command in a code block or in `backticks` of the pages."""
    out = []
    for page in PAGES:
        text = page.read_text()
        blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
        indented = re.findall(r"(?m)^    (assist .*)$", text)
        inline = re.findall(r"`(assist [^`]+)`", text)
        for line in [*(ln for b in blocks for ln in b.splitlines()), *indented, *inline]:
            for part in re.split(r"\||&&|;|\$\(", line):
                part = re.split(r"\)|[<>]| #", part)[0].strip()  # the end of $( ), a redirection, a comment
                if re.match(r"assist( -[-a-z]+( \S+)?)* [a-z][a-z-]*( |$)", part):  # a command, not a message
                    out.append((page.name, part))
    return sorted(set(out))


def resolve(words: list[str]) -> tuple[click.Command, list[str]]:
    """The command a line names and the words after it (a group that runs without a subcommand, such as
    `assist classify`, or a placeholder such as SOURCE, ends the descent)."""
    command: click.Command = main
    ctx = main.make_context("assist", [], resilient_parsing=True)
    rest = list(words)
    while rest and isinstance(command, click.Group):
        word = rest[0]
        if word.startswith("-"):  # an option of the group (--home X, --collection work)
            option = next((p for p in command.params if word.split("=")[0] in [*p.opts, *p.secondary_opts]), None)
            assert option is not None, f"{command.name} has no option {word}"
            takes_value = not getattr(option, "is_flag", False) and "=" not in word
            rest = rest[2:] if takes_value else rest[1:]
            continue
        sub = command.get_command(ctx, word)
        if sub is None:
            if command.invoke_without_command or word.isupper():
                break
            raise AssertionError(f"no command {word!r}")
        command, rest = sub, rest[1:]
        ctx = command.make_context(word, [], parent=ctx, resilient_parsing=True)
    return command, rest


@pytest.mark.parametrize(("page", "line"), command_lines())
def test_every_command_shown_exists_with_its_options(page, line):
    try:
        words = shlex.split(line.replace("...", "").replace("…", ""))
    except ValueError:
        pytest.fail(f"{page}: cannot read {line!r}")
    command, rest = resolve(words[1:])
    known = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    known |= set(GLOBAL_FLAGS)  # taken after the command too (main.global_flags_first)
    for word in rest:
        if word.startswith("--"):
            assert word.split("=")[0] in known, f"{page}: {line!r}: {command.name} has no option {word}"


@pytest.mark.parametrize("path", [path for path, _, _ in commands(main, main.make_context("assist", [],
                                  resilient_parsing=True), "assist")])
def test_every_command_has_an_example(path):
    command, _ = resolve(path.split()[1:])
    if isinstance(command, click.Group):
        return  # a group lists its commands; each has its own example
    assert "Example" in (command.help or ""), f"{path} --help has no example"


def test_the_checks_can_fail():
    with pytest.raises(AssertionError):
        resolve(["queue", "lss"])
    command, rest = resolve(["queue", "ls", "--bogus"])
    assert "--bogus" not in {o for p in command.params for o in p.opts} and rest == ["--bogus"]
