"""The editor's review of a file (`fuse-ls.review`) hides what `fuse-ls review FILE` hides
for the same answers: findings on `# fuse-ls: ignore[...]` lines and findings the user
dismissed, with the same fingerprints and the same `hidden` counts. It showed both, so a
finding dismissed in the terminal came back in the editor."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.lsp_sample import JUDGE, POOL
from tests.pool_sample import run_cli
from tests.server.conftest import (
    Session,
    plain,
    server_env,
    start_session,
    wait_for,
)

CODE = """\
def load(user_input, rows=[]):
    value = eval(user_input)
    try:
        rows.append(value)
    except:  # fuse-ls: ignore[errors]
        pass
    return rows
"""
FINDINGS = [
    {"match": "eval(", "category": "security", "severity": "error", "message": "eval of input"},
    {"match": "except:", "category": "errors", "severity": "warning", "message": "bare except"},
    {"match": "rows=[]", "category": "bugs", "severity": "warning", "message": "shared default"},
]
SCRIPT = {"models": {**{m: {"findings": FINDINGS} for m in POOL}, JUDGE: {}}}


def cli(emu: Emulator, home: Path, repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`fuse-ls` in the repository, on the server's data dir (the same dismissals)."""
    env = {**server_env(emu, home), **GIT_ENV}
    env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="200")
    return run_cli(list(args), env, repo, timeout=120)


async def cli_review(emu: Emulator, home: Path, repo: Path) -> dict[str, Any]:
    done = await asyncio.to_thread(cli, emu, home, repo, "review", "src/app.py", "--json")
    assert done.returncode in (0, 1), done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def shown(data: dict[str, Any]) -> dict[str, str]:
    """category -> fingerprint of the findings shown."""
    return {f["category"]: f["fingerprint"] for f in data["findings"]}


async def editor_review(lsp: Session, uri: str) -> dict[str, Any]:
    result: dict[str, Any] = await lsp.execute("fuse-ls.review", {"uri": uri})
    codes = {d.code for d in lsp.diagnostics(uri)}
    assert codes == {f["category"] for f in result["findings"]}  # published as answered
    return result


@pytest.mark.parametrize("profile", ["visual-studio-code", "neovim"])
async def test_the_editor_hides_what_the_cli_hides_for_one_file(
    emulator_factory: Callable[..., Emulator],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    profile: str,
) -> None:
    for key, value in GIT_ENV.items():  # git identity for the server's git
        monkeypatch.setenv(key, value)
    emu = emulator_factory(SCRIPT)
    lsp, stop = await start_session(profile, emu, tmp_path)
    try:
        repo = Repo(lsp.workspace)
        repo.write("src/app.py", CODE)
        repo.commit("app")
        uri = lsp.open("src/app.py", CODE)

        # The ignore comment hides `except:` in both; the fingerprints are the same.
        terminal = await cli_review(emu, tmp_path, repo.root)
        editor = await editor_review(lsp, uri)
        assert set(shown(terminal)) == {"security", "bugs"}
        assert shown(editor) == shown(terminal)
        assert editor["hidden"] == terminal["hidden"] == {"suppressed": 1}
        assert "not shown: 1 suppressed" in editor["notes"]

        # Dismissed in the terminal: hidden in the editor too.
        security = shown(terminal)["security"]
        done = await asyncio.to_thread(cli, emu, tmp_path, repo.root, "dismiss", security)
        assert done.returncode == 0, done.stderr
        terminal = await cli_review(emu, tmp_path, repo.root)
        editor = await editor_review(lsp, uri)
        assert set(shown(editor)) == set(shown(terminal)) == {"bugs"}
        assert editor["hidden"] == terminal["hidden"] == {"suppressed": 1, "dismissed": 1}
        assert "not shown: 1 suppressed, 1 dismissed" in editor["notes"]
        lines = {d.range.start.line for d in lsp.diagnostics(uri)}
        assert lines == {0}  # neither eval() (line 1) nor except: (line 4) is marked

        # Dismissed in the editor: hidden in the terminal, as a change review's would be.
        (bugs,) = editor["findings"]
        await lsp.execute(
            "fuse-ls.findingDecision",
            {"uri": uri, "findingId": bugs["findingId"], "decision": "dismissed"},
        )
        terminal = await cli_review(emu, tmp_path, repo.root)
        assert terminal["findings"] == []
        assert terminal["hidden"] == {"suppressed": 1, "dismissed": 2}
        editor = await editor_review(lsp, uri)
        assert editor["findings"] == [] and lsp.diagnostics(uri) == []
        assert editor["hidden"] == terminal["hidden"]
    finally:
        await stop()


async def test_a_buffer_with_no_file_still_honours_ignore_comments(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    """An untitled buffer has no repository (nothing dismissed, no fingerprint), but its
    ignore comments are the user's words in the text the models saw; the provisional
    diagnostics shown while the judge works hide them too."""
    emu = emulator_factory(SCRIPT)
    # The judge is held until the provisional diagnostics are seen: ordered by state, not
    # by a judge latency a loaded machine can outlast (CI once missed a 1.5 s window).
    emu.hold(JUDGE)
    lsp, stop = await start_session("visual-studio-code", emu, tmp_path)
    try:
        uri = "untitled:Untitled-1"
        lsp.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=CODE
                )
            )
        )
        running = lsp.execute_async("fuse-ls.review", {"uri": uri})

        def provisional() -> set[str]:
            return {str(d.code) for d in lsp.diagnostics(uri) if "so far" in d.message}

        # All three answered, the judge has not: what they agree on so far is shown.
        assert await wait_for(provisional, what="provisional diagnostics") == {"security", "bugs"}
        assert not running.done()
        emu.release()
        editor = plain(await asyncio.wait_for(running, 15))
        assert {str(d.code) for d in lsp.diagnostics(uri)} == {"security", "bugs"}
        assert {f["category"] for f in editor["findings"]} == {"security", "bugs"}
        assert all("fingerprint" not in f for f in editor["findings"])
        assert editor["hidden"] == {"suppressed": 1}
    finally:
        await stop()
