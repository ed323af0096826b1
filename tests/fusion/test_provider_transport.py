"""ChatClient on an injected httpx client: transport failures and odd servers."""

from __future__ import annotations

import email.utils
import json
import time

import httpx
import pytest

from fuse_ls.config import RetrySettings, TimeoutSettings
from fuse_ls.core.errors import ConnectionFailed, MalformedAnswer, ProviderTimeout, RateLimited
from fuse_ls.core.types import ChatMessage, ChatRequest, Endpoint
from fuse_ls.fusion.provider import ChatClient
from fuse_ls.fusion.transport import ShardedTransport

RETRIES = RetrySettings(max_attempts=3, backoff_base_s=0.001, backoff_max_s=0.002)
REQUEST = ChatRequest(
    "local/model",
    (ChatMessage("user", "hi"),),
    Endpoint(base_url="http://localhost:11434/v1"),
    stream=False,
)


def client_for(handler: httpx.MockTransport) -> ChatClient:
    return ChatClient(
        timeouts=TimeoutSettings(request_s=5.0),
        retries=RETRIES,
        http=httpx.AsyncClient(transport=handler),
    )


def answer(text: str) -> httpx.Response:
    return httpx.Response(
        200,
        json={"model": "local/model", "choices": [{"message": {"content": text}}]},
    )


async def test_connect_timeout_is_retried_then_provider_timeout() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectTimeout("timed out", request=request)

    async with client_for(httpx.MockTransport(handler)) as client:
        with pytest.raises(ProviderTimeout, match="connect"):
            await client.complete(REQUEST)
    assert calls == RETRIES.max_attempts


async def test_transient_connection_error_then_success() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise httpx.ConnectError("refused", request=request)
        return answer("fine")

    async with client_for(httpx.MockTransport(handler)) as client:
        response = await client.complete(REQUEST)
    assert response.text == "fine" and calls == 2
    assert response.usage.cost_usd is None  # no usage reported, no price book


async def test_retry_after_as_http_date() -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": when}, json={"error": {}})

    async with ChatClient(
        timeouts=TimeoutSettings(request_s=1.0),
        retries=RETRIES,
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    ) as client:
        with pytest.raises(RateLimited) as caught:
            await client.complete(REQUEST)
    assert caught.value.retry_after_s is not None and 100 < caught.value.retry_after_s <= 120


async def test_non_json_and_html_error_pages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "chat" in request.url.path and json.loads(request.content)["model"] == "a/html":
            return httpx.Response(502, text="<html>" + "x" * 5000 + "</html>")
        return httpx.Response(200, text="<html>not an API</html>")

    async with client_for(httpx.MockTransport(handler)) as client:
        with pytest.raises(MalformedAnswer, match="not JSON"):
            await client.complete(REQUEST)
        html = ChatRequest("a/html", REQUEST.messages, REQUEST.endpoint, stream=False)
        with pytest.raises(Exception) as caught:
            await client.complete(html)
        assert len(str(caught.value)) < 400
        with pytest.raises(MalformedAnswer, match="/models"):
            await client.list_models(REQUEST.endpoint)


async def test_models_connection_failure_is_typed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with client_for(httpx.MockTransport(handler)) as client:
        with pytest.raises(ConnectionFailed):
            await client.list_models(REQUEST.endpoint)


async def test_injected_client_is_not_closed_but_own_one_is() -> None:
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: answer("x")))
    async with ChatClient(timeouts=TimeoutSettings(), retries=RETRIES, http=http):
        pass
    assert not http.is_closed
    await http.aclose()
    own = ChatClient(timeouts=TimeoutSettings(), retries=RETRIES)
    assert isinstance(own._http._transport, ShardedTransport)
    await own.aclose()
    assert own._http.is_closed
