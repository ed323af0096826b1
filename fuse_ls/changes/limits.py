"""Concurrency limits for a whole change review: a global cap on model calls in flight
and a cap per endpoint, shared by every unit's fusion.

Calls that finish a unit (the judge, debate rounds) go ahead of calls that start new
units, so units complete steadily and wall time stays near the critical path of the
schedule the limits allow. `Retry-After` is honoured by the provider's retries, and
shared: once an endpoint answered 429 (or 503) with `Retry-After`, no request of the run
goes to that endpoint until that time, instead of each concurrent call earning its own
429. The slot stays held while a rate-limited call waits.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar

import httpx
from attrs import evolve

from fuse_ls.config import TimeoutSettings
from fuse_ls.core.errors import BadRequestError
from fuse_ls.core.types import ChatMessage, ChatRequest, ChatResponse, Usage
from fuse_ls.fusion.answers import DEBATE_SCHEMA, REVIEW_SCHEMA
from fuse_ls.fusion.provider import ChatClient
from fuse_ls.fusion.transport import ShardedTransport
from fuse_ls.retry_after import retry_after_seconds

POOL_SCHEMAS = frozenset({REVIEW_SCHEMA.name})
# Pool calls after the first that carry the whole unit: a model asked in pieces skips them.
WHOLE_UNIT_SCHEMAS = frozenset({DEBATE_SCHEMA.name})

# model id -> the messages of each piece, for the pool models the current unit does not
# fit (set by the change review around one unit's fusion; the engine's tasks inherit it).
unit_pieces: ContextVar[Mapping[str, Sequence[Sequence[ChatMessage]]] | None] = ContextVar(
    "fuse_ls_unit_pieces", default=None
)


def _merged(responses: Sequence[ChatResponse]) -> str:
    """One review answer from the pieces' answers: their findings together. An answer
    that is not a findings object is passed on as it is, so the engine reports that
    model's answer as unusable rather than quietly losing a piece."""
    findings: list[object] = []
    for response in responses:
        try:
            data = json.loads(response.text)
        except ValueError:
            return response.text
        if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
            return response.text
        findings.extend(data["findings"])
    return json.dumps({"findings": findings})


class PrioritySlots:
    """A semaphore whose waiters are served lowest priority number first, then FIFO."""

    def __init__(self, size: int) -> None:
        self._free = max(size, 1)
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.in_use = 0

    async def acquire(self, priority: int) -> None:
        if self._free > 0 and not self._waiters:
            self._free -= 1
            self.in_use += 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed over just as we were cancelled
            raise
        self.in_use += 1

    def release(self) -> None:
        self.in_use = max(self.in_use - 1, 0)
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self._free += 1


def endpoint_of(url: httpx.URL) -> str:
    """The base URL a request went to: its URL without the API's own path."""
    text = str(url.copy_with(query=None, fragment=None))
    for suffix in ("/chat/completions", "/models", "/generation"):
        if text.endswith(suffix):
            return text[: -len(suffix)]
    return text.rsplit("/", 1)[0]


