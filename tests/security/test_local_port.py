"""`fuse-ls serve --tcp` / `--ws` listen on 127.0.0.1, which every web page the user
opens can reach: a cross-origin `fetch` POST arrives as HTTP headers (one of them
`Content-Length`) and a body the page chose, and a page may open a WebSocket anywhere.
Neither may reach the language server (a pushed didChangeConfiguration is the user's
settings: check commands, endpoints, key variables). Editors still connect."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.pool_sample import isolated_env
from tests.security.counts import record

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> int:
        port = _free_port()
        log = tmp_path / f"serve-{port}.log"
        command = [sys.executable, "-m", "fuse_ls", "serve", *args, "--port", str(port)]
        process = subprocess.Popen(
            [*command, "--log-file", str(log)],
            env=isolated_env(tmp_path / "home"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        deadline = time.monotonic() + 30
        while "Serving on" not in (log.read_text() if log.exists() else ""):
            assert process.poll() is None, "the server exited"
            assert time.monotonic() < deadline, "the server never listened"
            time.sleep(0.05)
        return port

    yield start
    for process in started:
        process.kill()
        process.wait()


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _answer(sock: socket.socket) -> dict[str, Any]:
    sock.settimeout(30)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    answer: dict[str, Any] = json.loads(body[:length])
    return answer


def _browser_post(port: int, message: dict[str, Any]) -> bytes:
    """What a page's `fetch("http://127.0.0.1:PORT/", {method: "POST", mode: "no-cors",
    body})` sends, and whatever comes back before the connection closes."""
    body = json.dumps(message).encode()
    request = (
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: keep-alive\r\n"
        b"Content-Length: %d\r\nOrigin: https://evil.example\r\n"
        b"Content-Type: text/plain;charset=UTF-8\r\nAccept: */*\r\n\r\n" % (port, len(body))
    ) + body
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        sock.settimeout(30)
        got = b""
        while chunk := sock.recv(65536):
            got += chunk
            if b"jsonrpc" in got:
                break
    return got


def test_tcp_a_web_pages_post_is_not_an_lsp_message(serve: Any) -> None:
    port = serve("--tcp")
    assert _browser_post(port, INITIALIZE) == b""  # closed unread, nothing answered
    with socket.create_connection(("127.0.0.1", port)) as editor:
        editor.sendall(_frame(INITIALIZE))
        assert "capabilities" in _answer(editor)["result"]  # an editor is still served
        # While it is connected, nobody else gets its replies.
        with socket.create_connection(("127.0.0.1", port)) as other:
            other.sendall(_frame({**INITIALIZE, "id": 2}))
            other.settimeout(30)
            assert other.recv(100) == b""
        editor.sendall(_frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"}))
        assert _answer(editor)["id"] == 3
    record("local port: browser requests refused", "tcp")


def test_ws_a_web_page_cannot_connect_unless_allowed(serve: Any) -> None:
    port = serve("--ws", "--allow-origin", "http://localhost:3000")
    url = f"ws://127.0.0.1:{port}"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin="https://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    with connect(url, origin="http://localhost:3000") as page:  # type: ignore[arg-type]
        page.send(json.dumps(INITIALIZE))
        assert "capabilities" in json.loads(page.recv(timeout=30))["result"]
    record("local port: browser requests refused", "ws")


def test_ws_an_editor_without_origin_connects(serve: Any) -> None:
    port = serve("--ws")
    with connect(f"ws://127.0.0.1:{port}") as editor:
        editor.send(json.dumps(INITIALIZE))
        assert "capabilities" in json.loads(editor.recv(timeout=30))["result"]
