"""Streamed answers keep their connection for the next call (real HTTP, the emulator)."""

from __future__ import annotations

from typing import Any

import httpx

from fuse_ls.config import RetrySettings, TimeoutSettings
from fuse_ls.core.types import ChatMessage, ChatRequest, Endpoint
from fuse_ls.emulator import Emulator
from fuse_ls.fusion.provider import ChatClient


async def test_a_streamed_answer_leaves_its_connection_open_for_the_next_call() -> None:
    """Reading a stream only up to [DONE] left the body's end unread, so httpx closed
    the connection and every call paid a new connect (a TLS handshake on real
    endpoints)."""
    connects = 0

    async def trace(event: str, _info: dict[str, Any]) -> None:
        nonlocal connects
        connects += event == "connection.connect_tcp.complete"

    async def add_trace(request: httpx.Request) -> None:
        request.extensions["trace"] = trace

    with Emulator() as emu:
        emu.set_script({"models": {"m/a": {"ttft_ms": 1}}})
        request = ChatRequest("m/a", (ChatMessage("user", "hi"),), Endpoint(emu.base_url))
        http = httpx.AsyncClient(event_hooks={"request": [add_trace]})
        async with ChatClient(
            timeouts=TimeoutSettings(), retries=RetrySettings(), http=http
        ) as client:
            for _ in range(3):
                assert (await client.complete(request)).text
        await http.aclose()
        assert len([r for r in emu.requests if r.path.endswith("/chat/completions")]) == 3
    assert connects == 1