class CooldownTransport(httpx.AsyncBaseTransport):
    """Holds every request to an endpoint that asked, with `Retry-After` on a 429 or
    503, to be left alone for a while.

    A wait longer than `max_wait_s` (half the first-token timeout, which would otherwise
    cut the call and blame the model) is not slept here: the request is answered on the
    spot with the endpoint's own 429 and the time left, and the provider's retries decide
    as for any 429 (wait and retry if the call's deadline allows, else a clear "rate
    limited" error). Nothing reaches the endpoint meanwhile either way.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, max_wait_s: float) -> None:
        self.inner = inner
        self.max_wait_s = max_wait_s
        self.until: dict[str, float] = {}  # endpoint -> event-loop time it may be asked

    def wait_s(self, endpoint: str) -> float:
        return max(self.until.get(endpoint, 0.0) - asyncio.get_running_loop().time(), 0.0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        endpoint = endpoint_of(request.url)
        # A time, not an event: sleeping to it is the wait; a later 429 may extend it.
        while (wait := self.wait_s(endpoint)) > 0:
            if wait > self.max_wait_s:
                return httpx.Response(
                    429,
                    headers={"retry-after": f"{wait:.3f}"},
                    json={
                        "error": {
                            "code": 429,
                            "message": "this endpoint asked the run to wait (Retry-After)",
                        }
                    },
                    request=request,
                )
            await asyncio.sleep(wait)
        response = await self.inner.handle_async_request(request)
        if response.status_code in (429, 503):
            after = retry_after_seconds(response.headers.get("retry-after"))
            if after:
                until = asyncio.get_running_loop().time() + after
                self.until[endpoint] = max(self.until.get(endpoint, 0.0), until)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class LimitedChatClient(ChatClient):
    """A ChatClient whose calls wait for a global and a per-endpoint slot."""

    def __init__(
        self,
        *args: object,
        global_limit: int,
        per_endpoint: int,
        timeouts: TimeoutSettings,
        **kwargs: object,
    ) -> None:
        self.timeouts = timeouts
        self.cooldowns = CooldownTransport(ShardedTransport(), timeouts.first_token_s / 2)
        http = httpx.AsyncClient(transport=self.cooldowns, timeout=self._httpx_timeout())
        super().__init__(*args, timeouts=timeouts, http=http, **kwargs)  # type: ignore[arg-type]
        self._owns_http = True
        self.global_slots = PrioritySlots(global_limit)
        self.per_endpoint = per_endpoint
        self.endpoint_slots: dict[str, PrioritySlots] = {}
        self.calls = 0
        self.peak = 0

    async def complete(
        self,
        request: ChatRequest,
        *,
        on_delta: Callable[[str], None] | None = None,
        on_first_token: Callable[[], None] | None = None,
    ) -> ChatResponse:
        schema = request.json_schema.name if request.json_schema is not None else ""
        pieces = (unit_pieces.get() or {}).get(request.model)
        if pieces and schema in POOL_SCHEMAS:
            return await self._in_pieces(request, pieces, on_first_token)
        if pieces and schema in WHOLE_UNIT_SCHEMAS:
            # A debate round shows the whole unit again, which is over this model's window:
            # a server would refuse it (OpenRouter) or silently cut it (Ollama's num_ctx).
            # Not sending it costs nothing, and the model keeps its first answer.
            raise BadRequestError(
                f"{request.model}: this unit is larger than its context window, so it was "
                "not asked to revise (it was reviewed in pieces)",
                model=request.model,
            )
        return await self._limited(request, schema, on_delta, on_first_token)

    async def _in_pieces(
        self,
        request: ChatRequest,
        pieces: Sequence[Sequence[ChatMessage]],
        on_first_token: Callable[[], None] | None,
    ) -> ChatResponse:
        """The unit asked of this model piece by piece (concurrently, each under the
        limits), answered as one: a provider error of any piece is this model's error."""
        first: list[bool] = []

        def first_token() -> None:
            if not first and on_first_token is not None:
                first.append(True)
                on_first_token()

        schema = request.json_schema.name if request.json_schema is not None else ""
        responses = await asyncio.gather(
            *(
                self._limited(evolve(request, messages=tuple(m)), schema, None, first_token)
                for m in pieces
            )
        )
        ttfts = [r.ttft_s for r in responses if r.ttft_s is not None]
        reasons = [r.finish_reason for r in responses]
        return ChatResponse(
            model=responses[0].model,
            text=_merged(responses),
            usage=sum((r.usage for r in responses), Usage()),
            latency_s=max(r.latency_s for r in responses),
            ttft_s=min(ttfts) if ttfts else None,
            finish_reason="length" if "length" in reasons else reasons[0],
        )

    async def _limited(
        self,
        request: ChatRequest,
        schema: str,
        on_delta: Callable[[str], None] | None,
        on_first_token: Callable[[], None] | None,
    ) -> ChatResponse:
        priority = 1 if schema in POOL_SCHEMAS else 0
        key = request.endpoint.base_url
        endpoint = self.endpoint_slots.get(key)
        if endpoint is None:
            endpoint = self.endpoint_slots[key] = PrioritySlots(self.per_endpoint)
        await endpoint.acquire(priority)
        try:
            await self.global_slots.acquire(priority)
            try:
                self.calls += 1
                self.peak = max(self.peak, self.global_slots.in_use)
                return await super().complete(
                    request, on_delta=on_delta, on_first_token=on_first_token
                )
            finally:
                self.global_slots.release()
        finally:
            endpoint.release()
