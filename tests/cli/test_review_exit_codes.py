"""A change review's exit code tells a CI gate what happened: 0 reviewed (or nothing to
review), 1 a finding at or above --fail-on, 4 the run stopped before it reviewed anything.

A run cut before its first unit exited 0 after "Nothing was reviewed", so `--fail-on`
passed a gate that had checked nothing."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.pool_sample import CODE, JUDGE, POOL, home_env, run_cli

EVAL = {"match": "eval(", "message": "eval of user input", "severity": "error"}
EVAL["category"] = "security"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator({"models": {**{m: {"findings": [EVAL]} for m in POOL}, JUDGE: {}}}) as e:
        yield e


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    project = Repo(tmp_path / "repo")
    project.write("app.py", "def load(raw):\n    return raw\n")
    project.commit("app")
    return project


def fuse(args: list[str], repo: Repo, emu: Emulator) -> subprocess.CompletedProcess[str]:
    env = home_env(emu.base_url, repo.root.parent / "home")
    env.update(GIT_ENV, FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="200")
    return run_cli(args, env, repo.root)


# A deadline that has passed before the first unit is asked.
CUT = ["--deadline", "0.000001", "--no-cache", "--fail-on", "error"]


def test_a_run_stopped_before_any_unit_fails_the_gate(repo: Repo, emu: Emulator) -> None:
    repo.write("app.py", CODE)
    res = fuse(["review", "--uncommitted", *CUT], repo, emu)
    assert res.returncode == 4, res.stdout + res.stderr
    assert "Nothing was reviewed: the run stopped first." in res.stdout
    assert "stopped: the run's 0.000001s deadline had passed" in res.stdout
    # The same change reviewed: a finding at --fail-on is 1, not 4.
    res = fuse(["review", "--uncommitted", "--fail-on", "error"], repo, emu)
    assert res.returncode == 1, res.stdout + res.stderr
    sarif = json.loads(fuse(["review", "--uncommitted", "--format", "sarif"], repo, emu).stdout)
    assert sarif["runs"][0]["invocations"] == [
        {"executionSuccessful": True, "toolExecutionNotifications": []}
    ]


@pytest.mark.parametrize("fmt", ["sarif", "json", "rdjson"])
def test_a_machine_format_says_on_stderr_why_nothing_was_reviewed(
    repo: Repo, emu: Emulator, fmt: str
) -> None:
    """The SARIF goes to a file in CI: without a line on stderr the job fails unexplained."""
    repo.write("app.py", CODE)
    res = fuse(["review", "--uncommitted", *CUT, "--format", fmt, "--quiet"], repo, emu)
    assert res.returncode == 4, res.stderr
    assert res.stderr.splitlines() == [
        "error: nothing was reviewed: the run's 0.000001s deadline had passed (exit 4)"
    ]
    data = json.loads(res.stdout)  # the output itself is still whole
    if fmt == "sarif":
        # Uploaded anyway (`if: always()`), no results would read as every alert fixed.
        [invocation] = data["runs"][0]["invocations"]
        assert invocation["executionSuccessful"] is False
        [note] = invocation["toolExecutionNotifications"]
        assert note["level"] == "warning"
        assert note["message"]["text"].startswith("stopped: the run's 0.000001s deadline")


def test_an_empty_change_passes_the_gate(repo: Repo, emu: Emulator) -> None:
    """Nothing to review is not "could not review": it passes."""
    res = fuse(["review", "--uncommitted", *CUT], repo, emu)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Nothing to review: no changed text in this change." in res.stdout
    assert res.stderr == ""
    res = fuse(["review", "--uncommitted", *CUT, "--format", "sarif"], repo, emu)
    assert (res.returncode, res.stderr) == (0, "")
    assert emu.requests == []


def test_help_lists_the_exit_codes(tmp_path: Path) -> None:
    env = home_env("http://127.0.0.1:9/api/v1", tmp_path / "home")
    env["COLUMNS"] = "80"
    text = run_cli(["review", "--help"], env, tmp_path).stdout
    codes = text[text.index("exit codes:") :].splitlines()[1:]
    assert [line.split()[0] for line in codes] == ["0", "1", "2", "3", "4", "130"], text
    assert "before any code was reviewed" in codes[4]
    fix = run_cli(["fix", "--help"], env, tmp_path).stdout
    assert "  1    the fix failed its checks (--verify)\n" in fix and "  4 " not in fix
    doctor = run_cli(["doctor", "--help"], env, tmp_path).stdout
    assert "  1    a check failed" in doctor, doctor


def test_a_mistyped_path_does_not_pass_the_gate_as_an_empty_change(
    repo: Repo, emu: Emulator
) -> None:
    """`--uncommitted src/ap.py` limited the change to nothing: "Nothing to review", 0."""
    repo.write("gone.py", "x = 1\n")
    repo.commit("gone")
    (repo.root / "gone.py").unlink()
    res = fuse(["review", "--uncommitted", "--fail-on", "error", "ap.py"], repo, emu)
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr == "error: ap.py: no such file or folder, and no changed file there.\n"
    # A path that exists but did not change, and a deleted file: real answers, not typos.
    for path, said in (("app.py", "Nothing to review"), ("gone.py", "skipped gone.py: deleted")):
        res = fuse(["review", "--uncommitted", "--fail-on", "error", path], repo, emu)
        assert res.returncode == 0, res.stdout + res.stderr
        assert said in res.stdout, res.stdout
    assert emu.requests == []
