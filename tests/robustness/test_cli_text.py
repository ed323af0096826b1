"""The CLI prints whatever models, providers and file names say as plain text
(issue 10 items 10 and 11): no traceback, no rich markup, nothing silently dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.robustness.support import (
    CODE,
    JUDGE,
    POOL,
    A,
    B,
    C,
    cli_env,
    run_cli,
    script,
)

MARKUP_MESSAGE = "xs[i] may be out of range; see [/docs] and [bold]the guide[/bold]"


def test_a_file_name_with_a_newline_is_reviewed(emulator_factory: Any, tmp_path: Path) -> None:
    emu = emulator_factory(script())
    (tmp_path / "we\nird.py").write_text(CODE)
    done = run_cli(["review", "we\nird.py", "--quiet"], cli_env(emu, tmp_path), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "eval() on user input" in done.stdout


def test_a_missing_file_with_a_newline_gets_a_clear_message(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(script())
    done = run_cli(["review", "gone\nfile.py:3-4"], cli_env(emu, tmp_path), tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "error: 'gone\\nfile.py' is not a file." in done.stderr
    assert emu.requests == []


def test_model_text_is_never_rich_markup(emulator_factory: Any, tmp_path: Path) -> None:
    finding = {
        "match": "eval(",
        "message": MARKUP_MESSAGE,
        "severity": "error",
        "category": "security",
    }
    raw = script()
    for model in POOL:
        raw["models"][model]["findings"] = [finding]
    emu = emulator_factory(raw)
    (tmp_path / "app.py").write_text(CODE)
    done = run_cli(["review", "app.py", "--quiet"], cli_env(emu, tmp_path), tmp_path)
    assert done.returncode == 0, done.stderr
    flat = " ".join(done.stdout.split())
    assert "[security] xs[i] may be out of range; see [/docs] and [bold]the guide[/bold]" in flat


def test_provider_messages_are_never_rich_markup(emulator_factory: Any, tmp_path: Path) -> None:
    fault = [{"kind": "http", "status": 400, "message": "bad [/docs] request for xs[i]"}]
    emu = emulator_factory(script(**{A: fault, B: fault, C: fault, JUDGE: fault}))
    (tmp_path / "app.py").write_text(CODE)
    done = run_cli(["explain", "app.py"], cli_env(emu, tmp_path), tmp_path)
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert "bad [/docs] request for xs[i]" in done.stderr
