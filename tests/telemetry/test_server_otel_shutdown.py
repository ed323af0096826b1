"""An editor's shutdown of a real `fuse-ls serve` exporting to a collector that takes the
connection and never answers: the server answers the shutdown in seconds, not after its
exporters' 10 s timeout per signal, one after the other (the editor waits on it)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import init_options, script, start_session

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is part of the test extra")


async def test_shutdown_does_not_wait_on_a_silent_collector(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(script())
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshakes; no one ever reads
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        options = init_options(telemetry={"otel": True, "otelEndpoint": url})
        lsp, _ = await start_session("neovim", emu, tmp_path, options)
        uri = lsp.open()
        await lsp.execute("fuse-ls.review", {"uri": uri})  # spans and metrics to send
        shutdown = asyncio.ensure_future(lsp.client.shutdown_session())
        # Generous: the bounded close takes about 2.5 s; it took 20 s.
        answered, _ = await asyncio.wait({shutdown}, timeout=8)
        await shutdown  # then the exit, so the server always ends
        await lsp.client.stop()
    assert answered, "the server's shutdown waited on a silent collector for over 8 s"
