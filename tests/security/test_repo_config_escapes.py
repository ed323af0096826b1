"""A repository's configuration is text someone else wrote, and fuse-ls prints parts of
it: model ids (tables, notes, errors) and the keys of settings it does not know. An ESC
in either reached the terminal on every `fuse-ls review`, `explain` and `doctor`: it can
retitle the window, hide text or write the clipboard (OSC 52)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuse_ls.emulator import Emulator
from tests.pool_sample import home_env, run_cli

# OSC 52 (write "owned" to the clipboard) as a TOML string escape: \u001b is ESC, \\ a "\".
OSC = r"\u001b]52;c;b3duZWQ=\u001b\\"

CONFIG = f"""\
"x{OSC}" = 1
pool = [{{ id = "openai/gpt-5{OSC}" }}, {{ id = "openai/gpt-5-mini" }}]
"""


@pytest.mark.parametrize("command", [["review", "a.py"], ["explain", "a.py"], ["doctor"]])
def test_escapes_in_repository_config_are_not_printed(tmp_path: Path, command: list[str]) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".fuse-ls.toml").write_text(CONFIG, encoding="utf-8")
    (repo / "a.py").write_text("x = 1\n", encoding="utf-8")
    with Emulator() as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env["COLUMNS"] = "400"  # doctor's table: one row per line, for the words below
        res = run_cli(command, env, repo)
    shown = res.stdout + res.stderr
    assert "Traceback" not in shown
    assert "\x1b" not in shown
    # What the user is told instead: the key and the id as written, escaped.
    assert "Unknown setting 'x\\x1b]52;c;b3duZWQ=" in " ".join(shown.split())
    assert "got 'openai/gpt-5\\x1b]52;c;b3duZWQ=\\x1b\\\\'; expected a non-empty model id" in (
        " ".join(shown.split())
    )


def test_markup_in_a_repository_s_model_ids_does_not_break_stats(tmp_path: Path) -> None:
    """The ids a review used are recorded, and `fuse-ls stats` printed them as rich markup:
    `[/]` in one made every later `fuse-ls stats` fail (while the session was kept), and
    `[link=...]` turned the row into a hidden link."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".fuse-ls.toml").write_text(
        'pool = [{ id = "[link=https://evil.example/]openai/gpt-5[/link]" },'
        ' { id = "openai/gpt-5-mini[/]" }]\n',
        encoding="utf-8",
    )
    (repo / "a.py").write_text("x = 1\n", encoding="utf-8")
    with Emulator() as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env["COLUMNS"] = "200"
        run_cli(["review", "a.py"], env, repo)
        res = run_cli(["stats"], env, repo)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    assert "[link=https://evil.example/]openai/gpt-5[/link]" in res.stdout
    assert "openai/gpt-5-mini[/]" in res.stdout


def test_a_key_pasted_as_a_model_id_is_refused_and_not_shown(tmp_path: Path) -> None:
    """`--judge sk-or-v1-...` (or FUSE_LS_MODELS): the key was taken for a model's name,
    sent, printed in progress lines and notes (CI logs) and recorded in telemetry."""
    key = "sk-or-v1-" + "0123456789abcdef" * 4
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("x = 1\n", encoding="utf-8")
    with Emulator() as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        res = run_cli(["review", "a.py", "--judge", key], env, repo)
        env["FUSE_LS_MODELS"] = f"openai/gpt-5,{key}"
        from_env = run_cli(["review", "a.py"], env, repo)
        assert emu.requests == [] or all(key not in str(r.body) for r in emu.requests)
    assert res.returncode == 2
    assert "fuse-ls review: error: argument --judge: expected " in res.stderr
    assert res.stderr.endswith(", got '<hidden>'\n"), res.stderr
    assert "Invalid setting 'FUSE_LS_MODELS[1]'" in from_env.stderr
    for run in (res, from_env):
        assert key not in run.stdout + run.stderr
    recorded = "".join(p.read_text() for p in (tmp_path / "home").rglob("*.jsonl"))
    assert key not in recorded
