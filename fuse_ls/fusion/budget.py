"""The daily spend ledger behind `budget.max_usd_per_day`.

Kept in one small JSON file per day under the data dir so that every process (the
language server, several CLI runs) sees the same total. It is accounting, not telemetry:
it holds only dates and dollar amounts.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from pathlib import Path

from fuse_ls.core.paths import private_dir


class SpendLedger:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, day: dt.date) -> Path:
        return self.folder / f"{day.isoformat()}.json"

    def spent(self, day: dt.date | None = None) -> float:
        path = self._path(day or dt.date.today())
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return float(data.get("usd", 0.0))
        except (OSError, ValueError, TypeError, AttributeError):
            return 0.0

    def add(self, usd: float, day: dt.date | None = None) -> str | None:
        """Count `usd` for the day. Never raises: a ledger that cannot be written must not
        lose a result that was paid for; the reason is returned for a warning instead."""
        if usd <= 0:
            return None
        try:
            private_dir(self.folder)
            path = self._path(day or dt.date.today())
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            with os.fdopen(fd, "r+", encoding="utf-8") as fh:
                # Several processes may finish a fusion at once: read-modify-write under a lock.
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    current = float(json.loads(fh.read() or "{}").get("usd", 0.0))
                except (ValueError, TypeError, AttributeError):
                    current = 0.0
                fh.seek(0)
                fh.truncate()
                fh.write(json.dumps({"usd": round(current + usd, 8)}))
                fh.flush()
        except OSError as exc:
            return f"{exc.strerror or type(exc).__name__}: {exc.filename or self.folder}"
        return None
