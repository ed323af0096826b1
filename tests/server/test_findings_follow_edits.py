"""Findings stay on their code while the user edits during and between reviews."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.server.conftest import Session, start_session, wait_for

A_BASE = "import json\n\n\ndef load(text):\n    return json.loads(text)\n"
A_NEW = "import json\n\n\ndef load(text):\n    value = eval(text)\n    return value\n"
B_BASE = "def save(path):\n    return path\n"
B_NEW = "def save(path):\n    return eval(path)\n"


@pytest_asyncio.fixture
async def repo_session(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Session, Repo]]:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    s, stop = await start_session("neovim", emu, tmp_path)
    repo = Repo.__new__(Repo)
    repo.root = s.workspace
    repo.git("init", "-q", "-b", "main")
    repo.write("a.py", A_BASE)
    repo.write("b.py", B_BASE)
    repo.commit("base")
    repo.write("a.py", A_NEW)
    repo.write("b.py", B_NEW)
    try:
        yield s, repo
    finally:
        await stop()


def lines(s: Session, uri: str, code: str = "security") -> list[int]:
    return sorted(d.range.start.line for d in s.diagnostics(uri) if d.code == code)


def provisional(s: Session, uri: str) -> list[types.Diagnostic]:
    return [d for d in s.diagnostics(uri) if d.data and d.data.get("provisional")]


async def test_a_change_review_lands_on_code_moved_while_it_ran(
    repo_session: tuple[Session, Repo],
) -> None:
    """Lines inserted above the change while its models think: the findings the review
    publishes afterwards (provisional and fused) are on the moved code, in both files."""
    s, repo = repo_session
    a_uri = s.open("a.py", A_NEW)
    b_uri = s.open("b.py", B_NEW)
    s.emulator.hold("emu/mid", "emu/slow")
    running = s.execute_async("fuse-ls.reviewChanges", {"paths": ["a.py", "b.py"]})
    await wait_for(lambda: provisional(s, a_uri) and provisional(s, b_uri), what="provisional")
    s.edit(a_uri, (0, 0), (0, 0), "# one\n# two\n")  # eval(text): line 4 -> 6
    s.edit(b_uri, (0, 0), (0, 0), "import os\n")  # eval(path): line 1 -> 2
    await wait_for(lambda: lines(s, a_uri) == [6] and lines(s, b_uri) == [2], what="moved")
    s.emulator.release()
    result = await asyncio.wait_for(running, 15)
    assert result["units"] == 2
    assert lines(s, a_uri) == [6] and lines(s, b_uri) == [2]
    assert not provisional(s, a_uri) and not provisional(s, b_uri)
    by_uri = {f["uri"]: f["range"]["start"]["line"] for f in result["findings"]}
    assert by_uri == {a_uri: 6, b_uri: 2}
    # And they keep following the user's edits afterwards.
    s.edit(a_uri, (0, 0), (0, 0), "# three\n")
    await wait_for(lambda: lines(s, a_uri) == [7], what="moved again")
