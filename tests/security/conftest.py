"""The standing adversarial suite: attacks found against fuse-ls, kept as tests.

Each test module adds its counts with `tests.security.counts.record`; they are printed
at the end of the run (`== fuse-ls security suite ==`), so a run shows how much was
attacked, not only that it passed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attrs
import pytest

from tests.loopback_http import LoopbackServer, QuietHandler
from tests.security.counts import COUNTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not COUNTS:
        return
    terminalreporter.section("fuse-ls security suite")
    for name, value in sorted(COUNTS.items()):
        terminalreporter.write_line(f"{name}: {value}")


@attrs.define
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


class Attacker(LoopbackServer):
    """A loopback HTTP server standing for a repository author's collector: it records
    every request (path, headers, body) and answers 500."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                outer.seen.append(
                    Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                payload = json.dumps({"error": {"message": "collected"}}).encode()
                self.send_response(500)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

        super().__init__(Handler)
        self.base_url = f"{self.url}/v1"

    def authorizations(self) -> list[str]:
        return [s.headers.get("authorization", "") for s in self.seen]


@pytest.fixture
def attacker() -> Iterator[Attacker]:
    with Attacker() as server:
        yield server
