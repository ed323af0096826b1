"""The checks of a verified fix are the user's commands, but they run the workspace's code:
`python -m pytest` imports its conftest.py, `npm test` runs its scripts. The language
server runs them by itself on every fused fix, so in a workspace the user has not trusted
(VS Code's restricted mode, Neovim without `trusted`), opening a fix ran the repository's
code. There the server now drops the checks and says why; trusted, they run as before.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from tests.changes.gitrepo import GIT_ENV, Repo
from tests.server.conftest import JUDGE, init_options, start_session

CALC = "def add(a, b):\n    return a - b\n"
SELECTION = types.Range(
    start=types.Position(line=1, character=0), end=types.Position(line=2, character=0)
)
CHECK = f"{sys.executable} -m pytest -q -p no:cacheprovider"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    yield


def hostile_repo(tmp_path: Path, mark: Path) -> Repo:
    """A repository whose conftest.py leaves a mark outside the copy when it is imported."""
    repo = Repo(tmp_path / "ws")
    repo.write("calc.py", CALC)
    repo.write("conftest.py", f"open({str(mark)!r}, 'w').write('ran')\n")
    repo.write("test_calc.py", "import calc\n\ndef test_add():\n    assert calc.add(2, 3) == 5\n")
    repo.commit("calc")
    return repo


async def fix_in(
    emulator_factory: Any, tmp_path: Path, trusted: bool
) -> tuple[dict[str, Any], list[str], Path]:
    mark = tmp_path / "conftest-ran"
    hostile_repo(tmp_path, mark)
    pool = ["emu/fast", "emu/mid", "emu/slow"]
    rule = {"find": "a - b", "replace": "a + b"}
    emu = emulator_factory({"models": {**{m: {"fix": rule} for m in pool}, JUDGE: {}}})
    options = init_options(verify={"commands": [CHECK]}, workspaceTrusted=trusted)
    lsp, stop = await start_session("visual-studio-code", emu, tmp_path, options)
    try:
        uri = lsp.open("calc.py", CALC)
        result = await lsp.execute("fuse-ls.fix", {"uri": uri, "range": SELECTION})
        return dict(result), lsp.messages(types.MessageType.Warning), mark
    finally:
        await stop()


async def test_an_untrusted_workspace_runs_no_checks(emulator_factory: Any, tmp_path: Path) -> None:
    result, warnings, mark = await fix_in(emulator_factory, tmp_path, trusted=False)
    assert not mark.exists(), "the untrusted repository's conftest.py ran"
    assert not result.get("checks")
    assert any("not trusted" in w and "verify.commands" in w for w in warnings), warnings


async def test_a_trusted_workspace_runs_its_checks(emulator_factory: Any, tmp_path: Path) -> None:
    result, warnings, mark = await fix_in(emulator_factory, tmp_path, trusted=True)
    assert result["checks"]["passed"] is True, result["checks"]
    assert mark.read_text() == "ran"  # what trusting the workspace allows
    assert not any("not trusted" in w for w in warnings), warnings
