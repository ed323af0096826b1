"""ChatClient against the emulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from fuse_ls.config import RetrySettings, TimeoutSettings
from fuse_ls.core.errors import (
    AuthError,
    BadRequestError,
    ConnectionFailed,
    CreditsError,
    MalformedAnswer,
    ModerationError,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    UpstreamError,
)
from fuse_ls.core.types import ChatMessage, ChatRequest, Endpoint, JsonSchema
from fuse_ls.emulator import Emulator
from fuse_ls.fusion.jsonparse import parse_json_object
from fuse_ls.fusion.pricing import PriceBook
from fuse_ls.fusion.provider import ChatClient, parse_usage, speaks_openrouter

MODEL = "openai/gpt-5"
CODE = (
    '<code path="src/app.py" language="python" start_line="10" end_line="12">\n'
    "10| def load(raw, seen=[]):\n"
    "11|     return eval(raw)\n"
    "12| \n"
    "</code>"
)
FAST = TimeoutSettings(connect_s=2.0, request_s=10.0, first_token_s=5.0)
QUICK_RETRIES = RetrySettings(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.02)


def chat(
    emulator: Emulator,
    *,
    model: str = MODEL,
    schema: str | None = None,
    stream: bool = True,
    api_key_env: str | None = None,
) -> ChatRequest:
    return ChatRequest(
        model=model,
        messages=(
            ChatMessage("system", "You review code."),
            ChatMessage("user", "Review this code.\n" + CODE),
        ),
        endpoint=Endpoint(base_url=emulator.base_url, api_key_env=api_key_env),
        json_schema=JsonSchema(schema, {"type": "object"}) if schema else None,
        stream=stream,
    )


def client(**kwargs: Any) -> ChatClient:
    kwargs.setdefault("timeouts", FAST)
    kwargs.setdefault("retries", QUICK_RETRIES)
    return ChatClient(**kwargs)


def faulty(model: str = MODEL, **fault: Any) -> dict[str, Any]:
    return {"models": {model: {"ttft_ms": 0, "fault": fault}}}


# --- happy paths ----------------------------------------------------------------------


async def test_streaming_answer_with_usage_and_callbacks(emulator: Emulator) -> None:
    emulator.set_script({"models": {MODEL: {"cached_tokens": 5, "reasoning_tokens": 7}}})
    deltas: list[str] = []
    firsts: list[bool] = []
    async with client() as c:
        response = await c.complete(
            chat(emulator, schema="review_findings"),
            on_delta=deltas.append,
            on_first_token=lambda: firsts.append(True),
        )
    findings = parse_json_object(response.text)["findings"]
    assert {f["start_line"] for f in findings} == {10, 11}
    assert "".join(deltas) == response.text and len(deltas) > 1
    assert firsts == [True]
    assert response.model == MODEL
    assert response.finish_reason == "stop"
    assert response.generation_id and response.generation_id.startswith("gen-emu-")
    assert response.ttft_s is not None and 0 <= response.ttft_s <= response.latency_s
    usage = response.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 7
    assert usage.cached_tokens == 5 and usage.reasoning_tokens == 7
    assert usage.cost_usd is not None and usage.cost_usd > 0
    record = emulator.requests[-1]
    assert record.stream and record.schema == "review_findings"


async def test_request_body_and_headers(emulator: Emulator, monkeypatch: Any) -> None:
    monkeypatch.setenv("FUSE_TEST_KEY", "k-123")
    request = chat(emulator, schema="review_findings", api_key_env="FUSE_TEST_KEY")
    request = ChatRequest(
        model=request.model,
        messages=request.messages,
        endpoint=Endpoint(
            base_url=emulator.base_url, api_key_env="FUSE_TEST_KEY", headers={"X-Title": "t"}
        ),
        json_schema=request.json_schema,
        max_tokens=300,
        temperature=0.2,
    )
    async with client() as c:
        await c.complete(request)
    record = emulator.requests[-1]
    body = record.body
    assert body["usage"] == {"include": True}
    assert body["provider"] == {"data_collection": "deny"}
    assert body["max_tokens"] == 300 and body["temperature"] == 0.2
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "review_findings", "strict": True, "schema": {"type": "object"}},
    }
    assert record.headers["authorization"] == "[redacted]"
    assert record.headers["x-title"] == "t"


async def test_no_key_no_header_and_no_openrouter_fields_elsewhere(emulator: Emulator) -> None:
    async with client(deny_data_collection=False) as c:
        await c.complete(chat(emulator, api_key_env="FUSE_TEST_UNSET_VAR"))
    assert "authorization" not in emulator.requests[-1].headers
    assert "provider" not in emulator.requests[-1].body

    # A plain OpenAI-compatible server (mounted at /v1) gets only standard fields.
    local = Endpoint(base_url=emulator.base_url.replace("/api/v1", "/v1"))
    async with client() as c:
        response = await c.complete(
            ChatRequest(model=MODEL, messages=(ChatMessage("user", CODE),), endpoint=local)
        )
    assert response.text
    body = emulator.requests[-1].body
    assert "provider" not in body and "usage" not in body
    assert body["stream_options"] == {"include_usage": True}


def test_openrouter_dialect_detection() -> None:
    assert speaks_openrouter("https://openrouter.ai/api/v1")
    assert speaks_openrouter("http://127.0.0.1:1234/api/v1/")
    assert not speaks_openrouter("http://localhost:11434/v1")
    assert not speaks_openrouter("https://api.openai.com/v1")


async def test_non_streaming(emulator: Emulator) -> None:
    deltas: list[str] = []
    async with client() as c:
        response = await c.complete(chat(emulator, stream=False), on_delta=deltas.append)
    assert "src/app.py" in response.text
    assert deltas == [response.text]
    assert response.usage.cost_usd is not None
    assert emulator.requests[-1].stream is False


async def test_keepalive_comments_are_skipped(emulator: Emulator) -> None:
    # 150 ms to the first token with a keep-alive every 50 ms: several `:` comment lines.
    emulator.set_script({"models": {MODEL: {"ttft_ms": 150, "keepalive_ms": 50}}})
    async with client() as c:
        response = await c.complete(chat(emulator))
    assert response.text.startswith("###")
    assert response.ttft_s is not None and response.ttft_s >= 0.1


async def test_raw_stream_has_comments_usage_and_done(emulator: Emulator) -> None:
    emulator.set_script({"models": {MODEL: {"ttft_ms": 120, "keepalive_ms": 50}}})
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": CODE}]}
    async with httpx.AsyncClient() as http:
        response = await http.post(emulator.base_url + "/chat/completions", json=body)
    lines = [line for line in response.text.split("\n") if line]
    assert lines[0] == ": OPENROUTER PROCESSING"
    assert lines.count(": OPENROUTER PROCESSING") >= 2
    assert lines[-1] == "data: [DONE]"
    usage = json.loads(lines[-2].removeprefix("data: "))["usage"]
    assert usage["cost"] > 0 and "cached_tokens" in usage["prompt_tokens_details"]
    assert response.headers["x-generation-id"].startswith("gen-emu-")


async def test_cost_from_prices_when_usage_has_no_cost(emulator: Emulator) -> None:
    price = {"prompt": "0.001", "completion": "0.002"}
    emulator.set_script({"models": {"acme/cheap": {"report_cost": False, "price": price}}})
    async with client() as c:
        response = await c.complete(chat(emulator, model="acme/cheap"))
    assert response.usage.cost_usd is None  # no price book: unknown

    async with client(prices=PriceBook()) as c:
        response = await c.complete(chat(emulator, model="acme/cheap"))
    usage = response.usage
    expected = usage.prompt_tokens * 0.001 + usage.completion_tokens * 0.002
    assert usage.cost_usd == pytest.approx(expected)


def test_parse_usage_fields() -> None:
    usage = parse_usage(
        {
            "prompt_tokens": 100,
            "completion_tokens": 40,
            "cost": 0.0123,
            "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 10},
            "completion_tokens_details": {"reasoning_tokens": 25},
        }
    )
    assert (usage.prompt_tokens, usage.completion_tokens) == (100, 40)
    assert (usage.cached_tokens, usage.cache_write_tokens, usage.reasoning_tokens) == (60, 10, 25)
    assert usage.cost_usd == 0.0123
    odd = parse_usage({"prompt_tokens": "x", "cost": None, "prompt_tokens_details": None})
    assert odd.prompt_tokens == 0 and odd.cost_usd is None


async def test_list_models(emulator: Emulator) -> None:
    async with client() as c:
        models = await c.list_models(Endpoint(base_url=emulator.base_url))
    by_id = {m.id: m for m in models}
    assert by_id["openai/gpt-5"].prompt_price == pytest.approx(1.25e-6)
    assert by_id["anthropic/claude-sonnet-4.5"].context_length


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type", "words"),
    [
        (400, BadRequestError, "bad request"),
        (401, AuthError, "API key"),
        (402, CreditsError, "out of credits"),
        (403, ModerationError, "moderation"),
        (408, ProviderTimeout, "timed out"),
        (429, RateLimited, "rate limited"),
        (500, UpstreamError, "upstream"),
        (502, UpstreamError, "down"),
        (503, UpstreamError, "no provider"),
    ],
)
async def test_status_errors_are_typed(
    emulator: Emulator, status: int, error_type: type[ProviderError], words: str
) -> None:
    emulator.set_script(faulty(kind="http", status=status, message="details from upstream"))
    async with client(retries=RetrySettings(max_attempts=1)) as c:
        with pytest.raises(error_type) as caught:
            await c.complete(chat(emulator))
    err = caught.value
    assert err.status_code == status and err.model == MODEL
    assert str(err).startswith(f"{MODEL}: ")
    assert words in str(err) and "details from upstream" in str(err)


async def test_402_message_is_actionable_for_openrouter() -> None:
    from fuse_ls.fusion.provider import _make_error

    err = _make_error(
        MODEL,
        Endpoint(base_url="https://openrouter.ai/api/v1"),
        402,
        "",
        None,
        mid_stream=False,
    )
    assert str(err) == (
        "openai/gpt-5: OpenRouter answered 402: out of credits. "
        "Top up at openrouter.ai/settings/credits, or use a local model pool."
    )


async def test_unknown_model_is_a_bad_request(emulator: Emulator) -> None:
    async with client() as c:
        with pytest.raises(BadRequestError, match="not a valid model ID"):
            await c.complete(chat(emulator, model="nobody/nothing"))
    assert len(emulator.requests) == 1


async def test_wrong_key_is_auth_error(emulator_factory: Any, monkeypatch: Any) -> None:
    emulator = emulator_factory(require_key="right")
    monkeypatch.setenv("FUSE_TEST_KEY", "wrong")
    async with client() as c:
        with pytest.raises(AuthError, match="FUSE_TEST_KEY"):
            await c.complete(chat(emulator, api_key_env="FUSE_TEST_KEY"))
        monkeypatch.setenv("FUSE_TEST_KEY", "right")
        assert (await c.complete(chat(emulator, api_key_env="FUSE_TEST_KEY"))).text
    assert len(emulator.requests) == 2  # 401 is never retried


async def test_mid_stream_error_event(emulator: Emulator) -> None:
    emulator.set_script(faulty(kind="error_event", status=502, message="provider reset"))
    deltas: list[str] = []
    async with client() as c:
        with pytest.raises(UpstreamError, match=r"mid-stream.*provider reset"):
            await c.complete(chat(emulator), on_delta=deltas.append)
    assert deltas  # part of the answer arrived first...
    assert len(emulator.requests) == 1  # ...so it was not retried


async def test_mid_stream_error_without_deltas_is_retried(emulator: Emulator) -> None:
    emulator.set_script(faulty(kind="error_event", status=502, times=1))
    async with client() as c:
        response = await c.complete(chat(emulator))
    assert response.text and len(emulator.requests) == 2


async def test_cut_stream_is_malformed(emulator: Emulator) -> None:
    emulator.set_script(faulty(kind="cut"))
    async with client() as c:
        with pytest.raises(MalformedAnswer, match=r"cut off.*\[DONE\]"):
            await c.complete(chat(emulator))
        with pytest.raises(MalformedAnswer, match="not JSON"):
            await c.complete(chat(emulator, stream=False))
    assert len(emulator.requests) == 2  # malformed answers are not retried


@pytest.mark.parametrize("stream", [True, False])
async def test_empty_completion_is_malformed(emulator: Emulator, stream: bool) -> None:
    emulator.set_script(faulty(kind="empty"))
    async with client() as c:
        with pytest.raises(MalformedAnswer, match="empty completion"):
            await c.complete(chat(emulator, stream=stream))


async def test_invalid_json_and_ignored_response_format(emulator: Emulator) -> None:
    emulator.set_script(faulty(kind="invalid_json"))
    async with client() as c:
        bad = await c.complete(chat(emulator, schema="review_findings"))
        with pytest.raises(MalformedAnswer):
            parse_json_object(bad.text, model=MODEL)
        emulator.set_script(faulty(kind="ignore_response_format"))
        prose = await c.complete(chat(emulator, schema="review_findings"))
    assert prose.text.startswith("Sure!") and "```json" in prose.text
    assert parse_json_object(prose.text)["findings"]


async def test_connection_refused_is_retried_then_connection_failed() -> None:
    # A port that was just free: nothing listens there.
    with Emulator() as gone:
        base = gone.base_url
    endpoint = Endpoint(base_url=base)
    async with client() as c:
        with pytest.raises(ConnectionFailed, match=r"nothing answers at 127\.0\.0\.1:"):
            await c.complete(ChatRequest(MODEL, (ChatMessage("user", "hi"),), endpoint))


# --- retries --------------------------------------------------------------------------


async def test_retry_after_is_honoured(emulator: Emulator) -> None:
    emulator.set_script(faulty(kind="http", status=429, retry_after=0.3, times=1))
    async with client() as c:
        response = await c.complete(chat(emulator))
    assert response.text
    first, second = emulator.requests
    assert first.status == 429 and second.status == 200
    assert second.received_at - first.received_at >= 0.25


async def test_retries_5xx_and_408_with_backoff(emulator: Emulator) -> None:
    script = faulty()
    script["models"][MODEL]["faults"] = [
        {"kind": "http", "status": 503, "times": 1},
        {"kind": "http", "status": 408, "times": 1},
    ]
    del script["models"][MODEL]["fault"]
    emulator.set_script(script)
    async with client() as c:
        response = await c.complete(chat(emulator))
    assert response.text
    assert [r.status for r in emulator.requests] == [503, 408, 200]


async def test_gives_up_after_max_attempts(emulator: Emulator) -> None:
    emulator.set_script(faulty(kind="http", status=500))
    async with client() as c:
        with pytest.raises(UpstreamError):
            await c.complete(chat(emulator))
    assert len(emulator.requests) == QUICK_RETRIES.max_attempts


@pytest.mark.parametrize("status", [400, 401, 402, 403])
async def test_no_retry_on_client_errors(emulator: Emulator, status: int) -> None:
    emulator.set_script(faulty(kind="http", status=status, retry_after=0.01))
    async with client() as c:
        with pytest.raises(ProviderError):
            await c.complete(chat(emulator))
    assert len(emulator.requests) == 1


async def test_retry_after_beyond_the_deadline_fails_fast(emulator: Emulator) -> None:
    emulator.set_script(faulty(kind="http", status=429, retry_after=30))
    timeouts = TimeoutSettings(connect_s=2.0, request_s=2.0, first_token_s=2.0)
    started = time.monotonic()
    async with client(timeouts=timeouts) as c:
        with pytest.raises(RateLimited) as caught:
            await c.complete(chat(emulator))
    assert caught.value.retry_after_s == 30
    assert time.monotonic() - started < 1.5
    assert len(emulator.requests) == 1


# --- timeouts and cancellation --------------------------------------------------------


async def test_first_token_timeout_despite_keepalives(emulator: Emulator) -> None:
    emulator.set_script({"models": {MODEL: {"keepalive_ms": 50, "fault": {"kind": "hang"}}}})
    timeouts = TimeoutSettings(connect_s=2.0, request_s=10.0, first_token_s=0.3)
    async with client(timeouts=timeouts, retries=RetrySettings(max_attempts=1)) as c:
        with pytest.raises(ProviderTimeout, match="first token"):
            await c.complete(chat(emulator))
    assert await emulator.until(lambda: emulator.requests[-1].disconnected)


async def test_request_timeout_non_streaming_hang(emulator: Emulator) -> None:
    emulator.set_script(faulty(kind="hang"))
    timeouts = TimeoutSettings(connect_s=2.0, request_s=0.4, first_token_s=5.0)
    async with client(timeouts=timeouts) as c:
        with pytest.raises(ProviderTimeout):
            await c.complete(chat(emulator, stream=False))
    assert await emulator.until(lambda: emulator.requests[-1].disconnected)


async def test_slow_stream_hits_the_request_deadline(emulator: Emulator) -> None:
    emulator.set_script({"models": {MODEL: {"ttft_ms": 0, "token_ms": 20}}})
    timeouts = TimeoutSettings(connect_s=2.0, request_s=0.3, first_token_s=5.0)
    async with client(timeouts=timeouts) as c:
        with pytest.raises(ProviderTimeout, match="complete answer"):
            await c.complete(chat(emulator, schema="review_findings"))


async def test_cancellation_closes_the_stream(emulator: Emulator) -> None:
    emulator.set_script({"models": {MODEL: {"ttft_ms": 0, "token_ms": 10}}})
    got_first = asyncio.Event()
    async with client() as c:
        task = asyncio.create_task(
            c.complete(chat(emulator, schema="review_findings"), on_first_token=got_first.set)
        )
        await asyncio.wait_for(got_first.wait(), 5)
        assert emulator.open_streams == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await emulator.until(lambda: emulator.open_streams == 0, timeout_s=2)
    record = emulator.requests[-1]
    assert record.disconnected and not record.completed


async def test_many_concurrent_streams_share_the_client(emulator: Emulator) -> None:
    emulator.set_script({"models": {"*": {"ttft_ms": 50, "token_ms": 1}}})
    async with client() as c:
        responses = await asyncio.gather(*(c.complete(chat(emulator)) for _ in range(50)))
    assert all(r.text for r in responses)
    assert len(emulator.requests) == 50
