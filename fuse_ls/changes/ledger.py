"""The daily spend ledger as a change review writes it: off the event loop."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from fuse_ls.fusion.budget import SpendLedger


class ThreadedLedger(SpendLedger):
    """The daily spend ledger, written from a worker thread: a locked rewrite of the
    day's file after every unit must not stall the run's other streams. `spent` counts
    what is still being written; `flush` waits for it and says what could not be."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self._writes: list[asyncio.Future[str | None]] = []
        self._unwritten = 0.0

    def add(self, usd: float, day: dt.date | None = None) -> str | None:
        if usd <= 0:
            return None
        self._unwritten += usd

        def written(_: object) -> None:  # on the event loop, like the addition above
            self._unwritten -= usd

        write = asyncio.get_running_loop().run_in_executor(None, SpendLedger.add, self, usd, day)
        write.add_done_callback(written)
        self._writes.append(write)
        return None

    def spent(self, day: dt.date | None = None) -> float:
        return super().spent(day) + self._unwritten

    async def flush(self) -> list[str]:
        failed = [why for why in await asyncio.gather(*self._writes) if why]
        self._writes.clear()
        if not failed:
            return []
        return [
            f"this run's spend could not be added to the daily spend ledger ({failed[0]}), "
            "so budget.max_usd_per_day does not count it; point telemetry.data_dir (or "
            "FUSE_LS_DATA_DIR) at a writable directory"
        ]
