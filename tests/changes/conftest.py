from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.changes.gitrepo import GIT_ENV, Repo


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


@pytest.fixture(autouse=True)
def _git_identity() -> Iterator[None]:
    # read_changes runs git itself; keep the user's global config out of it.
    saved = {k: os.environ.get(k) for k in GIT_ENV}
    os.environ.update(GIT_ENV)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
