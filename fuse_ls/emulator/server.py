# Over 500 lines: the emulated OpenRouter HTTP surface and its fault injection (tests, demo).
"""The emulator's HTTP side: an OpenRouter-compatible server on loopback.

The chat endpoint is a raw ASGI app rather than a Starlette endpoint: it must watch for
the client going away while it streams (to record early disconnects and stop work at
once), and it must stay cheap when a benchmark holds ~1000 streams open on two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from types import TracebackType
from typing import Any

import uvicorn
from attrs import define, field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from fuse_ls.emulator import answers
from fuse_ls.emulator.script import EmulatorScript, Fault, ModelScript, parse_script

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

KEEPALIVE = b": OPENROUTER PROCESSING\n\n"
# Chunks are sized so that each sleep is at least this long: thousands of concurrent
# streams must not spend their CPU waking up for 1 ms sleeps.
MIN_SLEEP_MS = 50.0
HOLD_POLL_S = 0.01  # how often a held answer looks whether it was released
CHARS_PER_TOKEN = 4

DEFAULT_ERRORS = {
    400: "Invalid request",
    401: "No auth credentials found",
    402: "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
    403: 'Your input was flagged for "harassment"',
    408: "Request timed out",
    429: "Rate limit exceeded: too many requests per minute",
    500: "Internal Server Error",
    502: "Provider returned error",
    503: "No endpoints found that can handle the requested parameters",
}


@define
class RequestRecord:
    """What the emulator saw of one request (the Authorization value is never kept)."""

    path: str
    model: str = ""
    schema: str | None = None
    stream: bool = False
    headers: dict[str, str] = field(factory=dict)
    body: dict[str, Any] = field(factory=dict)
    received_at: float = field(factory=time.time)
    status: int | None = None
    fault: str | None = None
    completed: bool = False  # the whole answer was sent
    disconnected: bool = False  # the client went away before the answer was complete
    ended_at: float | None = None


class _State:
    def __init__(self, script: EmulatorScript, require_key: str | None) -> None:
        self.script = script
        self.require_key = require_key
        self.requests: list[RequestRecord] = []
        self.fired: dict[tuple[str, int], int] = {}
        self.open_streams = 0
        # Models whose answers wait before the first token until released (Emulator.hold):
        # tests order events by state instead of by latency.
        self.held: set[str] = set()
        self.ids = itertools.count(1)
        self.closing: asyncio.Future[None] | None = None

    def next_fault(self, model: str, schema: str | None) -> Fault | None:
        # Faults apply in order: each fires for its first `times` matching requests,
        # so [429 x1, 500 x1] answers 429, then 500, then normally.
        script = self.script
        key = model if model in script.models else "*"
        for index, fault in enumerate(script.for_model(model).faults):
            if fault.schemas and (schema or "text") not in fault.schemas:
                continue
            fired = self.fired.get((key, index), 0)
            if fault.times is not None and fired >= fault.times:
                continue
            self.fired[(key, index)] = fired + 1
            return fault
        return None


def _json_bytes(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


async def _send_json(
    send: Send, status: int, payload: object, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = _json_bytes(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message}}


class ChatApp:
    """`POST .../chat/completions`."""

    def __init__(self, state: _State) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        record = RequestRecord(path=str(scope.get("path", "")))
        state.requests.append(record)
        raw = await _read_body(receive)
        if raw is None:
            record.disconnected = True
            return
        record.headers = _headers(scope)
        if state.require_key is not None:
            given = record.headers.get("authorization", "")
            if given != f"Bearer {state.require_key}":
                await self._fail(send, record, 401, "No auth credentials found")
                return
            record.headers["authorization"] = "[redacted]"
        elif "authorization" in record.headers:
            record.headers["authorization"] = "[redacted]"
        try:
            body = json.loads(raw)
        except ValueError:
            await self._fail(send, record, 400, "Request body is not valid JSON")
            return
        if not isinstance(body, dict):
            await self._fail(send, record, 400, "Request body must be a JSON object")
            return
        record.body = body
        model = body.get("model")
        record.stream = bool(body.get("stream"))
        response_format = body.get("response_format")
        if isinstance(response_format, dict):
            schema = response_format.get("json_schema")
            if isinstance(schema, dict) and isinstance(schema.get("name"), str):
                record.schema = schema["name"]
        messages = body.get("messages")
        if not isinstance(model, str) or not model:
            await self._fail(send, record, 400, "No model provided")
            return
        record.model = model
        if not isinstance(messages, list) or not messages:
            await self._fail(send, record, 400, "Input required: specify messages")
            return
        if not state.script.knows(model):
            await self._fail(send, record, 400, f"{model} is not a valid model ID")
            return
        # Only the user's words carry data blocks: a system prompt that *mentions* a tag
        # (say "<response> blocks") must not be parsed as one, as a real model would not.
        text = "\n".join(
            str(m.get("content", ""))
            for m in messages
            if isinstance(m, Mapping) and m.get("role", "user") == "user"
        )
        billed = sum(len(str(m.get("content", ""))) for m in messages if isinstance(m, Mapping))
        window = state.script.for_model(model).context_length
        if math.ceil(billed / CHARS_PER_TOKEN) > window:
            # As OpenRouter does: a prompt over the model's window is refused, not cut.
            await self._fail(
                send,
                record,
                400,
                f"This endpoint's maximum context length is {window} tokens. However, you "
                f"requested about {math.ceil(billed / CHARS_PER_TOKEN)} tokens.",
            )
            return
        fault = state.next_fault(model, record.schema)
        record.fault = fault.kind if fault is not None else None
        if fault is not None and fault.kind == "http":
            retry = (
                [(b"retry-after", f"{fault.retry_after:g}".encode())]
                if fault.retry_after is not None
                else []
            )
            message = fault.message or DEFAULT_ERRORS.get(fault.status, "Error")
            await self._fail(send, record, fault.status, message, retry)
            return
        exchange = _Exchange(state, record, model, text, fault, billed)
        await _race(state, record, receive, exchange.respond(send), send)

    async def _fail(
        self,
        send: Send,
        record: RequestRecord,
        status: int,
        message: str,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        record.status = status
        await _send_json(send, status, _error_body(status, message), headers)
        record.completed = True
        record.ended_at = time.time()


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _race(
    state: _State,
    record: RequestRecord,
    receive: Receive,
    responder: Awaitable[None],
    send: Send,
) -> None:
    """Run `responder` until done, the client disconnects, or the emulator closes."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    work = asyncio.ensure_future(responder)
    watch = asyncio.ensure_future(disconnected())
    waits: set[asyncio.Future[Any]] = {work, watch}
    if state.closing is not None:
        waits.add(state.closing)
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not work.done():
            work.cancel()
        watch.cancel()
        await asyncio.gather(work, watch, return_exceptions=True)
    failed = work.done() and not work.cancelled() and work.exception() is not None
    if failed and not record.completed and record.status is None:
        raise work.exception()  # type: ignore[misc]  # uvicorn answers 500 and logs it
    if not record.completed:
        record.disconnected = watch.done() and not watch.cancelled()
        record.ended_at = time.time()
        if not record.disconnected:
            # Closing down: end the response so the server can shut the connection cleanly.
            try:
                if record.status is None:
                    record.status = 503
                    await _send_json(send, 503, _error_body(503, "Emulator shutting down"))
                else:
                    await send({"type": "http.response.body", "body": b""})
            except Exception:  # the client may be gone too; nothing left to do
                pass


