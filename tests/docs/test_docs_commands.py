"""Every `fuse-ls ...` command the README and the docs show exists as written: its
subcommand and every flag are in the real argparse parsers, and a command in a code
block (what a new user pastes) parses as a whole, choices and argument counts included.
Nothing is run: parsing stops before the command would start."""

from __future__ import annotations

import argparse
import contextlib
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from fuse_ls.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
DOCS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "editors").rglob("README.md")),
    ROOT / "vscode-extension" / "README.md",
    ROOT / "fuse_ls" / "emulator" / "README.md",
    ROOT / "evals" / "README.md",
]
SHELL_FENCES = {"bash", "sh", "shell", "console", ""}
SEPARATORS = {"|", "||", "&&", ";", ">", ">>", "<", "&", "(", ")"}


def _lines(text: str) -> Iterator[tuple[str, str]]:
    """(kind, line): lines of shell code blocks ("block") and inline `fuse-ls ...` spans."""
    for m in re.finditer(r"```(\w*)\n(.*?)```", text, re.S):
        if m.group(1) in SHELL_FENCES:
            for line in m.group(2).splitlines():
                yield "block", line
    for m in re.finditer(r"(?<!`)`((?:\.venv/bin/)?fuse-ls [^`]+)`", text):
        yield "inline", m.group(1)


def _shipped_lines() -> Iterator[tuple[str, str, str]]:
    """The commands users copy from the shipped CI workflow and pre-commit hook."""
    workflow = ROOT / ".github" / "workflows" / "fuse-ls-review.yml"
    for step in yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"]["review"]["steps"]:
        if "run" in step:
            yield str(workflow.relative_to(ROOT)), "block", step["run"].replace("\n", " ")
    hooks = ROOT / ".pre-commit-hooks.yaml"
    for hook in yaml.safe_load(hooks.read_text(encoding="utf-8")):
        yield hooks.name, "block", hook["entry"]


def documented_commands() -> Iterator[tuple[str, str, list[str]]]:
    """(where, kind, argv after `fuse-ls`) for every fuse-ls command in the docs."""
    sources = [
        (str(doc.relative_to(ROOT)), kind, line)
        for doc in DOCS
        for kind, line in _lines(doc.read_text(encoding="utf-8"))
    ]
    for where, kind, line in [*sources, *_shipped_lines()]:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        lexer.commenters = "#"
        try:
            tokens = list(lexer)
        except ValueError:  # prose with an apostrophe, not a command
            continue
        command: list[str] = []
        for token in [*tokens, ";"]:
            if token not in SEPARATORS:
                command.append(token)
                continue
            # `VAR=value fuse-ls ...` sets the environment for the command.
            while command and re.match(r"[A-Z_][A-Z0-9_]*=", command[0]):
                command.pop(0)
            if command and command[0] in ("fuse-ls", ".venv/bin/fuse-ls"):
                yield where, kind, command[1:]
            command = []


class Parsed(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self.parser = parser


def _reach_parser(argv: list[str], parse: bool) -> argparse.ArgumentParser:
    """Run fuse-ls's real entry point up to its argument parsing, never further: the parser
    that parse_args was called on (after parsing argv, when `parse`; argparse's error
    then fails the test with its own message)."""
    original = argparse.ArgumentParser.parse_args

    def stop(self: argparse.ArgumentParser, *args: Any, **kw: Any) -> NoReturn:
        if parse:
            with contextlib.suppress(SystemExit):  # --version prints and exits 0
                original(self, *args, **kw)
        raise Parsed(self)

    def refuse(self: argparse.ArgumentParser, message: str) -> NoReturn:
        raise AssertionError(f"{self.prog}: {message}")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argparse.ArgumentParser, "parse_args", stop)
        patch.setattr(argparse.ArgumentParser, "error", refuse)
        try:
            main(argv)
        except Parsed as parsed:
            return parsed.parser
    raise AssertionError(f"fuse-ls {shlex.join(argv)} did not reach an argument parser")


def _subparser(parser: argparse.ArgumentParser, word: str) -> argparse.ArgumentParser | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found = action.choices.get(word)
            return found if isinstance(found, argparse.ArgumentParser) else None
    return None


def resolve(argv: list[str]) -> argparse.ArgumentParser | None:
    """The parser of argv's flags: the top one, a command's, or a nested one (`eval
    replay`). None when the first word is not a fuse-ls command (prose)."""
    top = build_parser()
    if not argv or argv[0].startswith("-"):
        return top
    parser = _subparser(top, argv[0])
    if parser is None:
        return None
    if not parser.add_help:  # a command handed to its own module, which has the parser
        parser = _reach_parser([argv[0]], parse=False)
    for word in argv[1:]:
        nested = None if word.startswith("-") else _subparser(parser, word)
        if nested is None:
            break
        parser = nested
    return parser


COMMANDS = sorted({(where, kind, tuple(argv)) for where, kind, argv in documented_commands()})


def test_the_docs_show_commands() -> None:
    """The extraction finds the README's commands (an empty list would pass vacuously)."""
    readme = [argv for where, kind, argv in COMMANDS if where == "README.md" and kind == "block"]
    assert ("demo",) in readme and ("review", "--staged") in readme, readme
    assert len(COMMANDS) > 60


@pytest.mark.parametrize(
    ("where", "kind", "argv"), COMMANDS, ids=[f"{w}:{shlex.join(a)}" for w, _, a in COMMANDS]
)
def test_documented_command_exists(where: str, kind: str, argv: tuple[str, ...]) -> None:
    shown = f"{where}: `fuse-ls {shlex.join(argv)}`"
    parser = resolve(list(argv))
    if parser is None:
        assert kind == "inline", f"{shown} is no fuse-ls command"
        return
    known = set(parser._option_string_actions)
    for token in argv:
        flag = token.strip("[]").split("=", 1)[0]
        if flag.startswith("-") and flag != "--":
            assert flag in known, f"{shown}: {parser.prog} has no {flag} (it has {sorted(known)})"
    # A code block's command is pasted as is: it must parse whole (choices, counts).
    if kind == "block" and not any("[" in token for token in argv):
        _reach_parser(list(argv), parse=True)


def option_sentences() -> Iterator[tuple[str, list[str], list[str]]]:
    """("where", command words, flags) for prose such as "`fuse-ls review` options:
    `--mode ...`, `--json` (...)." up to the end of that sentence."""
    for doc in DOCS:
        text = " ".join(doc.read_text(encoding="utf-8").split())
        for m in re.finditer(r"`(?:fuse-ls )?([a-z][a-z ]*)` options: (.*?)\.(?:\s|$)", text):
            flags = re.findall(r"`(--[\w-]+)", m.group(2))
            yield str(doc.relative_to(ROOT)), m.group(1).split(), flags


def test_options_listed_in_prose_exist() -> None:
    listed = list(option_sentences())
    assert {tuple(words) for _, words, _ in listed} >= {("review",), ("eval", "replay")}
    for where, words, flags in listed:
        parser = resolve(words)
        assert parser is not None and flags, (where, words)
        missing = [f for f in flags if f not in parser._option_string_actions]
        assert not missing, f"{where}: `fuse-ls {' '.join(words)}` has no {missing}"
