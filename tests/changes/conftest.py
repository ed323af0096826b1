from __future__ import annotations

from pathlib import Path

import pytest

from tests.changes.gitrepo import GIT_ENV, Repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


@pytest.fixture(autouse=True)
def _git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    # read_changes runs git itself; keep the user's global config out of it.
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
