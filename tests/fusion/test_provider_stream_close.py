"""Every way out of reading an answer stream closes the stream's async generators.

A generator left suspended at a `yield` (the loop left by a raise) is only closed when the
garbage collector finds it, at an arbitrary later moment, possibly in another test or at
event-loop shutdown, where closing a whole chain of them at once failed now and then with
"asynchronous generator is already running". The error keeps the reading frame, and so
the generator, alive: without an explicit close the chain stays open for as long as the
caller holds the error.
"""

from __future__ import annotations

import asyncio
import sys
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import AsyncGeneratorType
from typing import Any

import pytest

from fuse_ls.config import RetrySettings, TimeoutSettings
from fuse_ls.core.errors import MalformedAnswer, ProviderTimeout, UpstreamError
from fuse_ls.core.types import ChatMessage, ChatRequest, Endpoint
from fuse_ls.emulator import Emulator
from fuse_ls.fusion.provider import ChatClient
from tests.loopback_http import LoopbackServer, QuietHandler

MODEL = "openai/gpt-5"
ONE_TRY = RetrySettings(max_attempts=1)
# The generators fuse_ls drives itself; httpx's own ones below them are closed by the
# event loop once nothing holds them any more.
OURS = {"aiter_sse", "_aiter_sse_lines"}


class Generators:
    """The async generators first iterated in this task's thread while recording."""

    def __init__(self) -> None:
        self.seen: weakref.WeakSet[AsyncGenerator[Any, Any]] = weakref.WeakSet()

    def open(self, names: set[str] | None = None) -> list[str]:
        return sorted(
            g.ag_code.co_qualname
            for g in self.seen
            if isinstance(g, AsyncGeneratorType)
            and g.ag_frame is not None
            and (names is None or g.ag_code.co_name in names)
        )

    async def until_closed(self, timeout_s: float = 5.0) -> list[str]:
        """Wait for the event loop's finalizer tasks; what is still open after `timeout_s`."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout_s
        # The finalizer tasks signal nothing, so the generators' state is polled.
        while self.open() and loop.time() < give_up:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        return self.open()


@asynccontextmanager
async def recording() -> AsyncIterator[Generators]:
    generators = Generators()
    hooks = sys.get_asyncgen_hooks()  # the running loop's: it must still track every one

    def firstiter(agen: AsyncGenerator[Any, Any]) -> None:
        generators.seen.add(agen)
        if hooks.firstiter is not None:
            hooks.firstiter(agen)

    sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=hooks.finalizer)
    try:
        yield generators
    finally:
        sys.set_asyncgen_hooks(firstiter=hooks.firstiter, finalizer=hooks.finalizer)


def chat(base_url: str) -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=(ChatMessage("user", "Review this code."),),
        endpoint=Endpoint(base_url=base_url),
        stream=True,
    )


async def closes_after(
    request: ChatRequest,
    error: type[BaseException],
    *,
    timeouts: TimeoutSettings | None = None,
    on_delta: Callable[[str], None] | None = None,
) -> None:
    async with (
        ChatClient(timeouts=timeouts or TimeoutSettings(), retries=ONE_TRY) as client,
        recording() as generators,
    ):
        with pytest.raises(error) as caught:
            await client.complete(request, on_delta=on_delta)
        # While the caller still holds the error (and with it the reading frame).
        assert generators.seen, "no stream was read"
        assert generators.open(OURS) == [], caught.value
        assert await generators.until_closed() == []


async def test_an_error_event_closes_the_stream(emulator: Emulator) -> None:
    emulator.set_script(
        {"models": {MODEL: {"ttft_ms": 0, "fault": {"kind": "error_event", "status": 502}}}}
    )
    await closes_after(chat(emulator.base_url), UpstreamError)
    assert await emulator.until(lambda: emulator.open_streams == 0, timeout_s=2)


async def test_a_failing_delta_callback_closes_the_stream(emulator: Emulator) -> None:
    emulator.set_script({"models": {MODEL: {"ttft_ms": 0}}})

    def on_delta(text: str) -> None:
        raise LookupError("the editor went away")

    await closes_after(chat(emulator.base_url), LookupError, on_delta=on_delta)
    assert await emulator.until(lambda: emulator.open_streams == 0, timeout_s=2)


async def test_the_request_deadline_closes_the_stream(emulator: Emulator) -> None:
    emulator.set_script({"models": {MODEL: {"ttft_ms": 0, "token_ms": 50}}})
    timeouts = TimeoutSettings(request_s=0.3, first_token_s=5.0)
    await closes_after(chat(emulator.base_url), ProviderTimeout, timeouts=timeouts)
    assert await emulator.until(lambda: emulator.open_streams == 0, timeout_s=2)


class _NotJsonEvent(QuietHandler):
    """A stream whose second event is not JSON, then more events that are never read."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        good = b'data: {"choices": [{"delta": {"content": "a"}}]}\n\n'
        self.wfile.write(good + b"data: {not json\n\n" + good * 50)
        self.wfile.flush()


async def test_a_malformed_event_closes_the_stream() -> None:
    with LoopbackServer(_NotJsonEvent) as server:
        await closes_after(chat(server.url), MalformedAnswer)


async def test_cancelling_the_call_closes_the_stream(emulator: Emulator) -> None:
    emulator.set_script({"models": {MODEL: {"ttft_ms": 0, "token_ms": 50}}})
    first = asyncio.Event()
    async with ChatClient(timeouts=TimeoutSettings(), retries=ONE_TRY) as client, recording() as g:
        call = asyncio.create_task(
            client.complete(chat(emulator.base_url), on_first_token=first.set)
        )
        await asyncio.wait_for(first.wait(), 5)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert g.seen and g.open(OURS) == []
        assert await g.until_closed() == []
    assert await emulator.until(lambda: emulator.open_streams == 0, timeout_s=2)
