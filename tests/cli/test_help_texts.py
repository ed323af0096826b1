"""`fuse-ls COMMAND --help` is where a new user looks first: every option says what it
does, placeholders say what to type, and nothing wraps past an 80-column terminal."""

from __future__ import annotations

import re

import pytest

from fuse_ls.cli import main

COMMANDS = [
    ["review"],
    ["explain"],
    ["fix"],
    ["demo"],
    ["doctor"],
    ["trust"],
    ["serve"],
    ["stats"],
    ["upload"],
    ["emulator"],
    ["cache"],
    ["dismiss"],
    ["eval", "replay"],
    ["eval", "live"],
]

# An option line: two spaces, the invocation (single spaces inside, e.g. `--mode {a,b}`),
# then the help text after two or more spaces, or on the next, deeper-indented line.
_OPTION = re.compile(r"^  (-\S.*?)(?:\s{2,}(\S.*))?$")


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_option_says_what_it_does(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    lines = _help(argv, capsys).splitlines()
    assert lines[0].startswith("usage: fuse-ls " + " ".join(argv)), lines[0]
    too_wide = [line for line in lines if len(line) > 80]
    assert not too_wide, too_wide
    silent = []
    for i, line in enumerate(lines):
        option = _OPTION.match(line)
        if option is None or option.group(1).startswith("-h, --help"):
            continue
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if option.group(2) is None and not following.startswith(" " * 6):
            silent.append(option.group(1))
    assert not silent, f"options without help in `fuse-ls {' '.join(argv)} --help`: {silent}"


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_placeholders_say_what_to_type(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """argparse's default placeholder is the option's name in capitals (`--max-cost
    MAX_COST`), which repeats the option instead of saying N, USD or SECONDS."""
    monkeypatch.setenv("COLUMNS", "80")
    text = _help(argv, capsys)
    echoed = [
        m.group(0)
        for m in re.finditer(r"--([a-z][a-z-]*) ([A-Z][A-Z_]*)\b", text)
        if m.group(2) == m.group(1).upper().replace("-", "_") and "_" in m.group(2)
    ]
    assert not echoed, echoed


def test_serve_help_gives_the_tcp_defaults(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    text = " ".join(_help(["serve"], capsys).split())
    assert "127.0.0.1" in text and "2087" in text, text


@pytest.mark.parametrize("command", ["fix", "review"])
def test_apply_anyway_help_says_it_runs_the_checks_itself(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`fuse-ls fix F --apply-anyway` verifies without --verify (README: "writes it even if
    they failed"); a help text starting "with --verify:" sent users to type both."""
    monkeypatch.setenv("COLUMNS", "200")
    line = next(x for x in _help([command], capsys).splitlines() if "--apply-anyway " in x)
    assert "with --verify" not in line and "checks" in line, line
