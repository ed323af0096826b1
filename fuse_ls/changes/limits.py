"""Concurrency limits for a whole change review: a global cap on model calls in flight
and a cap per endpoint, shared by every unit's fusion.

Calls that finish a unit (the judge, debate rounds) go ahead of calls that start new
units, so units complete steadily and wall time stays near the critical path of the
schedule the limits allow. `Retry-After` is honoured by the provider's retries; the
slot stays held while a rate-limited call waits, so a throttled endpoint gets no more
calls in the meantime.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

from fuse_ls.core.types import ChatRequest, ChatResponse
from fuse_ls.fusion.provider import ChatClient

POOL_SCHEMAS = frozenset({"review_findings"})


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


class LimitedChatClient(ChatClient):
    """A ChatClient whose calls wait for a global and a per-endpoint slot."""

    def __init__(
        self,
        *args: object,
        global_limit: int,
        per_endpoint: int,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
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
