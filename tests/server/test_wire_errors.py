"""A bad command argument is answered with -32602 and a message that names the field as
the editor sent it (`requestKey`, `findingId`), says what was wrong in words, and runs
no model."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pygls.exceptions import JsonRpcException

from fuse_ls.emulator import Emulator
from tests.server.conftest import Session, start_session

POSITION = {"line": 0, "character": 0}


BAD = [
    ("fuse-ls.fix", {"requestKey": 5}, "expected a string, got 5 @ argument.requestKey"),
    ("fuse-ls.fix", {"requestKey": ""}, "'requestKey' must be 1 to 128 characters"),
    ("fuse-ls.fix", {"range": 5}, "expected an object {start, end}, got 5 @ argument.range"),
    (
        "fuse-ls.fix",
        {"range": {"start": [0, 0], "end": POSITION}},
        "expected an object {line, character}, got [0, 0] @ argument.range.start",
    ),
    ("fuse-ls.review", {"mode": "vote"}, "must be one of best-of, merge, debate @ argument.mode"),
    (
        "fuse-ls.verifyFinding",
        {"apply": True, "requestKey": 7},
        "required field missing @ argument.findingId; "
        "expected a string, got 7 @ argument.requestKey",
    ),
    (
        "fuse-ls.findingDecision",
        {"findingId": "f1-1", "decision": "maybe"},
        "must be one of applied, dismissed @ argument.decision",
    ),
]


async def _error(lsp: Session, command: str, argument: Any) -> JsonRpcException:
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(lsp.execute_async(command, argument), 5)
    return error.value


async def test_a_bad_argument_names_its_wire_field(emu: Emulator, tmp_path: Path) -> None:
    # One server for every case: the point is the message, the same for every client.
    lsp, stop = await start_session("visual-studio-code", emu, tmp_path)
    try:
        uri = lsp.open()
        for command, argument, says in BAD:
            error = await _error(lsp, command, {"uri": uri, **argument})
            assert error.code == -32602, (command, argument)
            assert says in str(error), (command, argument)
            # The Python attribute names never reach the editor.
            assert "request_key" not in str(error) and "finding_id" not in str(error)
        error = await _error(lsp, "fuse-ls.fix", "app.py")
        assert error.code == -32602
        assert "expected one argument object {uri, range, mode, requestKey}" in str(error)
        assert lsp.emulator.requests == []
        assert await lsp.execute("fuse-ls.stats") == {"fusions": 0, "costUsd": 0, "models": {}}
    finally:
        await stop()
