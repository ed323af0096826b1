from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from tests.changes.gitrepo import GIT_ENV, Repo

CALC = "def add(a, b):\n    return a - b\n"
# The project's own check: tiny and fast, and it fails on the bug above.
CHECK = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
    "import calc; r = calc.add(2, 3); print('add(2, 3) =', r); assert r == 5, r"
)


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def sandboxes(tmp_path: Path) -> Path:
    """Where the isolated copies go in a test, so a test can see none is left."""
    parent = tmp_path / "sandboxes"
    parent.mkdir()
    return parent


@pytest.fixture
def project(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "project")
    repo.write("calc.py", CALC)
    repo.write(".gitignore", "build/\n")
    repo.commit("calc")
    return repo


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a work tree (outside .git) and its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }
