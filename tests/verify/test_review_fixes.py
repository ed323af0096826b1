"""`fuse-ls review --uncommitted --fix --verify --apply`: the fixes a change review proposed
in several files, tried together in one isolated copy against the project's own tests,
and written only when they pass. Real git repositories, the emulator over loopback, the
CLI as a real process."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.core.types import FusedFinding
from fuse_ls.emulator import Emulator
from fuse_ls.verify.changes import FixesNotWritten, apply_fixes, plan_fixes
from tests.changes.gitrepo import Repo
from tests.verify.verify_sample import (
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

TESTS = (
    "import calc, mul\n\n\n"
    "def test_add():\n    assert calc.add(2, 3) == 5\n\n\n"
    "def test_mul():\n    assert mul.mul(2, 3) == 6\n"
)


def script(mul_fix: str) -> dict[str, Any]:
    rules = [
        {"match": "a - b", "replace": "a + b", "severity": "error", "message": "subtracts"},
        {"match": "a ** b", "replace": mul_fix, "severity": "error", "message": "power"},
    ]
    return {"models": {m: {"findings": rules} for m in (A, B, C, JUDGE)}}


@pytest.fixture
def project(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "project")
    repo.write("calc.py", "def add(a, b):\n    return a + b\n")
    repo.write("mul.py", "def mul(a, b):\n    return a * b\n")
    repo.write("test_calc.py", TESTS)
    repo.commit("base")
    # The uncommitted change under review: a bug in each of two files.
    repo.write("calc.py", "def add(a, b):\n    return a - b\n")
    repo.write("mul.py", "def mul(a, b):\n    return a ** b\n")
    return repo


def test_fixes_in_two_files_that_pass_the_tests_are_verified_and_applied_together(
    project: Repo, tmp_path: Path
) -> None:
    user_config(tmp_path / "home", [PYTEST])
    with Emulator(script("a * b")) as emu:
        env = environ(tmp_path, emu.base_url)
        res = fuse(["review", "--uncommitted", "--verify", "--apply"], project, env)
    assert res.returncode == 0, res.stderr
    assert "fixes: 2 fix(es) in 2 files" in res.stdout
    for line in ("-    return a - b", "+    return a + b", "-    return a ** b"):
        assert line in res.stdout
    assert "+    return a * b" in res.stdout
    assert "fixes together: checks passed (1 command, " in res.stdout
    assert "applied 2 fix(es) to calc.py, mul.py (checks passed)" in res.stderr
    assert (project.root / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert (project.root / "mul.py").read_text() == "def mul(a, b):\n    return a * b\n"
    assert copies_left(tmp_path) == []
    assert len(project.git("worktree", "list").splitlines()) == 1


def test_fixes_that_break_the_tests_are_reported_with_the_failure_and_not_applied(
    project: Repo, tmp_path: Path
) -> None:
    user_config(tmp_path / "home", [PYTEST])
    before = snapshot(project.root)
    with Emulator(script("a + a")) as emu:
        env = environ(tmp_path, emu.base_url)
        res = fuse(["review", "--uncommitted", "--verify", "--apply"], project, env)
        assert res.returncode == 1, res.stderr
        assert "fixes together: checks failed: `" in res.stdout and "exited 1" in res.stdout
        assert "assert 4 == 6" in res.stdout  # the failing test's output
        assert "not applied: the fixes did not pass their checks" in res.stderr
        assert snapshot(project.root) == before
        shown = fuse(["review", "--uncommitted", "--fix"], project, env)
        assert shown.returncode == 0 and "+    return a + a" in shown.stdout
        assert "not applied: --verify tries them together" in shown.stdout
        assert snapshot(project.root) == before
        data = json.loads(
            fuse(["review", "--uncommitted", "--verify", "--format", "json"], project, env).stdout
        )
        anyway = fuse(["review", "--uncommitted", "--apply-anyway"], project, env)
    assert data["fixes"]["files"] == ["calc.py", "mul.py"]
    assert data["fixes"]["checks"]["passed"] is False and data["fixes"]["applied"] is False
    assert "+    return a + a" in data["fixes"]["diff"]
    assert anyway.returncode == 1
    assert "although they did not pass their checks (--apply-anyway)" in anyway.stderr
    assert (project.root / "mul.py").read_text() == "def mul(a, b):\n    return a + a\n"
    assert (project.root / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert copies_left(tmp_path) == []


def test_a_file_edited_after_the_review_refuses_every_fix(project: Repo, tmp_path: Path) -> None:
    # The check stands in for the user: it edits the real mul.py while the checks run.
    real = project.root / "mul.py"
    edit = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
        f"import pathlib; p = pathlib.Path({str(real)!r}); p.write_text(p.read_text() + '# x\\n')"
    )
    user_config(tmp_path / "home", [edit])
    with Emulator(script("a * b")) as emu:
        res = fuse(
            ["review", "--uncommitted", "--verify", "--apply"],
            project,
            environ(tmp_path, emu.base_url),
        )
    assert res.returncode == 2, res.stderr
    assert "fixes together: checks passed" in res.stdout
    assert "not applied: mul.py changed since the review read it: no fix was applied" in res.stderr
    assert (project.root / "calc.py").read_text() == "def add(a, b):\n    return a - b\n"
    assert real.read_text() == "def mul(a, b):\n    return a ** b\n# x\n"


def test_interrupting_the_checks_of_review_fixes_leaves_the_workspace_and_no_copy(
    project: Repo, tmp_path: Path
) -> None:
    started = tmp_path / "check-started"
    hang = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
        f"import pathlib, time; pathlib.Path({str(started)!r}).write_text('1'); time.sleep(600)"
    )
    user_config(tmp_path / "home", [hang])
    before = snapshot(project.root)
    with Emulator(script("a * b")) as emu:
        code, err = interrupt_during_checks(
            ["review", "--uncommitted", "--verify", "--apply"],
            project.root,
            environ(tmp_path, emu.base_url),
            started,
        )
    assert code == 130, err
    assert "cancelled: no fix was applied" in err
    assert snapshot(project.root) == before
    assert copies_left(tmp_path) == []
    assert len(project.git("worktree", "list").splitlines()) == 1


def test_review_fixes_need_check_commands_before_any_model_is_asked(
    project: Repo, tmp_path: Path
) -> None:
    with Emulator(script("a * b")) as emu:
        res = fuse(
            ["review", "--uncommitted", "--verify"], project, environ(tmp_path, emu.base_url)
        )
        assert not [r for r in emu.requests if r.path.endswith("/chat/completions")]
    assert res.returncode == 2
    assert "--verify needs check commands" in res.stderr


def _finding(start: int, end: int, replacement: str | None) -> FusedFinding:
    return FusedFinding(start, end, "error", "correctness", "m", 3, 3, (A,), replacement)


def test_overlapping_and_empty_fixes_are_left_out_and_named() -> None:
    text = "a\nb\nc\nd\n"
    file = Path("f.py")
    fixes = plan_fixes(
        [
            ("f.py", file, text, _finding(2, 3, "B\nC")),
            ("f.py", file, text, _finding(3, 3, "X")),  # overlaps the first
            ("f.py", file, text, _finding(4, 4, "d")),  # changes nothing
            ("f.py", file, text, _finding(9, 9, "Z")),  # not in the file
            ("f.py", file, text, _finding(1, 1, None)),  # no fix proposed
            ("f.py", file, text, _finding(1, 1, "A")),
        ]
    )
    assert [f.fixed for f in fixes.files] == ["A\nB\nC\nd\n"]
    assert fixes.skipped == (
        ("f.py:3", "overlaps another fix in the same lines"),
        ("f.py:4", "the fix changes nothing"),
        ("f.py:9", "lines 9-9 are not in the file"),
    )


def test_a_fix_writing_a_redaction_mark_it_cannot_put_back_is_left_out() -> None:
    text = "x = 1\ny = 2\n"
    fixes = plan_fixes(
        [
            ("f.py", Path("f.py"), text, _finding(1, 1, 'x = "[REDACTED:api-key]"')),
            ("f.py", Path("f.py"), text, _finding(2, 2, "y = 3")),
        ]
    )
    assert [f.fixed for f in fixes.files] == ["x = 1\ny = 3\n"]
    [(at, why)] = fixes.skipped
    assert at == "f.py:1" and "[REDACTED:api-key]" in why


def test_a_staged_review_whose_files_differ_on_disk_tries_and_writes_nothing(
    project: Repo, tmp_path: Path
) -> None:
    # The index holds the reviewed text; the file on disk has moved on since.
    project.git("add", "calc.py", "mul.py")
    project.write("mul.py", "# a comment above\ndef mul(a, b):\n    return a ** b\n")
    user_config(tmp_path / "home", [PYTEST])
    before = snapshot(project.root)
    with Emulator(script("a * b")) as emu:
        env = environ(tmp_path, emu.base_url)
        res = fuse(["review", "--staged", "--verify", "--apply"], project, env)
    assert res.returncode == 2, res.stderr
    assert "not tried: mul.py changed since the review read it: no fix was applied" in res.stderr
    assert "fixes together:" not in res.stdout  # no checks ran
    assert snapshot(project.root) == before
    assert copies_left(tmp_path) == []


def test_a_write_that_fails_half_way_puts_back_the_files_already_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    first.write_text("a = 1\n")
    second.write_text("b = 1\n")
    fixes = plan_fixes(
        [
            ("a.py", first, "a = 1\n", _finding(1, 1, "a = 2")),
            ("b.py", second, "b = 1\n", _finding(1, 1, "b = 2")),
        ]
    )
    real_open = Path.open
    failures = [OSError(28, "No space left on device")]  # the first write of b.py fails

    def failing_open(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if self == second and "w" in mode and failures:
            raise failures.pop()
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", failing_open)
    wanted = r"could not write b\.py \(No space left on device\); no fix was applied"
    with pytest.raises(FixesNotWritten, match=wanted):
        apply_fixes(fixes)
    assert first.read_text() == "a = 1\n" and second.read_text() == "b = 1\n"
