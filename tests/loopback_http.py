"""A test's own HTTP server on loopback (collectors, stand-ins for third-party services)."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps test output clean (no access log on stderr)."""

    def log_message(self, *args: object) -> None:
        pass


class LoopbackServer:
    """`handler` served on 127.0.0.1 at a free port from a daemon thread, while in `with`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def forward_proxy(upstream: str, seen: list[str]) -> type[QuietHandler]:
    """A plain HTTP forward proxy that carries every host to `upstream` (the emulator)."""
    parts = urlsplit(upstream)

    class Proxy(QuietHandler):
        def _forward(self) -> None:
            seen.append(self.path)  # absolute-form: the proxy is told where to go
            target = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "proxy-connection"}
            conn.request(self.command, target.path, body=body, headers=headers)
            answer = conn.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_POST = _forward

    return Proxy
