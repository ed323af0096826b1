"""The load run: 200 reviews through one real language server against the emulator on
loopback, 20 at a time, with a realistic sprinkle of provider faults. Every request gets
an answer, no review is lost to an unexpected error, and the server stays up.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.emulator import Emulator
from tests.lsp_sample import SOURCE
from tests.server.conftest import JUDGE, script, start_session

REVIEWS = 200
IN_FLIGHT = 20


@pytest.mark.slow
async def test_200_reviews_under_faults(
    emulator_factory: Callable[..., Emulator],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw = script(
        fast=5,
        mid=10,
        slow=15,
        faults={
            "emu/mid": [{"kind": "http", "status": 429, "retry_after": 0.05, "times": 30}],
            "emu/slow": [
                {"kind": "cut", "times": 15},
                {"kind": "http", "status": 502, "times": 15},
            ],
        },
    )
    raw["models"][JUDGE]["faults"] = [{"kind": "invalid_json", "times": 10}]
    emu = emulator_factory(raw)
    session, stop = await start_session("neovim", emu, tmp_path)
    counts: Counter[str] = Counter()
    problems: list[str] = []
    gate = asyncio.Semaphore(IN_FLIGHT)
    began = time.perf_counter()
    try:
        uris = [session.open(f"mod_{i:03}.py", SOURCE) for i in range(REVIEWS)]

        async def review(uri: str) -> None:
            async with gate:
                try:
                    result: Any = await asyncio.wait_for(
                        session.execute_async("fuse-ls.review", {"uri": uri}), 120
                    )
                except Exception as exc:  # no answer, or a JSON-RPC error: both are bugs
                    problems.append(f"{uri}: {type(exc).__name__}: {exc}"[:300])
                    counts["unexpected"] += 1
                    return
            if "error" in result:
                kind = "all models failed" if result.get("failed") else "unexpected"
                if kind == "unexpected":
                    problems.append(f"{uri}: {result['error']}"[:300])
                counts[kind] += 1
            elif result.get("cancelled"):
                counts["cancelled"] += 1
            elif result.get("failed") or result.get("notes"):
                counts["degraded"] += 1
            else:
                counts["completed"] += 1

        await asyncio.gather(*(review(uri) for uri in uris))
        # Still serving: one more review after the storm.
        after = await session.execute("fuse-ls.review", {"uri": uris[0]})
        assert "error" not in after and after["findings"]
    finally:
        await stop()
    wall = time.perf_counter() - began
    calls = sum(1 for r in emu.requests if r.path.endswith("/chat/completions"))
    faults = sum(1 for r in emu.requests if r.fault is not None)
    with capsys.disabled():
        print(
            f"\nload run: {REVIEWS} reviews, {IN_FLIGHT} at a time, {calls} model calls "
            f"({faults} faulted) in {wall:.1f}s: "
            + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        )
    assert sum(counts.values()) == REVIEWS
    assert counts["unexpected"] == 0, "\n".join(problems)
    assert counts["cancelled"] == 0 and counts["all models failed"] == 0
    assert faults > 0
