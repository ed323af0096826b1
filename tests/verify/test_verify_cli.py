"""`fuse-ls fix --verify` end to end: a real git project, the model emulator over loopback,
the project's own tests as the check, the CLI as a real process."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import Repo
from tests.verify.verify_sample import (
    CALC,
    JUDGE,
    PYTEST,
    A,
    B,
    C,
    copies_left,
    environ,
    fuse,
    interrupt_during_checks,
    snapshot,
    user_config,
)

GOOD = {"find": "a - b", "replace": "a + b"}
BAD = {"find": "a - b", "replace": "a * b"}
TEST_CALC = "import calc\n\n\ndef test_add():\n    assert calc.add(2, 3) == 5\n"


def script(a: dict[str, str], b: dict[str, str], c: dict[str, str]) -> dict[str, Any]:
    return {"models": {A: {"fix": a}, B: {"fix": b}, C: {"fix": c}, JUDGE: {}}}


@pytest.fixture
def project(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "project")
    repo.write("calc.py", CALC)
    repo.commit("calc")
    # The test file is not committed yet: the isolated copy must still have it.
    repo.write("test_calc.py", TEST_CALC)
    return repo


@pytest.fixture
def emu_good() -> Iterator[Emulator]:
    with Emulator(script(GOOD, GOOD, GOOD)) as emulator:
        yield emulator


def test_a_fix_that_makes_the_tests_pass_is_verified_and_applied(
    project: Repo, emu_good: Emulator, tmp_path: Path
) -> None:
    user_config(tmp_path / "home", [PYTEST])
    res = fuse(
        ["fix", "calc.py:2", "--verify", "--apply"], project, environ(tmp_path, emu_good.base_url)
    )
    assert res.returncode == 0, res.stderr
    assert "-    return a - b" in res.stdout and "+    return a + b" in res.stdout
    assert "fused fix: checks passed (1 command, " in res.stdout
    assert "applied the fused fix to calc.py (checks passed)" in res.stderr
    assert (project.root / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert copies_left(tmp_path) == []


def test_a_fix_that_breaks_the_tests_is_reported_and_not_applied(
    project: Repo, tmp_path: Path
) -> None:
    user_config(tmp_path / "home", [PYTEST])
    before = snapshot(project.root)
    with Emulator(script(BAD, BAD, BAD)) as emu:
        env = environ(tmp_path, emu.base_url)
        res = fuse(["fix", "calc.py:2", "--verify", "--apply"], project, env)
        assert res.returncode == 1, res.stderr
        assert "fused fix: checks failed: `" in res.stdout and "exited 1" in res.stdout
        assert "assert 6 == 5" in res.stdout  # the failing output, for the user to read
        assert "not applied: the fused fix did not pass its checks" in res.stderr
        assert snapshot(project.root) == before
        anyway = fuse(["fix", "calc.py:2", "--verify", "--apply-anyway"], project, env)
    assert anyway.returncode == 1
    assert "although it did not pass its checks (--apply-anyway)" in anyway.stderr
    assert "return a * b" in (project.root / "calc.py").read_text()
    assert copies_left(tmp_path) == []


def test_the_judge_picks_the_candidate_whose_checks_pass(project: Repo, tmp_path: Path) -> None:
    # Two of three propose the breaking fix: by votes alone it would win.
    check = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
        "import calc; r = calc.add(2, 3); print('add(2, 3) =', r); assert r == 5"
    )
    user_config(tmp_path / "home", [check])
    with Emulator(script(BAD, BAD, GOOD)) as emu:
        env = environ(tmp_path, emu.base_url)
        without = fuse(["fix", "calc.py:2", "--json"], project, env)
        res = fuse(["fix", "calc.py:2", "--verify", "--apply", "--json"], project, env)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["answer"].strip() == "return a + b"
    assert data["answer_check"]["passed"] is True
    assert {(c["model"], c["passed"]) for c in data["checks"]} == {
        (A, False), (B, False), (C, True)
    }  # fmt: skip
    failed = next(c for c in data["checks"] if c["model"] == A)
    assert "add(2, 3) = 6" in failed["commands"][0]["output"]
    assert (project.root / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    # Without the checks the same pool and judge settle on the majority's broken fix.
    assert json.loads(without.stdout)["answer"].strip() == "return a * b"


def test_an_untrusted_repository_cannot_choose_the_check_commands(
    project: Repo, emu_good: Emulator, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    evil = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
        f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')"
    )
    project.write(".fuse-ls.toml", f"[verify]\ncommands = [{json.dumps(evil)}]\n")
    before = snapshot(project.root)
    res = fuse(
        ["fix", "calc.py:2", "--verify", "--apply"], project, environ(tmp_path, emu_good.base_url)
    )
    assert res.returncode == 2
    # The notice wraps at the terminal width, where depends on the temporary path's length.
    said = " ".join(res.stderr.split())
    assert "sets verify.commands, ignored because this workspace is not trusted" in said
    assert "--verify needs check commands" in said
    assert not marker.exists() and snapshot(project.root) == before


def test_a_check_over_its_timeout_is_killed_and_reported_and_nothing_applied(
    project: Repo, emu_good: Emulator, tmp_path: Path
) -> None:
    hang = f"{shlex.quote(sys.executable)} -c " + shlex.quote("import time; time.sleep(600)")
    user_config(tmp_path / "home", [hang], timeout_s=1)
    before = snapshot(project.root)
    res = fuse(
        ["fix", "calc.py:2", "--verify", "--apply"], project, environ(tmp_path, emu_good.base_url)
    )
    assert res.returncode == 1, res.stderr
    assert "timed out after 1 s (killed)" in res.stdout
    assert snapshot(project.root) == before
    assert copies_left(tmp_path) == []


def test_interrupting_a_verification_leaves_the_workspace_and_no_copy(
    project: Repo, emu_good: Emulator, tmp_path: Path
) -> None:
    started = tmp_path / "check-started"
    hang = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
        f"import pathlib, time; pathlib.Path({str(started)!r}).write_text('1'); time.sleep(600)"
    )
    user_config(tmp_path / "home", [hang])
    before = snapshot(project.root)
    code, err = interrupt_during_checks(
        ["fix", "calc.py:2", "--verify", "--apply", "--quiet"],
        project.root,
        environ(tmp_path, emu_good.base_url),
        started,
    )
    assert code == 130, err
    assert snapshot(project.root) == before
    assert copies_left(tmp_path) == []
    assert len(project.git("worktree", "list").splitlines()) == 1


def test_checks_slower_than_the_fusion_deadline_still_leave_the_judge_its_time(
    project: Repo, tmp_path: Path
) -> None:
    # The fusion deadline bounds waiting on models; each check has its own timeout. A
    # check run longer than the whole deadline must not cut the judge that reads it.
    check = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
        "import time, calc; time.sleep(2.5); assert calc.add(2, 3) == 5"
    )
    user_config(tmp_path / "home", [check])
    with Emulator(script(BAD, BAD, GOOD)) as emu:
        env = {**environ(tmp_path, emu.base_url), "FUSE_LS_QUORUM__DEADLINE_S": "2"}
        res = fuse(["fix", "calc.py:2", "--verify", "--json"], project, env)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["judge"]["status"] == "ok", data["judge"]
    assert not [n for n in data["notes"] if "deadline" in n], data["notes"]
    assert data["answer"].strip() == "return a + b"
    assert data["answer_check"]["passed"] is True
