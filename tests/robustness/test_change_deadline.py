"""One deadline for a whole change review (issue 10 item 13): `fuse-ls review --diff ...
--deadline S` holds every unit's fusion to it and names what it cut."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.robustness.support import CODE, B, cli_env, run_cli, script

BASE = "def first(x):\n    return x\n\n\ndef second(y):\n    return y\n"
CHANGED = "def first(x):\n    return eval(x)\n\n\ndef second(y):\n    return eval(y)\n"


def test_one_deadline_for_a_whole_change_review(emulator_factory: Any, tmp_path: Path) -> None:
    emu: Emulator = emulator_factory(script(**{B: [{"kind": "hang"}]}))
    repo = Repo(tmp_path / "repo")
    repo.write("app.py", BASE)
    repo.commit("base")
    repo.write("app.py", CHANGED)
    env = {**cli_env(emu, tmp_path), **GIT_ENV}
    done = run_cli(
        ["review", "--uncommitted", "--format", "json", "--deadline", "5"], env, repo.root
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert any(f["start_line"] in (2, 6) for f in data["findings"])
    assert any(
        n.startswith("app.py:1-6: the 5s fusion deadline (the caller's deadline) cut: ")
        and f"{B} (pool)" in n
        for n in data["notes"]
    ), data["notes"]
    # A unit a deadline cut is not cached as complete: the next run asks again.
    emu.set_script(script())
    again = run_cli(["review", "--uncommitted", "--format", "json"], env, repo.root)
    assert again.returncode == 0, again.stderr
    [unit] = json.loads(again.stdout)["units"]
    assert unit["cached"] is False


def test_deadline_flag_for_a_single_file_review(emulator_factory: Any, tmp_path: Path) -> None:
    emu: Emulator = emulator_factory(script(**{B: [{"kind": "hang"}]}))
    (tmp_path / "app.py").write_text(CODE)
    done = run_cli(
        ["review", "app.py", "--json", "--deadline", "4"], cli_env(emu, tmp_path), tmp_path
    )
    assert done.returncode == 0, done.stderr
    notes = json.loads(done.stdout)["notes"]
    assert f"the 4s fusion deadline (quorum.deadline_s) cut: {B} (pool)" in notes
