"""The review cache: fused findings per review unit, in SQLite under the data dir.

Several processes (the editor's server and a terminal run) share one database: WAL lets
readers and a writer work at once and the busy timeout makes writers queue instead of
failing. The cache is an optimisation, so every database problem degrades to "not
cached" with a note; a file that is not a usable database is moved aside and rebuilt.
Also holds the per-repository memory of dismissed findings (small, same file).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from fuse_ls.config import Settings
from fuse_ls.core.paths import private_dir

log = logging.getLogger(__name__)

CACHE_FILE = "review-cache.sqlite3"
SCHEMA_VERSION = 1
DEFAULT_MAX_MB = 64
_BUSY_MS = 5000


@frozen
class CacheStats:
    path: str
    entries: int
    size_bytes: int
    hits: int
    dismissed: int
    max_bytes: int


def cache_path(settings: Settings) -> Path:
    """Where the cache lives: the data dir shared by the CLI and the language server."""
    from fuse_ls.core.paths import data_dir

    return data_dir(settings.telemetry.data_dir) / CACHE_FILE


class ReviewCache:
    def __init__(self, path: Path, *, max_bytes: int = DEFAULT_MAX_MB * 1024 * 1024) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.notes: list[str] = []
        self._db: sqlite3.Connection | None = None

    # --- connection -------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection | None:
        if self._db is not None:
            return self._db
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            # Not a database (or a broken one): keep it for inspection, start again.
            self._move_aside(str(exc))
            try:
                self._db = self._connect()
            except sqlite3.Error as again:
                self.notes.append(f"review cache unavailable ({again}); nothing is cached")
                return None
        except (sqlite3.Error, OSError) as exc:
            self.notes.append(f"review cache unavailable ({exc}); nothing is cached")
            return None
        return self._db

    def _connect(self) -> sqlite3.Connection:
        private_dir(self.path.parent)  # the data dir: the cache holds code (fixes)
        db = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            row = db.execute("PRAGMA quick_check").fetchone()
            if row is None or row[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {row}")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"unknown cache schema version {version}")
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS units (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    created REAL NOT NULL,
                    used REAL NOT NULL,
                    hits INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX IF NOT EXISTS units_used ON units(used);
                CREATE TABLE IF NOT EXISTS dismissed (
                    repo TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    created REAL NOT NULL,
                    note TEXT NOT NULL DEFAULT '',
                    PRIMARY KEY (repo, fingerprint)
                );
                """
            )
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            db.close()
            raise
        return db

    def _move_aside(self, reason: str) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            with contextlib.suppress(OSError):
                if src.exists():
                    src.replace(Path(f"{self.path}.corrupt-{stamp}{suffix}"))
        self.notes.append(f"the review cache was unreadable ({reason}); it was rebuilt")
        log.warning("review cache %s rebuilt: %s", self.path, reason)

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[sqlite3.Connection | None]:
        db = self._open()
        try:
            yield db
        except sqlite3.DatabaseError as exc:
            self.notes.append(f"review cache {what} failed ({exc})")
            if "malformed" in str(exc) or "not a database" in str(exc):
                self.close()
                self._move_aside(str(exc))

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def __enter__(self) -> ReviewCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- units ------------------------------------------------------------------------

    def get(self, key: str) -> dict[str, Any] | None:
        with self._guard("read") as db:
            if db is None:
                return None
            row = db.execute("SELECT value FROM units WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE units SET used = ?, hits = hits + 1 WHERE key = ?", (time.time(), key)
            )
            try:
                value = json.loads(row[0])
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
        return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        self.put_many([(key, value)])

    def put_many(self, entries: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Store several units in one transaction, trimmed to the size cap once."""
        if not entries:
            return
        now = time.time()
        rows = []
        for key, value in entries:
            text = json.dumps(value, separators=(",", ":"), sort_keys=True)
            rows.append((key, text, len(text), now, now))
        with self._guard("write") as db:
            if db is None:
                return
            db.executemany(
                "INSERT OR REPLACE INTO units(key, value, size, created, used, hits) "
                "VALUES (?, ?, ?, ?, ?, 0)",
                rows,
            )
            self._trim(db)

    def _trim(self, db: sqlite3.Connection) -> None:
        """Drop the least recently used entries while the total is over the cap."""
        total = db.execute("SELECT COALESCE(SUM(size), 0) FROM units").fetchone()[0]
        if total <= self.max_bytes:
            return
        goal = int(self.max_bytes * 0.9)
        doomed: list[str] = []
        for key, size in db.execute("SELECT key, size FROM units ORDER BY used ASC"):
            if total <= goal:
                break
            doomed.append(key)
            total -= size
        db.executemany("DELETE FROM units WHERE key = ?", [(k,) for k in doomed])

    def stats(self) -> CacheStats:
        entries = size = hits = dismissed = 0
        with self._guard("stats") as db:
            if db is not None:
                entries, size, hits = db.execute(
                    "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(hits), 0) FROM units"
                ).fetchone()
                dismissed = db.execute("SELECT COUNT(*) FROM dismissed").fetchone()[0]
        return CacheStats(str(self.path), entries, size, hits, dismissed, self.max_bytes)

    def clear(self) -> int:
        """Forget every cached unit (dismissed findings stay). Returns how many."""
        with self._guard("clear") as db:
            if db is None:
                return 0
            count = int(db.execute("SELECT COUNT(*) FROM units").fetchone()[0])
            db.execute("DELETE FROM units")
            with contextlib.suppress(sqlite3.Error):
                db.execute("VACUUM")
            return count
        return 0

    # --- dismissed findings -----------------------------------------------------------

    def dismiss(self, repo: str, fingerprint: str, note: str = "") -> None:
        with self._guard("dismiss") as db:
            if db is not None:
                db.execute(
                    "INSERT OR REPLACE INTO dismissed(repo, fingerprint, created, note) "
                    "VALUES (?, ?, ?, ?)",
                    (repo, fingerprint, time.time(), note),
                )

    def undismiss(self, repo: str, fingerprint: str) -> bool:
        with self._guard("undismiss") as db:
            if db is not None:
                cur = db.execute(
                    "DELETE FROM dismissed WHERE repo = ? AND fingerprint = ?", (repo, fingerprint)
                )
                return cur.rowcount > 0
        return False

    def dismissed(self, repo: str) -> set[str]:
        with self._guard("read") as db:
            if db is not None:
                rows = db.execute("SELECT fingerprint FROM dismissed WHERE repo = ?", (repo,))
                return {r[0] for r in rows}
        return set()
