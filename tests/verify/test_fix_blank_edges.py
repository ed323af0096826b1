"""A fused fix of a selection that takes in the blank line around a function (a paragraph
selection, the demo's `fix orders.py:5-10`) keeps that blank line: models trim the blank
edges of the code they rewrite, and applying their answer as given deleted the blank line
between two definitions."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from fuse_ls.core.lines import keep_blank_edges
from fuse_ls.emulator import Emulator
from fuse_ls.server.actions import fix_text
from tests.pool_sample import JUDGE, POOL, isolated_env, run_cli

SOURCE = "import ast\n\n\ndef parse(raw):\n    return eval(raw)\n\n\ndef other():\n    return 1\n"
FIXED = SOURCE.replace("eval(raw)", "ast.literal_eval(raw)")
FIX = {"find": "eval(", "replace": "ast.literal_eval("}


def test_cli_fix_of_a_paragraph_keeps_the_blank_lines_around_it(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text(SOURCE)
    script = {"models": {**{m: {"fix": FIX} for m in POOL}, JUDGE: {}}}
    with Emulator(script) as emu:
        env = isolated_env(
            tmp_path / "home",
            FUSE_LS_BASE_URL=emu.base_url,
            FUSE_LS_MODELS=",".join(POOL),
            FUSE_LS_JUDGE=JUDGE,
        )
        # Lines 3-7: a blank line, the function, and the two blank lines after it.
        res = run_cli(["fix", "app.py:3-7", "--apply", "--quiet"], env, project)
    assert res.returncode == 0, res.stderr
    assert (project / "app.py").read_text() == FIXED


def test_editor_fix_text_keeps_the_blank_edges_of_the_selection() -> None:
    selected = types.Range(types.Position(2, 0), types.Position(6, 0))
    answer = "def parse(raw):\n    return ast.literal_eval(raw)"  # edges trimmed
    new_text = fix_text(answer, SOURCE, selected)
    lines = SOURCE.splitlines(keepends=True)
    # The server's edit replaces lines 3-7 up to the end of line 7, before its break.
    assert "".join(lines[:2]) + new_text + "\n" + "".join(lines[7:]) == FIXED


def test_a_replacement_that_keeps_or_drops_everything_is_taken_as_it_is() -> None:
    original = "\ndef f():\n    pass\n\n"
    assert keep_blank_edges("\ndef f():\n    return\n\n", original) == "\ndef f():\n    return\n\n"
    assert keep_blank_edges("", original) == ""  # a deletion stays a deletion
    assert keep_blank_edges("x = 1", "x = 0\n") == "x = 1"
    assert keep_blank_edges("def f():\n    return", original) == "\ndef f():\n    return\n\n"
