"""The API key must never show up in errors, responses, reprs, tracebacks or logs."""

from __future__ import annotations

import logging
import traceback
from typing import Any

import pytest

from fuse_ls.config import RetrySettings, TimeoutSettings
from fuse_ls.core.errors import ProviderError
from fuse_ls.core.types import ChatMessage, ChatRequest, Endpoint
from fuse_ls.emulator import Emulator
from fuse_ls.fusion.pricing import PriceBook
from fuse_ls.fusion.provider import ChatClient

KEY = "sk-or-v1-FAKE-0123456789abcdef-DO-NOT-LEAK"
ENV = "FUSE_LS_TEST_SECRET_KEY"
MODEL = "openai/gpt-5"

FAULTS: list[dict[str, Any]] = [
    *(
        {"kind": "http", "status": status, "message": f"Invalid key {KEY} (echoed)"}
        for status in (400, 401, 402, 403, 408, 429, 500, 502, 503)
    ),
    {"kind": "error_event", "status": 502, "message": f"upstream said {KEY}"},
    {"kind": "cut"},
    {"kind": "empty"},
    {"kind": "hang"},
]


def _texts(value: object) -> list[str]:
    texts = [str(value), repr(value)]
    if isinstance(value, BaseException):
        texts.append("".join(traceback.format_exception(value)))
        texts.extend(repr(a) for a in value.args)
        texts.append(repr(vars(value)))
    return texts


async def test_key_never_leaks(
    emulator_factory: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx/httpcore debug logs included
    monkeypatch.setenv(ENV, KEY)
    emulator: Emulator = emulator_factory(require_key=KEY)
    endpoint = Endpoint(base_url=emulator.base_url, api_key_env=ENV)
    timeouts = TimeoutSettings(connect_s=1.0, request_s=0.5, first_token_s=0.3)
    seen: list[object] = []
    client = ChatClient(
        timeouts=timeouts,
        retries=RetrySettings(max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.01),
        prices=PriceBook(),
    )
    seen.append(client)
    async with client:
        ok = await client.complete(ChatRequest(MODEL, (ChatMessage("user", "hi"),), endpoint))
        seen.extend([ok, ok.usage])
        for stream in (True, False):
            for fault in FAULTS:
                emulator.set_script({"models": {MODEL: {"ttft_ms": 0, "fault": fault}}})
                request = ChatRequest(MODEL, (ChatMessage("user", "hi"),), endpoint, stream=stream)
                with pytest.raises(ProviderError) as caught:
                    await client.complete(request)
                seen.append(caught.value)
        seen.append(await client.list_models(endpoint))
    # Nothing listening any more: connection errors carry httpx exceptions underneath.
    emulator.stop()
    async with ChatClient(timeouts=timeouts, retries=RetrySettings(max_attempts=1)) as gone:
        with pytest.raises(ProviderError) as caught:
            await gone.complete(ChatRequest(MODEL, (ChatMessage("user", "hi"),), endpoint))
        seen.append(caught.value)
        with pytest.raises(ProviderError) as caught:
            await gone.list_models(endpoint)
        seen.append(caught.value)

    kinds = {type(e).__name__ for e in seen if isinstance(e, ProviderError)}
    assert kinds >= {
        "BadRequestError",
        "AuthError",
        "CreditsError",
        "ModerationError",
        "ProviderTimeout",
        "RateLimited",
        "UpstreamError",
        "MalformedAnswer",
        "ConnectionFailed",
    }
    # The echoed message still reached the user, with the key cut out.
    assert any("Invalid key [redacted]" in str(e) for e in seen)
    for value in seen:
        for text in _texts(value):
            assert KEY not in text
    assert "HTTP Request" in caplog.text  # httpx's own logging was captured too
    assert KEY not in caplog.text
    assert all(KEY not in str(r.__dict__) for r in caplog.records)
    assert all(KEY not in repr(r) for r in emulator.requests)
