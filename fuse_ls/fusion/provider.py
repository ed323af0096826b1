# Over 500 lines: the whole OpenAI/OpenRouter wire protocol (SSE, usage, errors) in one place.
"""Async client for OpenAI-compatible chat completions (OpenRouter first, local servers too).

One shared `httpx.AsyncClient` carries every call so hundreds of concurrent streams reuse
pooled keep-alive connections. Failures become the typed errors of `fuse_ls.core.errors`.

The API key is read from the environment at the moment a request is built and is
never stored on the client, put in an error, logged, or chained into a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import random
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final, NoReturn
from urllib.parse import urlsplit

import httpx
from httpx_sse import EventSource

from fuse_ls.config import RetrySettings, TimeoutSettings
from fuse_ls.core import hosts, keyscope
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
from fuse_ls.core.types import ChatRequest, ChatResponse, Endpoint, Usage
from fuse_ls.fusion.pricing import ModelInfo, PriceBook, parse_models
from fuse_ls.fusion.transport import ShardedTransport
from fuse_ls.retry_after import retry_after_seconds
from fuse_ls.safetext import clean, printable

log = logging.getLogger(__name__)

_DETAIL_CHARS = 200
_REDACTED = "[redacted]"
# How long to wait for the end of a body after [DONE] before giving its connection up.
_DRAIN_S = 0.5


class ChatClient:
    """Chat completions over one pooled HTTP client. Use `async with` or call `aclose()`."""

    def __init__(
        self,
        *,
        timeouts: TimeoutSettings,
        retries: RetrySettings,
        http: httpx.AsyncClient | None = None,
        deny_data_collection: bool = True,
        prices: PriceBook | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.timeouts = timeouts
        self.retries = retries
        self.deny_data_collection = deny_data_collection
        self.prices = prices
        self._rng = rng or random.Random()
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            transport=ShardedTransport(), timeout=self._httpx_timeout()
        )
        if prices is not None:
            prices.bind(self.list_models)

    def __repr__(self) -> str:
        return (
            f"ChatClient(timeouts={self.timeouts!r}, retries={self.retries!r}, "
            f"deny_data_collection={self.deny_data_collection})"
        )

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def _httpx_timeout(self) -> httpx.Timeout:
        # The real limits on reading are our own first-token and request deadlines
        # (asyncio.timeout), which keep-alive comments cannot extend; httpx's read/write
        # timers are only a backstop, and its connect timer is the one that matters.
        return httpx.Timeout(
            connect=self.timeouts.connect_s,
            read=self.timeouts.request_s,
            write=self.timeouts.request_s,
            pool=self.timeouts.request_s,
        )

    # --- chat -------------------------------------------------------------------------

    async def complete(
        self,
        request: ChatRequest,
        *,
        on_delta: Callable[[str], None] | None = None,
        on_first_token: Callable[[], None] | None = None,
    ) -> ChatResponse:
        """One chat completion, retried on transient failures while nothing was streamed.

        `timeouts.request_s` bounds the whole call, retries and their waits included: a
        retry that could not finish in time is not attempted, the last error is raised.
        """
        import stamina  # with the first call: a review served from the cache makes none

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeouts.request_s
        call = _Call(request, self, on_delta, on_first_token, deadline)
        failures = 0

        def backoff(err: Exception) -> bool | float:
            """How long to wait before the next attempt; False: raise `err` now."""
            nonlocal failures
            failures += 1
            if not isinstance(err, ProviderError) or not err.retryable or call.delivered:
                return False
            delay = self._backoff(failures, err.retry_after_s)
            if loop.time() + delay >= deadline:
                return False
            log.info(
                "%s: %s; retry %d/%d in %.2fs",
                request.model,
                err.kind,
                failures,
                self.retries.max_attempts - 1,
                delay,
            )
            return delay

        async for attempt in stamina.retry_context(
            on=backoff, attempts=self.retries.max_attempts, timeout=None
        ):
            with attempt:
                return await call.attempt()
        raise AssertionError("unreachable: stamina either returns or raises")

    def _backoff(self, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            # The server knows when it will take us again; waiting less only burns an
            # attempt. The overall request deadline still bounds it.
            return min(max(retry_after_s, 0.0), self.timeouts.request_s)
        ceiling = min(self.retries.backoff_max_s, self.retries.backoff_base_s * 2 ** (attempt - 1))
        # Full jitter: concurrent fusions that failed together must not retry together.
        return self._rng.uniform(0.0, ceiling)

    # --- models -----------------------------------------------------------------------

    async def list_models(self, endpoint: Endpoint) -> list[ModelInfo]:
        """`GET {base}/models`, parsed. Raises the same typed errors as `complete`."""
        url = endpoint.base_url.rstrip("/") + "/models"
        key = _api_key(endpoint)
        headers = dict(endpoint.headers)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        label = "models list"
        try:
            async with asyncio.timeout(self.timeouts.request_s):
                response = await self._http.get(url, headers=headers, timeout=self._httpx_timeout())
        except TimeoutError:
            raise ProviderTimeout(
                f"{label}: {_server(endpoint)} did not answer within {self.timeouts.request_s:g}s.",
                model=label,
            ) from None
        except httpx.HTTPError as exc:
            _raise_transport(exc, label, endpoint, key, self.timeouts)
        if response.status_code >= 300:
            raise _status_error(
                label, endpoint, response.status_code, response.text, response.headers, key
            )
        try:
            return parse_models(response.json())
        except ValueError:
            raise MalformedAnswer(
                f"{label}: {_server(endpoint)} sent a /models answer that is not JSON.",
                model=label,
            ) from None


class _Call:
    """The state of one `complete()` call across its attempts."""

    def __init__(
        self,
        request: ChatRequest,
        client: ChatClient,
        on_delta: Callable[[str], None] | None,
        on_first_token: Callable[[], None] | None,
        deadline: float,
    ) -> None:
        self.request = request
        self.client = client
        self.on_delta = on_delta
        self.on_first_token = on_first_token
        self.deadline = deadline
        self.delivered = False  # something reached on_delta: a retry would duplicate it
        self.endpoint = request.endpoint
        self.url = self.endpoint.base_url.rstrip("/") + "/chat/completions"

    async def attempt(self) -> ChatResponse:
        key = _api_key(self.endpoint)
        body = self._body()
        headers = dict(self.endpoint.headers)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if self.request.stream:
            headers["Accept"] = "text/event-stream"
            headers["Cache-Control"] = "no-store"
        timeouts = self.client.timeouts
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = _Accumulator(self.request.model)
        try:
            async with asyncio.timeout(None) as limit:
                limit.reschedule(min(started + timeouts.first_token_s, self.deadline))
                async with self.client._http.stream(
                    "POST",
                    self.url,
                    json=body,
                    headers=headers,
                    timeout=self.client._httpx_timeout(),
                ) as response:
                    if response.status_code >= 300:  # a redirect is not followed
                        await response.aread()
                        raise _status_error(
                            self.request.model,
                            self.endpoint,
                            response.status_code,
                            response.text,
                            response.headers,
                            key,
                        )
                    result.generation_id = response.headers.get("x-generation-id")
                    content_type = response.headers.get("content-type", "")
                    if "text/event-stream" in content_type:
                        await self._read_stream(response, result, limit, started, key)
                    else:
                        await response.aread()
                        limit.reschedule(self.deadline)
                        self._read_json(response.text, result, key, started)
        except TimeoutError:
            which = (
                f"first token within {timeouts.first_token_s:g}s (timeouts.first_token_s)"
                if result.first_data_at is None and loop.time() < self.deadline
                else f"complete answer within {timeouts.request_s:g}s (timeouts.request_s)"
            )
            raise ProviderTimeout(
                f"{self.request.model}: no {which} from {_server(self.endpoint)}. "
                "Raise the timeout or use a faster model.",
                model=self.request.model,
            ) from None
        except httpx.HTTPError as exc:
            if result.first_data_at is not None:
                raise MalformedAnswer(
                    f"{self.request.model}: the answer stream from {_server(self.endpoint)} "
                    f"broke off after {len(result.text)} chars ({type(exc).__name__}).",
                    model=self.request.model,
                ) from None
            _raise_transport(exc, self.request.model, self.endpoint, key, timeouts)
        latency = loop.time() - started
        cost = await self._cost(result.usage_raw, result.model)
        return result.finish(latency, cost, self.endpoint)

    def _body(self) -> dict[str, Any]:
        request = self.request
        body: dict[str, Any] = {
            "model": request.model,
            # A lone surrogate (an editor may send one) cannot be encoded as UTF-8.
            "messages": [{"role": m.role, "content": clean(m.content)} for m in request.messages],
            "stream": request.stream,
        }
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.json_schema is not None:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.json_schema.name,
                    "strict": True,
                    "schema": request.json_schema.schema,
                },
            }
        if speaks_openrouter(self.endpoint.base_url):
            body["usage"] = {"include": True}
            if self.client.deny_data_collection:
                body["provider"] = {"data_collection": "deny"}
        elif request.stream:
            # The standard OpenAI way to get usage in a stream (vLLM, llama.cpp, Ollama).
            body["stream_options"] = {"include_usage": True}
        return body

    async def _read_stream(
        self,
        response: httpx.Response,
        result: _Accumulator,
        limit: asyncio.Timeout,
        started: float,
        key: str | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        done = False
        # httpx-sse drops `:` comment lines (OpenRouter's `: OPENROUTER PROCESSING`
        # keep-alives), so only data events arrive here.
        # Closed here, not left to the garbage collector: an exit from the loop (an error
        # event, a malformed chunk) would leave the generator and the httpx ones under
        # it suspended, and the event loop closing them all at once at shutdown fails
        # with "asynchronous generator is already running".
        async with contextlib.aclosing(EventSource(response).aiter_sse()) as events:
            async for event in events:
                data = event.data.strip()
                if not data:
                    continue
                if data == "[DONE]":
                    done = True
                    break
                if result.first_data_at is None:
                    result.first_data_at = loop.time()
                    # Any data event proves the model is working (reasoning models stream
                    # reasoning before content): from here only the whole-call deadline holds.
                    limit.reschedule(self.deadline)
                try:
                    chunk = json.loads(data)
                except ValueError:
                    raise MalformedAnswer(
                        f"{self.request.model}: {_server(self.endpoint)} sent a stream event "
                        f"that is not JSON: {_excerpt(data, key)!r}.",
                        model=self.request.model,
                    ) from None
                if not isinstance(chunk, dict):
                    continue
                if "error" in chunk:
                    raise _body_error(self.request.model, self.endpoint, chunk["error"], key, True)
                self._absorb(chunk, result, "delta", started)
            if done:
                # Read the body to its end (it ends right after [DONE]): a response left
                # half-read closes its connection, and every call would pay a new connect
                # (and TLS handshake) instead of reusing a kept-alive one.
                with contextlib.suppress(TimeoutError, httpx.HTTPError):
                    async with asyncio.timeout(_DRAIN_S):
                        async for _ in events:
                            pass
        if not done and result.finish_reason is None:
            raise MalformedAnswer(
                f"{self.request.model}: the answer stream from {_server(self.endpoint)} was "
                f"cut off after {len(result.text)} chars (no [DONE]). Retry, or use "
                "another model.",
                model=self.request.model,
            )

    def _read_json(self, text: str, result: _Accumulator, key: str | None, started: float) -> None:
        try:
            payload = json.loads(text)
        except ValueError:
            raise MalformedAnswer(
                f"{self.request.model}: {_server(self.endpoint)} sent an answer that is "
                f"not JSON: {_excerpt(text, key)!r}.",
                model=self.request.model,
            ) from None
        if not isinstance(payload, dict):
            raise MalformedAnswer(
                f"{self.request.model}: {_server(self.endpoint)} sent an unexpected answer.",
                model=self.request.model,
            )
        if "error" in payload:
            raise _body_error(self.request.model, self.endpoint, payload["error"], key, False)
        result.first_data_at = asyncio.get_running_loop().time()
        self._absorb(payload, result, "message", started)

    def _absorb(
        self, chunk: Mapping[str, Any], result: _Accumulator, part: str, started: float
    ) -> None:
        if isinstance(chunk.get("id"), str) and not result.generation_id:
            result.generation_id = chunk["id"]
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            result.model = chunk["model"]
        usage = chunk.get("usage")
        if isinstance(usage, Mapping):
            result.usage_raw = usage
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            return
        for choice in choices:
            if not isinstance(choice, Mapping):
                continue
            body = choice.get("delta" if part == "delta" else "message")
            content = body.get("content") if isinstance(body, Mapping) else None
            if isinstance(content, str) and content:
                if result.ttft_s is None:
                    result.ttft_s = asyncio.get_running_loop().time() - started
                    if self.on_first_token is not None:
                        self.on_first_token()
                result.parts.append(content)
                if self.on_delta is not None:
                    self.delivered = True
                    self.on_delta(content)
            reason = choice.get("finish_reason")
            if isinstance(reason, str) and reason:
                result.finish_reason = reason

    async def _cost(self, usage_raw: Mapping[str, Any] | None, model: str) -> float | None:
        if usage_raw is None:
            return None
        reported = usage_raw.get("cost")
        if isinstance(reported, int | float) and not isinstance(reported, bool):
            return float(reported)
        prices = self.client.prices
        if prices is None:
            return None
        usage = parse_usage(usage_raw)
        base = self.endpoint.base_url
        if not prices.is_fresh(base):
            # Cached per base URL (and failures are remembered), so this fetches at most
            # once an hour however many calls miss a reported cost.
            remaining = self.deadline - asyncio.get_running_loop().time()
            try:
                async with asyncio.timeout(max(remaining, 1.0)):
                    await prices.load(self.endpoint)
            except TimeoutError:
                return None
        # Price the model that answered (a fallback may differ from the one asked).
        cost = prices.cost(model, usage, base)
        return cost if cost is not None else prices.cost(self.request.model, usage, base)


class _Accumulator:
    def __init__(self, model: str) -> None:
        self.model = model
        self.parts: list[str] = []
        self.usage_raw: Mapping[str, Any] | None = None
        self.finish_reason: str | None = None
        self.generation_id: str | None = None
        self.first_data_at: float | None = None
        self.ttft_s: float | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def finish(self, latency_s: float, cost: float | None, endpoint: Endpoint) -> ChatResponse:
        text = printable(self.text)
        if not text.strip():
            hint = (
                " (finish_reason=length: raise max_tokens; reasoning may have used them all)"
                if self.finish_reason == "length"
                else ""
            )
            raise MalformedAnswer(
                f"{self.model}: {_server(endpoint)} sent an empty completion{hint}.",
                model=self.model,
            )
        usage = parse_usage(self.usage_raw) if self.usage_raw is not None else Usage()
        return ChatResponse(
            model=self.model,
            text=text,
            usage=Usage(
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                cost_usd=cost,
            ),
            latency_s=latency_s,
            ttft_s=self.ttft_s if self.ttft_s is not None else latency_s,
            generation_id=self.generation_id,
            finish_reason=self.finish_reason,
        )


# --- helpers --------------------------------------------------------------------------


def parse_usage(raw: Mapping[str, Any]) -> Usage:
    """Parse an OpenAI/OpenRouter `usage` object; missing or odd fields count as zero."""
    prompt_details = raw.get("prompt_tokens_details")
    completion_details = raw.get("completion_tokens_details")
    pd: Mapping[str, Any] = prompt_details if isinstance(prompt_details, Mapping) else {}
    cd: Mapping[str, Any] = completion_details if isinstance(completion_details, Mapping) else {}
    cost = raw.get("cost")
    return Usage(
        prompt_tokens=_int(raw.get("prompt_tokens")),
        completion_tokens=_int(raw.get("completion_tokens")),
        cached_tokens=_int(pd.get("cached_tokens")),
        cache_write_tokens=_int(pd.get("cache_write_tokens", raw.get("cache_write_tokens"))),
        reasoning_tokens=_int(cd.get("reasoning_tokens")),
        cost_usd=(
            float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None
        ),
    )


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and math.isfinite(value):
        return max(int(value), 0)
    return 0


def speaks_openrouter(base_url: str) -> bool:
    """Whether OpenRouter-only body fields (`usage`, `provider`) are understood there.

    openrouter.ai itself, and anything mounted at `/api/v1` (the emulator, and proxies
    that mimic OpenRouter); plain OpenAI-compatible servers live at `/v1` and may reject
    unknown fields.
    """
    if hosts.is_openrouter(base_url):
        return True
    return urlsplit(base_url).path.rstrip("/").endswith("/api/v1")


def _server(endpoint: Endpoint) -> str:
    if hosts.is_openrouter(endpoint.base_url):
        return "OpenRouter"
    parts = urlsplit(hosts.shown(endpoint.base_url))
    return f"the server at {parts.netloc or hosts.shown(endpoint.base_url)}"


def _api_key(endpoint: Endpoint) -> str | None:
    # Read at request time, never stored: see fuse_ls.core.keyscope for who gets which key.
    return keyscope.api_key(endpoint)


def _scrub(text: str, key: str | None) -> str:
    if key:
        text = text.replace(key, _REDACTED)
    return text


def _excerpt(text: str, key: str | None, limit: int = _DETAIL_CHARS) -> str:
    flat = " ".join(printable(_scrub(text, key)).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _error_detail(body_text: str, key: str | None) -> tuple[str, object]:
    """(message, code) from an OpenAI/OpenRouter error body, or an excerpt of the body."""
    try:
        payload = json.loads(body_text)
    except ValueError:
        return _excerpt(body_text, key), None
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict):
        message = error.get("message")
        return (_excerpt(str(message), key) if message else ""), error.get("code")
    if isinstance(error, str):
        return _excerpt(error, key), None
    return _excerpt(body_text, key), None


def _retry_after(headers: httpx.Headers | None) -> float | None:
    return retry_after_seconds(headers.get("retry-after") if headers is not None else None)


def _status_error(
    model: str,
    endpoint: Endpoint,
    status: int,
    body_text: str,
    headers: httpx.Headers | None,
    key: str | None,
) -> ProviderError:
    if 300 <= status < 400:
        return _redirect_error(model, endpoint, status, headers)
    detail, _ = _error_detail(body_text, key)
    return _make_error(model, endpoint, status, detail, _retry_after(headers), mid_stream=False)


def _redirect_error(
    model: str, endpoint: Endpoint, status: int, headers: httpx.Headers | None
) -> ProviderError:
    """A redirect is never followed: the request carries the code and, for most endpoints,
    the key, and a redirect may point anywhere. Say where it pointed (scheme and host only:
    its path or query may hold anything) so the user can set that base URL if they trust it."""
    location = urlsplit(headers.get("location", "") if headers is not None else "")
    where = (
        f" to {location.scheme}://{location.hostname}"
        if location.scheme and location.hostname
        else ""
    )
    return BadRequestError(
        f"{model}: {_server(endpoint)} answered {status}, a redirect{where}, which fuse-ls "
        "does not follow (the request carries your code and key). Set the base URL to "
        f"where the endpoint is now, not {hosts.shown(endpoint.base_url)}.",
        model=model,
        status_code=status,
    )


def _body_error(
    model: str, endpoint: Endpoint, error: object, key: str | None, mid_stream: bool
) -> ProviderError:
    """An `error` object inside a 200 answer (mid-stream, or a non-streaming body)."""
    if isinstance(error, Mapping):
        message = _excerpt(str(error.get("message") or ""), key)
        code = error.get("code")
    else:
        message, code = _excerpt(str(error), key), None
    try:
        status = int(code) if code is not None and not isinstance(code, bool) else 502
    except (TypeError, ValueError):
        status = 502
    return _make_error(model, endpoint, status, message, None, mid_stream=mid_stream)


def _make_error(
    model: str,
    endpoint: Endpoint,
    status: int,
    detail: str,
    retry_after_s: float | None,
    *,
    mid_stream: bool,
) -> ProviderError:
    server = _server(endpoint)
    said = f"{server} answered {status}" if not mid_stream else f"{server} failed mid-stream"
    because = f" ({detail})" if detail else ""
    kwargs: dict[str, Any] = {"model": model, "status_code": status}
    if status == 400:
        return BadRequestError(
            f"{model}: {said}: bad request{because}. Check the model id and settings "
            "for this model.",
            **kwargs,
        )
    withheld = keyscope.withheld_key_note(endpoint)
    if status == 401 or (status == 403 and withheld):
        # A 403 from a server that got no key is about the key, not moderation.
        env = endpoint.api_key_env
        if withheld:
            fix = withheld
        elif env and not os.environ.get(env):
            fix = f"Set the environment variable {env} to your API key."
        elif env:
            fix = f"Check the API key in {env}."
        else:
            fix = "Configure api_key_env for this endpoint."
        return AuthError(
            f"{model}: {said}: the API key was rejected or missing{because}. {fix}", **kwargs
        )
    if status == 402:
        topup = (
            "Top up at openrouter.ai/settings/credits, or use a local model pool."
            if hosts.is_openrouter(endpoint.base_url)
            else "Add credits with the provider, or use a local model pool."
        )
        return CreditsError(f"{model}: {said}: out of credits{because}. {topup}", **kwargs)
    if status == 403:
        return ModerationError(
            f"{model}: {said}: the input was flagged by moderation{because}. Exclude the "
            "flagged code from the selection, or use another model.",
            **kwargs,
        )
    if status == 408:
        return ProviderTimeout(
            f"{model}: {said}: the provider timed out{because}. Retry, or use a faster model.",
            **kwargs,
        )
    if status == 429:
        wait = f" (retry after {retry_after_s:g}s)" if retry_after_s is not None else ""
        return RateLimited(
            f"{model}: {said}: rate limited{wait}{because}. Wait, use fewer models, or add "
            "credits to raise the limit.",
            retry_after_s=retry_after_s,
            **kwargs,
        )
    if status >= 500:
        what = {
            502: "the model is down or sent an invalid answer",
            503: "no provider can serve this model right now",
            504: "the upstream provider timed out",
        }.get(status, "the upstream provider failed")
        return UpstreamError(
            f"{model}: {said}: {what}{because}. Retry later, or use another model.",
            retry_after_s=retry_after_s,
            **kwargs,
        )
    return BadRequestError(
        f"{model}: {said}{because}. Check the base URL ({hosts.shown(endpoint.base_url)}) "
        "and model id.",
        **kwargs,
    )


def _raise_transport(
    exc: httpx.HTTPError,
    model: str,
    endpoint: Endpoint,
    key: str | None,
    timeouts: TimeoutSettings,
) -> NoReturn:
    # `from None`: httpx exceptions carry the request (and its Authorization header);
    # only our own scrubbed text may reach a traceback.
    reason = _excerpt(str(exc), key) or type(exc).__name__
    base = hosts.shown(endpoint.base_url)
    local = hosts.is_loopback(endpoint.base_url)
    if isinstance(exc, httpx.TimeoutException):
        check = "Check the local server" if local else "Check the network"
        raise ProviderTimeout(
            f"{model}: timed out talking to {_server(endpoint)} ({type(exc).__name__}; "
            f"connect timeout {timeouts.connect_s:g}s). {check} or raise "
            "timeouts.connect_s.",
            model=model,
        ) from None
    if local and isinstance(exc, httpx.ConnectError):
        # This machine refused: no network is involved, a server is not running.
        raise ConnectionFailed(
            f"{model}: nothing answers at {urlsplit(base).netloc or base} ({reason}): "
            f"{_start_hint(endpoint.base_url)}, or check the base URL {base}.",
            model=model,
        ) from None
    raise ConnectionFailed(
        f"{model}: could not reach {_server(endpoint)} ({reason}). "
        f"{'Check the local server' if local else 'Check the network'} and the base URL "
        f"{base}.",
        model=model,
    ) from None


OLLAMA_PORT: Final = 11434


def _start_hint(base_url: str) -> str:
    """What to start for a loopback base URL where nothing listens."""
    try:
        port = urlsplit(base_url).port
    except ValueError:
        port = None
    if port == OLLAMA_PORT:  # Ollama's own port: its OpenAI-compatible API is at /v1
        return "is Ollama running? Start it with `ollama serve`"
    return "is the local model server running? Start it"