class _Exchange:
    """One chat answer: timing, content, usage and the injected fault."""

    def __init__(
        self,
        state: _State,
        record: RequestRecord,
        model: str,
        prompt_text: str,
        fault: Fault | None,
        prompt_chars: int,
    ) -> None:
        self.state = state
        self.record = record
        self.model = model
        self.prompt_text = prompt_text
        self.prompt_chars = prompt_chars  # every message is billed, the system prompt too
        self.fault = fault
        self.script: ModelScript = state.script.for_model(model)
        self.answer_model = self.script.answer_model or model
        self.id = f"gen-emu-{next(state.ids)}-{int(time.time())}"
        self.finish_reason = "stop"

    def content(self) -> str:
        if self.fault is not None and self.fault.kind == "empty":
            return ""
        if self.fault is not None and self.fault.kind == "content":
            return self._capped(self.fault.content)
        schema = self.record.schema
        content = answers.answer(self.state.script, self.model, schema, self.prompt_text)
        if schema is not None and self.fault is not None:
            if self.fault.kind == "invalid_json":
                content = answers.truncated_json(content)
            elif self.fault.kind == "ignore_response_format":
                content = answers.wrapped_in_prose(content)
        return self._capped(content)

    def _capped(self, content: str) -> str:
        """Like a real provider, stop at `max_tokens` with finish_reason "length"."""
        limit = self.record.body.get("max_tokens")
        if (
            self.script.honour_max_tokens
            and isinstance(limit, int)
            and not isinstance(limit, bool)
            and limit > 0
        ):
            chars = limit * CHARS_PER_TOKEN
            if len(content) > chars:
                self.finish_reason = "length"
                return content[:chars]
        return content

    def usage(self, content: str) -> dict[str, Any]:
        price = self.state.script.price_for(self.model)
        prompt_tokens = max(math.ceil(self.prompt_chars / CHARS_PER_TOKEN), 1)
        completion_tokens = math.ceil(len(content) / CHARS_PER_TOKEN) + self.script.reasoning_tokens
        cached = min(self.script.cached_tokens, prompt_tokens)
        read_price = float(price.input_cache_read or price.prompt)
        cost = (
            (prompt_tokens - cached) * float(price.prompt)
            + cached * read_price
            + completion_tokens * float(price.completion)
            + float(price.request)
        )
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": self.script.reasoning_tokens},
        }
        if self.script.report_cost:
            usage["cost"] = cost
        return usage

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        payload = {
            "id": self.id,
            "provider": "Emulator",
            "model": self.answer_model,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + _json_bytes(payload) + b"\n\n"

    def _error_event(self) -> bytes:
        assert self.fault is not None
        message = self.fault.message or "Provider disconnected unexpectedly"
        payload = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.answer_model,
            "error": {"code": self.fault.status, "message": message},
            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
        }
        return b"data: " + _json_bytes(payload) + b"\n\n"

    async def _wait_first_token(self, send: Send | None) -> None:
        """Sleep the time to first token, sending keep-alive comments when streaming."""
        if self.fault is not None and self.fault.kind == "hang":
            await self._hang(send)
        remaining = self.script.ttft_ms / 1000
        interval = max(self.script.keepalive_ms / 1000, 0.05)
        while remaining > 0:
            step = min(remaining, interval)
            await asyncio.sleep(step)
            remaining -= step
            if send is not None and remaining > 0:
                await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})
        while self.model in self.state.held:
            await asyncio.sleep(HOLD_POLL_S)
            if send is not None:
                await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})

    async def _hang(self, send: Send | None) -> None:
        interval = max(self.script.keepalive_ms / 1000, 0.05)
        while True:  # until the client disconnects or the emulator closes (see _race)
            await asyncio.sleep(interval)
            if send is not None:
                await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})

    def _pieces(self, content: str) -> list[tuple[str, float]]:
        """(chunk, seconds to sleep after it): a few tokens per chunk, see MIN_SLEEP_MS."""
        token_ms = self.script.token_ms
        tokens = 32 if token_ms <= 0 else max(4, math.ceil(MIN_SLEEP_MS / token_ms))
        size = CHARS_PER_TOKEN * tokens
        pieces = []
        for start in range(0, len(content), size):
            piece = content[start : start + size]
            pieces.append((piece, token_ms * math.ceil(len(piece) / CHARS_PER_TOKEN) / 1000))
        return pieces

    async def respond(self, send: Send) -> None:
        if self.record.stream:
            await self._stream(send)
        else:
            await self._whole(send)

    async def _stream(self, send: Send) -> None:
        record = self.record
        self.state.open_streams += 1
        try:
            record.status = 200
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/event-stream"),
                        (b"cache-control", b"no-cache"),
                        (b"x-generation-id", self.id.encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": KEEPALIVE, "more_body": True})
            await self._wait_first_token(send)
            content = self.content()
            pieces = self._pieces(content)
            kind = self.fault.kind if self.fault is not None else None
            stop_at = len(pieces) // 2 if kind in ("cut", "error_event") else len(pieces)
            loop = asyncio.get_running_loop()
            due = loop.time()
            for index, (piece, delay) in enumerate(pieces[:stop_at]):
                delta = (
                    {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
                )
                await send(
                    {"type": "http.response.body", "body": self._chunk(delta), "more_body": True}
                )
                if delay > 0:
                    # Sleep to a schedule so per-chunk overheads do not add up.
                    due += delay
                    await asyncio.sleep(max(due - loop.time(), 0))
            if kind == "cut":
                tail = b""
            elif kind == "error_event":
                tail = self._error_event() + b"data: [DONE]\n\n"
            else:
                usage = {
                    "id": self.id,
                    "provider": "Emulator",
                    "model": self.answer_model,
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "choices": [],
                    "usage": self.usage(content),
                }
                tail = (
                    self._chunk({}, self.finish_reason)
                    + b"data: "
                    + _json_bytes(usage)
                    + b"\n\ndata: [DONE]\n\n"
                )
            record.completed = True
            await send({"type": "http.response.body", "body": tail})
            record.ended_at = time.time()
        finally:
            self.state.open_streams -= 1

    async def _whole(self, send: Send) -> None:
        await self._wait_first_token(None)
        content = self.content()
        total = sum(delay for _, delay in self._pieces(content))
        if total > 0:
            await asyncio.sleep(total)
        kind = self.fault.kind if self.fault is not None else None
        headers = [(b"x-generation-id", self.id.encode())]
        record = self.record
        record.status = 200
        record.completed = True
        if kind == "error_event":
            message = (self.fault.message if self.fault else None) or "Provider returned error"
            status = self.fault.status if self.fault else 502
            await _send_json(send, 200, _error_body(status, message), headers)
        else:
            payload = {
                "id": self.id,
                "provider": "Emulator",
                "model": self.answer_model,
                "object": "chat.completion",
                "created": int(time.time()),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": self.finish_reason,
                    }
                ],
                "usage": self.usage(content),
            }
            body = _json_bytes(payload)
            if kind == "cut":
                body = body[: len(body) // 2]
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        *headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        record.ended_at = time.time()


def _models_payload(script: EmulatorScript) -> dict[str, Any]:
    data = []
    for model_id, model in script.catalogue().items():
        price = script.price_for(model_id)
        pricing = {"prompt": price.prompt, "completion": price.completion, "request": price.request}
        if price.input_cache_read is not None:
            pricing["input_cache_read"] = price.input_cache_read
        data.append(
            {
                "id": model_id,
                "name": model.name or model_id,
                "context_length": model.context_length,
                "pricing": pricing,
                "supported_parameters": [
                    "max_tokens",
                    "temperature",
                    "response_format",
                    "structured_outputs",
                ],
            }
        )
    return {"data": data}


def build_app(state: _State) -> Starlette:
    async def models(_: Request) -> JSONResponse:
        return JSONResponse(_models_payload(state.script))

    chat = ChatApp(state)
    return Starlette(
        routes=[
            Route("/api/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/api/v1/models", models, methods=["GET"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


class Emulator:
    """An OpenRouter-compatible model server on loopback.

    `with Emulator(...) as emu:` runs it in a background thread with its own event loop;
    `async with Emulator(...) as emu:` runs it as tasks on the current loop.
    """

    def __init__(
        self,
        script: EmulatorScript | Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        require_key: str | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._state = _State(parse_script(script), require_key)
        self._app = build_app(self._state)
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._serving: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not started"
        return f"Emulator({where}, requests={len(self._state.requests)})"

    # --- what tests look at -----------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/api/v1"

    @property
    def requests(self) -> list[RequestRecord]:
        return self._state.requests

    @property
    def open_streams(self) -> int:
        return self._state.open_streams

    @property
    def script(self) -> EmulatorScript:
        return self._state.script

    def set_script(self, script: EmulatorScript | Mapping[str, Any] | None) -> None:
        """Change behaviour; fault counters start again from zero."""
        self._state.script = parse_script(script)
        self._state.fired = {}

    def hold(self, *models: str) -> None:
        """Answers of these models (current and future) wait before their first token
        until `release`: a test can see what happens while they are outstanding."""
        self._state.held.update(models)

    def release(self, *models: str) -> None:
        """Let held models answer; no arguments: all of them."""
        if models:
            self._state.held.difference_update(models)
        else:
            self._state.held.clear()

    def reset(self) -> None:
        """Forget recorded requests and fault counters."""
        self._state.requests.clear()
        self._state.fired = {}

    def wait_until(self, predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
        """Poll `predicate` from sync code (the server runs in its own thread)."""
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    async def until(self, predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    # --- running ----------------------------------------------------------------------

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self._port = int(sock.getsockname()[1])
        return sock

    async def _serve(self, sock: socket.socket, ready: Callable[[], None]) -> None:
        config = uvicorn.Config(
            self._app,
            loop="asyncio",
            http="h11",
            lifespan="off",
            access_log=False,
            log_level="warning",
            # Longer than the client's keep-alive expiry, so the server never closes a
            # connection the client is about to reuse.
            timeout_keep_alive=60,
            backlog=4096,
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._state.closing = asyncio.get_running_loop().create_future()
        await server.startup(sockets=[sock])
        ready()
        try:
            await self._stop.wait()
        finally:
            await self._shutdown(server)

    async def _shutdown(self, server: uvicorn.Server) -> None:
        # uvicorn's own shutdown polls every 0.1 s; tests start and stop emulators often.
        for listener in server.servers:
            listener.close()
        if self._state.closing is not None and not self._state.closing.done():
            self._state.closing.set_result(None)
        for connection in list(server.server_state.connections):
            connection.shutdown()
        deadline = time.monotonic() + 2.0
        # uvicorn offers no event for "all connections closed"; poll briefly.
        while server.server_state.connections and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        leftovers = list(server.server_state.tasks)
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=1.0)
        for connection in list(server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.close()

    # sync: a background thread with its own loop

    def start(self) -> Emulator:
        if self._thread is not None or self._serving is not None:
            raise RuntimeError("the emulator is already running")
        sock = self._bind()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(self._serve(sock, started.set))
            except BaseException as exc:  # reported to start()'s caller
                failure.append(exc)
                started.set()

        self._thread = threading.Thread(target=run, name="fuse-ls-emulator", daemon=True)
        self._thread.start()
        started.wait(10.0)
        if failure:
            self._thread = None
            raise RuntimeError(f"the emulator failed to start: {failure[0]}")
        return self

    def stop(self) -> None:
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already finished
                loop.call_soon_threadsafe(stop.set)
        thread.join(10.0)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # async: tasks on the caller's loop

    async def astart(self) -> Emulator:
        if self._thread is not None or self._serving is not None:
            raise RuntimeError("the emulator is already running")
        sock = self._bind()
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def set_ready() -> None:
            if not ready.done():
                ready.set_result(None)

        self._serving = asyncio.create_task(self._serve(sock, set_ready))
        done, _ = await asyncio.wait({ready, self._serving}, return_when=asyncio.FIRST_COMPLETED)
        if self._serving in done:
            self._serving.result()
        return self

    async def astop(self) -> None:
        serving = self._serving
        if serving is None:
            return
        if self._stop is not None:
            self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(serving), 10.0)
        except TimeoutError:
            serving.cancel()
        self._serving = None

    async def __aenter__(self) -> Emulator:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()
