"""`fuse-ls serve --tcp` and `--ws`: LSP on a local port, closed to web pages.

A port on 127.0.0.1 is reachable from every web page the user opens. A page cannot read
the answer of a cross-origin `fetch`, but its POST still arrives: HTTP headers, among
them `Content-Length`, then a body the page chose, which an LSP reader that skips
unknown header lines takes for a message. A page may also open a WebSocket to any port.
Through either, a page could push editor settings (which are the user's: check commands,
endpoints, key variables) into the running server. So a TCP connection whose first line
is not an LSP header is closed unread, a WebSocket handshake that carries an `Origin`
(every browser sends one; editors do not) is refused unless the user allowed that
origin, and one client is served at a time: a second connection would take over the
first one's replies.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Sequence
from typing import Any

from pygls.exceptions import JsonRpcException
from pygls.io_ import run_async, run_websocket
from pygls.lsp.server import LanguageServer

log = logging.getLogger(__name__)

# The headers LSP defines; a first line of anything else (an HTTP request line) is not LSP.
_LSP_HEADER = re.compile(rb"^Content-(Length|Type):", re.IGNORECASE)


class ListenError(Exception):
    """The address could not be listened on (in use, not this machine's, no permission)."""


class _FirstLineBack:
    """The connection's reader with its first line, already read, handed back first."""

    def __init__(self, reader: asyncio.StreamReader, first: bytes) -> None:
        self._reader = reader
        self._first: bytes | None = first

    async def readline(self) -> bytes:
        if self._first is not None:
            line, self._first = self._first, None
            return line
        return await self._reader.readline()

    async def readexactly(self, n: int) -> bytes:
        return await self._reader.readexactly(n)


def _why(exc: OSError) -> str:
    # asyncio words it "error while attempting to bind on address (...): address already
    # in use"; the last part is what the user needs.
    text = exc.strerror or str(exc)
    return text.rsplit(": ", 1)[-1]


def _report(server: LanguageServer) -> Any:
    def report(error: Exception, source: type[JsonRpcException]) -> None:
        server.report_server_error(error, source)

    return report


def serve_tcp(server: LanguageServer, host: str, port: int) -> None:
    """Like pygls' `start_tcp`, for one LSP client at a time and no web page."""
    stop = threading.Event()
    server._stop_event = stop
    busy = asyncio.Lock()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            first = await reader.readline()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            first = b""
        if not _LSP_HEADER.match(first) or busy.locked():
            why = "not an LSP client" if first and not busy.locked() else "another client"
            log.warning("refused a TCP connection (%s): first line %r", why, first[:60])
            writer.close()
            return
        async with busy:
            server.protocol.set_writer(writer)
            await run_async(
                stop_event=stop,
                reader=_FirstLineBack(reader, first),
                protocol=server.protocol,
                logger=log,
                error_handler=_report(server),
            )
        server.shutdown()  # type: ignore[no-untyped-call]

    async def main() -> None:
        try:
            listener = await asyncio.start_server(connection, host, port)
        except OSError as exc:
            raise ListenError(f"cannot listen on {host}:{port}: {_why(exc)}") from exc
        server._server = listener
        log.info("Serving on %s", ", ".join(str(s.getsockname()) for s in listener.sockets))
        async with listener:
            await listener.serve_forever()

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        log.debug("TCP server cancelled")


def serve_ws(server: LanguageServer, host: str, port: int, origins: Sequence[str] = ()) -> None:
    """Like pygls' `start_ws`, for one client at a time; `origins` are the web origins
    (`http://localhost:3000`) allowed to connect besides clients that send none."""
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.typing import Origin

    stop = threading.Event()
    server._stop_event = stop
    busy = asyncio.Lock()

    async def connection(websocket: ServerConnection) -> None:
        if busy.locked():
            log.warning("refused a WebSocket connection: another client is connected")
            await websocket.close(1013, "fuse-ls serves one client at a time")
            return
        async with busy:
            await run_websocket(
                stop_event=stop,
                websocket=websocket,
                protocol=server.protocol,
                logger=log,
                error_handler=_report(server),
            )
        server.shutdown()  # type: ignore[no-untyped-call]

    async def main() -> None:
        # websockets answers 403 to a handshake whose Origin is not listed; None is "no
        # Origin header", what editors and other non-browser clients send.
        allowed: list[Origin | None] = [None, *(Origin(o) for o in origins)]
        try:
            started = await serve(connection, host, port, origins=allowed)
        except OSError as exc:
            raise ListenError(f"cannot listen on {host}:{port}: {_why(exc)}") from exc
        async with started as listener:
            server._server = listener
            log.info("Serving on %s", ", ".join(str(s.getsockname()) for s in listener.sockets))
            await listener.serve_forever()

    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        log.debug("WebSocket server cancelled")
