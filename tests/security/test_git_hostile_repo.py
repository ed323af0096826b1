"""A repository from a tarball brings its own `.git/config`, and git runs the programs it
names (fsmonitor, filter drivers, hooks). Reviewing or verifying a change in it must not
run any of them; the change is still read exactly."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fuse_ls.changes.git import read_changes
from fuse_ls.core.gitsafe import filter_drivers
from fuse_ls.verify.sandbox import open_sandbox
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.security.counts import record


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


def _program(marker: Path, then: str = "cat") -> str:
    """A shell command that leaves `marker` behind when git runs it."""
    return f"sh -c 'echo ran >> {marker}; {then}'"


def _hostile(root: Path, marker: Path) -> Repo:
    """A repository whose every configured program leaves `marker`: fsmonitor, clean,
    smudge and process filters (one named with `=` and a dot, one set through an
    include), hooks. `staged.py` has a staged change."""
    repo = Repo(root)
    repo.write(".gitattributes", "*.py filter=evil\n*.txt filter=a=b.c\n*.md filter=inc\n")
    repo.write("app.py", "def f():\n    return 1\n")
    repo.write("staged.py", "s = 1\n")
    repo.write("notes.txt", "one\n")
    repo.write("doc.md", "# doc\n")
    repo.commit("base")
    repo.write("staged.py", "s = 2\n")
    repo.git("add", "staged.py")
    repo.git("config", "core.fsmonitor", _program(marker, "false"))
    for driver in ("evil", "a=b.c"):
        repo.git("config", f"filter.{driver}.clean", _program(marker))
        repo.git("config", f"filter.{driver}.smudge", _program(marker))
        repo.git("config", f"filter.{driver}.required", "true")
    repo.git("config", "filter.evil.process", _program(marker))
    included = root.parent / "included.cfg"
    included.write_text(f'[filter "inc"]\n\tclean = {_program(marker)}\n')
    repo.git("config", "include.path", str(included))
    hooks = root / ".git" / "hooks"
    for hook in ("post-checkout", "reference-transaction", "pre-commit"):
        (hooks / hook).write_text(f"#!/bin/sh\necho ran >> {marker}\n")
        (hooks / hook).chmod(0o755)
    return repo


def test_reading_a_change_runs_none_of_the_repositorys_programs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    repo = _hostile(tmp_path / "repo", marker)
    assert filter_drivers("git", repo.root, dict(os.environ)) == ["evil", "a=b.c", "inc"]
    repo.write("app.py", "def f():\n    return 2\n")
    repo.write("notes.txt", "two\n")
    repo.write("doc.md", "# docs\n")
    (repo.root / "app.py").touch()  # stat differs from the index: git must hash the file

    for scope in ("uncommitted", "diff"):
        files = {f.path: f for f in read_changes(repo.root, scope, base="HEAD").files}
        assert files["app.py"].changed == {2}, scope
        assert files["app.py"].text == "def f():\n    return 2\n"
        assert files["notes.txt"].changed == {1}
        assert files["doc.md"].changed == {1}
    staged = read_changes(repo.root, "staged").files
    assert [(f.path, f.text) for f in staged] == [("staged.py", "s = 2\n")]
    assert not marker.exists(), marker.read_text()
    record("hostile git config programs not run", 3)


def test_a_dirty_submodule_is_not_looked_into(tmp_path: Path) -> None:
    """git asks a submodule's own working tree whether it is dirty, with the
    submodule's configuration: its filter drivers are not ours to run either."""
    marker = tmp_path / "ran"
    sub = Repo(tmp_path / "sub")
    sub.write(".gitattributes", "*.py filter=evil\n")
    sub.write("s.py", "x = 1\n")
    sub.commit("s1")
    repo = Repo(tmp_path / "repo")
    repo.write("a.py", "a = 1\n")
    repo.commit("base")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.root), "sub")
    repo.commit("add submodule")
    inner = Repo.__new__(Repo)
    inner.root = repo.root / "sub"
    inner.git("config", "filter.evil.clean", _program(marker))
    (repo.root / "sub" / "s.py").write_text("x = 2\n")
    repo.write("a.py", "a = 2\n")

    files = {f.path: f for f in read_changes(repo.root, "uncommitted").files}
    assert files["a.py"].changed == {1}
    assert not marker.exists()


async def test_a_verify_sandbox_runs_none_of_the_repositorys_programs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    repo = _hostile(tmp_path / "repo", marker)
    repo.write("app.py", "def f():\n    return 3\n")
    sandboxes = tmp_path / "sandboxes"
    sandboxes.mkdir()
    sandbox = await open_sandbox(repo.root, sandboxes)
    try:
        # Checked out and replayed without the smudge filter: the bytes as committed.
        assert (sandbox.workspace / "app.py").read_text() == "def f():\n    return 3\n"
        assert (sandbox.workspace / "notes.txt").read_text() == "one\n"
    finally:
        await sandbox.close()
    assert not marker.exists(), marker.read_text()


def test_the_users_own_filters_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git-lfs installs its filter in the user's global config: that one is the user's."""
    user_config = tmp_path / "gitconfig"
    user_config.write_text('[filter "lfs"]\n\tclean = git-lfs clean -- %f\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(user_config))
    repo = Repo(tmp_path / "repo")
    repo.git("config", "filter.mine.smudge", "cat")
    assert filter_drivers("git", repo.root, dict(os.environ)) == ["mine"]
