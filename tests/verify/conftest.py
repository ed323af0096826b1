from __future__ import annotations

from pathlib import Path

import pytest

from tests.changes.gitrepo import GIT_ENV, Repo
from tests.verify.verify_sample import CALC


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
