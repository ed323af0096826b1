"""What `fuse-ls` says when its output goes to a pipe (a CI log): every line of text whole.

Rich folded piped text at 80 columns, so a long path in an error or note broke mid-name
and could not be copied from the log."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.changes.gitrepo import GIT_ENV, Repo
from tests.pool_sample import CODE, JUDGE, POOL, home_env, run_cli


def piped(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """`fuse-ls` with stdout and stderr piped and no COLUMNS: rich's 80-column default."""
    env = home_env("http://127.0.0.1:9/api/v1", home)
    env.update(GIT_ENV, FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE)
    env.pop("COLUMNS", None)
    return run_cli(args, env, cwd)


@pytest.fixture
def deep(tmp_path: Path) -> Path:
    """A folder whose path alone is longer than 80 columns."""
    folder = tmp_path / ("a-rather-long-folder-name-" * 5)
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    "command",
    [
        ["review", "{missing}"],  # one file
        ["review", "{present}:1-2", "{missing}"],  # several targets: a change review
        ["fix", "{missing}:3"],
        ["explain", "{missing}"],
    ],
)
def test_an_error_naming_a_long_path_is_one_line(
    deep: Path, tmp_path: Path, command: list[str]
) -> None:
    (deep / "present.py").write_text(CODE)
    missing = deep / "missing.py"
    args = [a.format(missing=missing, present=deep / "present.py") for a in command]
    res = piped(args, tmp_path, tmp_path / "home")
    assert res.returncode == 2, res.stderr
    assert f"error: {missing} is not a file." in res.stderr.splitlines(), res.stderr


def test_trust_names_a_long_path_on_one_line(deep: Path, tmp_path: Path) -> None:
    missing = deep / "nowhere"
    res = piped(["trust", str(missing)], tmp_path, tmp_path / "home")
    assert res.returncode == 2
    assert f"error: {missing} is not a directory." in res.stderr.splitlines(), res.stderr


def test_a_config_problem_in_a_long_path_is_one_line(deep: Path) -> None:
    repo = Repo(deep / "repo")
    repo.write("app.py", CODE)
    repo.write(".fuse-ls.toml", "[quorum]\ndeadlin_s = 5\n")
    repo.commit("app")
    many = ",".join(f"v/m{i}" for i in range(17))  # stops the run once config is read
    res = piped(["review", "app.py:1-2", "--models", many], repo.root, deep / "home")
    config = [line for line in res.stderr.splitlines() if line.startswith("config:")]
    assert config and str(repo.root / ".fuse-ls.toml") in config[0], res.stderr


def test_a_git_error_naming_a_long_revision_is_one_line(deep: Path) -> None:
    repo = Repo(deep / "repo")
    repo.write("app.py", CODE)
    repo.commit("app")
    base = "no-such-branch-" * 8
    res = piped(["review", "--diff", base], repo.root, deep / "home")
    assert res.returncode == 2
    said = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(said) == 1 and base in said[0] and "fetch-depth: 0" in said[0], res.stderr


def test_a_change_reviews_lines_naming_a_long_path_are_whole_on_stdout(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("app.py", CODE)
    repo.commit("app")
    name = "assets/" + "a-generated-image-with-a-long-name-" * 3 + ".png"
    repo.write(name, b"\x89PNG\r\n\x1a\n\x00\x00binary")
    res = piped(["review", "--uncommitted"], repo.root, tmp_path / "home")
    assert res.returncode == 0, res.stderr
    skipped = [line for line in res.stdout.splitlines() if line.startswith("skipped ")]
    assert skipped == [f"skipped {name}: binary, empty or unreadable new file"], res.stdout


def test_the_fixes_notes_are_whole_lines_on_stdout(tmp_path: Path) -> None:
    from fuse_ls.emulator import Emulator

    repo = Repo(tmp_path / "repo")
    repo.write("app.py", "def load(raw):\n    return raw\n")
    repo.commit("app")
    repo.write("app.py", CODE)
    found = {"match": "eval(", "message": "eval", "severity": "error", "replace": "int("}
    with Emulator({"models": {**{m: {"findings": [found]} for m in POOL}, JUDGE: {}}}) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(GIT_ENV, FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE)
        env.pop("COLUMNS", None)
        res = run_cli(["review", "--uncommitted", "--fix"], env, repo.root)
    assert res.returncode == 0, res.stderr
    said = "not applied: --verify tries them together with verify.commands, --apply writes them"
    assert said in res.stdout.splitlines(), res.stdout


def test_on_a_terminal_the_run_progress_stays_one_redrawn_line() -> None:
    """stderr soft-wraps so that piped lines stay whole; on a terminal the live progress
    line must still be cut at the width and redrawn in place, never wrapped."""
    import io
    import re

    from rich.console import Console

    from fuse_ls.changes.output import RunProgress
    from fuse_ls.changes.progress import RunState

    # As fuse_ls.cli._console(stderr=True) makes it, on an 80-column terminal.
    file = io.StringIO()
    console = Console(
        file=file, force_terminal=True, width=80, highlight=False, soft_wrap=True, markup=False
    )
    progress = RunProgress(console)
    with progress:
        for done in range(4):
            progress(RunState(units=3, done=done, models=POOL, judge=JUDGE, stage="reviewing"))
            progress.live.refresh()
    raw = file.getvalue()
    frames = [f for f in re.split(r"\r|\x1b\[2K|\x1b\[\d*A|\x1b\[\?25[lh]", raw) if f.strip()]
    assert frames and all("\n" not in f.rstrip("\n") for f in frames), raw
    assert all(len(f.rstrip("\n")) <= 80 for f in frames), frames
    assert any("units 3/3" in f for f in frames)
