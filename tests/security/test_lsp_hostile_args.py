"""Arguments no editor UI would send, straight over JSON-RPC: each is answered with an
error that says what is wrong (never an internal error with a traceback), and the server
keeps serving."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.server.conftest import server_env
from tests.server.test_protocol_edges import RawClient

EC = "workspace/executeCommand"


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[RawClient]:
    repo = Repo(tmp_path / "ws")
    repo.commit("empty")
    with Emulator({"models": {}}) as emu:
        env = {**server_env(emu, tmp_path / "home"), **GIT_ENV}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "fuse_ls",
            "serve",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=env,
        )
        raw = RawClient(process)
        raw.emulator = emu  # type: ignore[attr-defined]
        try:
            params = {"capabilities": {}, "rootUri": repo.root.as_uri()}
            assert "result" in await raw.request("initialize", params, "init")
            raw.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
            yield raw
        finally:
            process.kill()
            await process.wait()


async def _changes(client: RawClient, arg: dict[str, Any], msg_id: str) -> dict[str, Any]:
    params = {"command": "fuse-ls.reviewChanges", "arguments": [arg]}
    return await client.request(EC, params, msg_id)


async def _alive(client: RawClient) -> None:
    stats = await client.request(EC, {"command": "fuse-ls.stats", "arguments": []}, "alive")
    assert "result" in stats


async def test_a_base_holding_nul_is_a_git_error_not_an_internal_one(client: RawClient) -> None:
    reply = await _changes(client, {"scope": "diff", "base": "main\u0000--output=x"}, "nul")
    assert "NUL" in reply["result"]["error"], reply
    await _alive(client)


async def test_a_path_holding_nul_is_invalid_params(client: RawClient) -> None:
    reply = await _changes(client, {"paths": ["src\u0000"]}, "nul-path")
    assert reply.get("error", {}).get("code") == -32602, reply
    await _alive(client)


async def test_an_untitled_buffer_is_not_placed_in_the_servers_folder(client: RawClient) -> None:
    """`untitled:` and notebook-cell documents have no folder. The server's working
    directory is not theirs: its path must not reach the prompt, nor its sidecars."""
    uri = "untitled:Untitled-1"
    document = {"uri": uri, "languageId": "python", "version": 1, "text": "x = eval(input())\n"}
    client.send(
        {
            "jsonrpc": "2.0",
            "method": "textDocument/didOpen",
            "params": {"textDocument": document},
        }
    )
    params = {"command": "fuse-ls.review", "arguments": [{"uri": uri}]}
    reply = await client.request(EC, params, "untitled")
    assert "findings" in reply["result"], reply
    bodies = json.dumps([r.body for r in client.emulator.requests])  # type: ignore[attr-defined]
    assert "Untitled-1" in bodies
    assert str(Path.cwd()) not in bodies and "~/" not in bodies
