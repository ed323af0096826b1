"""A link in an explanation shows where it goes.

A model that read hostile code can be led to write `[the docs](https://host/?d=<code>)`.
In the terminal, rich showed only "the docs" (the target hidden in an OSC 8 hyperlink,
or dropped entirely when piped), so the user could not see what a click would send.
"""

from __future__ import annotations

from pathlib import Path

from fuse_ls.emulator import Emulator
from tests.pool_sample import home_env, run_cli

TARGET = "https://collector.example/?d=ZGVmIGxvYWQ"
ANSWER = f"The loader evaluates input. Read [the docs]({TARGET}) before changing it."


def test_an_explanation_link_shows_its_target(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("def load(s):\n    return eval(s)\n", encoding="utf-8")
    script = {"models": {"*": {"text": ANSWER}}, "judge": {"merge_answer": ANSWER}}
    with Emulator(script) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env["COLUMNS"] = "200"
        res = run_cli(["explain", "a.py"], env, repo)
    assert res.returncode == 0, res.stderr
    assert "the docs" in res.stdout
    assert TARGET in res.stdout
