"""Where session transcripts live on disk, and the crash-safe way they are written and read.

Layout (mirrors Claude Code's, but in our own data folder so Claude Code never lists our
sessions in its resume picker)::

    <data dir>/sessions/<encoded workspace>/<session id>.jsonl
    <data dir>/upload-state.json

Writing: every record is one complete line appended with a single ``os.write`` on an
``O_APPEND`` descriptor while holding an exclusive ``fcntl.flock``. ``O_APPEND`` makes the
kernel position each write at the current end of file and the lock keeps writers of
other processes from slipping a write between ours, so lines never interleave. A process
killed during a write can leave at most one torn line at the end; the next append starts
with a newline when the file does not end with one, so the torn fragment stays on a line
of its own and every reader skips it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from fuse_ls.config import TelemetrySettings
from fuse_ls.core import paths
from fuse_ls.core.paths import private_dir

log = logging.getLogger(__name__)

try:  # POSIX only; on Windows appends are still single writes, just unlocked.
    import fcntl

    _HAVE_FLOCK = True
except ImportError:  # pragma: no cover - exercised on Windows only
    _HAVE_FLOCK = False

DIR_MODE = 0o700
FILE_MODE = 0o600
SESSIONS_DIR = "sessions"
UPLOAD_STATE = "upload-state.json"
# Rudel's analytics stop near 8,000 lines or 120 MB per session: rotate well before.
HARD_MAX_LINES = 7500
HARD_MAX_BYTES = 100 * 1024 * 1024


def data_dir(settings: TelemetrySettings | None = None, override: str | Path | None = None) -> Path:
    """The telemetry root: `override` (--data-dir), `settings.data_dir`, the
    FUSE_LS_DATA_DIR environment variable, then the platform data dir (the same folder
    the engine and the server use)."""
    return paths.data_dir(settings.data_dir if settings is not None else None, override)


def encode_workspace(workspace: str | Path) -> str:
    """Claude Code's folder name for a project: the absolute path with `/` and `.` as `-`.

    Backslashes and drive colons are mapped as well so that Windows paths give a valid
    single folder name.
    """
    return re.sub(r"[/\\.:]", "-", str(workspace))


def sessions_root(root: Path) -> Path:
    return root / SESSIONS_DIR


def session_path(root: Path, workspace: str | Path, session_id: str) -> Path:
    return sessions_root(root) / encode_workspace(workspace) / f"{session_id}.jsonl"


ensure_dir = private_dir  # below the data dir, mode 0700 (core.paths)


def dumps(record: dict[str, Any]) -> str:
    """Compact JSON: Rudel matches literal substrings like `"is_error":true`."""
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


class AppendOnlyFile:
    """One JSONL file opened for appending whole lines; safe across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # O_RDWR (not O_WRONLY) so the last byte can be checked with pread under the lock.
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
        self._fd: int | None = os.open(path, flags, FILE_MODE)
        # O_CREAT's mode is masked by the umask, and a pre-existing file may be wider.
        os.chmod(path, FILE_MODE)
        self.size = os.fstat(self._fd).st_size
        self._our_end = -1  # file size right after our last append; -1: check the tail

    def append(self, line: str) -> int:
        """Append `line` (without its newline) as one record; returns the file size after."""
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        data = (line + "\n").encode("utf-8")
        fd = self._fd
        if _HAVE_FLOCK:
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            end = os.fstat(fd).st_size
            # Only when someone else wrote since our last append can the end be torn.
            if end and end != self._our_end and _last_byte(fd, end) != b"\n":
                # A previous writer died mid-line: isolate its fragment on its own line.
                data = b"\n" + data
            _write_all(fd, data)
            self.size = self._our_end = end + len(data)
        finally:
            if _HAVE_FLOCK:
                fcntl.flock(fd, fcntl.LOCK_UN)
        return self.size

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None


def _last_byte(fd: int, end: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, 1, end - 1)
    os.lseek(fd, end - 1, os.SEEK_SET)  # pragma: no cover - Windows; O_APPEND still appends
    return os.read(fd, 1)  # pragma: no cover


def _write_all(fd: int, data: bytes) -> None:
    # A regular-file write is complete in practice; loop only for the pathological short
    # write (e.g. disk nearly full) so that we never leave half a line behind knowingly.
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        if n <= 0:
            raise OSError(errno.EIO, "short write")
        view = view[n:]


# --- reading --------------------------------------------------------------------------


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Every complete JSON object line of `path`, skipping torn or corrupt lines.

    A line without its terminating newline is the last line of a file a killed writer
    left behind (or one being written right now): it is never yielded, even when the
    fragment happens to parse, because it may be a prefix of a longer record.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        log.debug("cannot read %s: %s", path, e)
        return
    yield from parse_records(data)


def parse_records(data: bytes) -> Iterator[dict[str, Any]]:
    end = data.rfind(b"\n")
    if end < 0:
        return
    for raw in data[:end].split(b"\n"):
        if not raw or raw[:1] != b"{":
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            continue  # a torn fragment followed by a newline from the next writer
        if isinstance(obj, dict):
            yield obj


def complete_bytes(path: Path) -> bytes:
    """The file up to and including its last newline, without torn or corrupt lines."""
    data = path.read_bytes()
    end = data.rfind(b"\n")
    if end < 0:
        return b""
    out: list[bytes] = []
    for raw in data[: end + 1].splitlines(keepends=True):
        stripped = raw.rstrip(b"\r\n")
        if not stripped:
            continue
        try:
            obj = json.loads(stripped)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(raw)
    return b"".join(out)


def list_session_files(root: Path) -> list[Path]:
    base = sessions_root(root)
    if not base.is_dir():
        return []
    files: list[Path] = []
    with os.scandir(base) as projects:
        for project in projects:
            if not project.is_dir(follow_symlinks=False):
                continue
            with os.scandir(project.path) as entries:
                for entry in entries:
                    if entry.name.endswith(".jsonl") and entry.is_file(follow_symlinks=False):
                        files.append(Path(entry.path))
    return files


# --- retention ------------------------------------------------------------------------


def prune(
    root: Path,
    *,
    retention_days: int,
    max_total_mb: int,
    keep: set[Path] | None = None,
    now: float | None = None,
) -> list[Path]:
    """Delete session files older than `retention_days`, then the oldest until the total
    is under `max_total_mb`. Files in `keep` (the live session) are never deleted.
    Returns the deleted paths. Empty workspace folders are removed too."""
    if retention_days <= 0 and max_total_mb <= 0:
        return []  # both limits off
    keep = {p.resolve() for p in (keep or set())}
    now = time.time() if now is None else now
    entries: list[tuple[float, int, Path]] = []
    for path in list_session_files(root):
        try:
            st = path.stat()
        except OSError:
            continue
        entries.append((st.st_mtime, st.st_size, path))
    entries.sort()
    deleted: list[Path] = []
    cutoff = now - retention_days * 86400 if retention_days > 0 else None
    total = sum(size for _, size, _ in entries)
    budget = max_total_mb * 1024 * 1024 if max_total_mb > 0 else None
    for mtime, size, path in entries:
        too_old = cutoff is not None and mtime < cutoff
        too_big = budget is not None and total > budget
        if not (too_old or too_big) or path.resolve() in keep:
            continue
        try:
            path.unlink()
        except OSError as e:
            log.debug("cannot prune %s: %s", path, e)
            continue
        total -= size
        deleted.append(path)
    for parent in {p.parent for p in deleted}:
        with contextlib.suppress(OSError):
            parent.rmdir()  # only succeeds when empty
    return deleted


def platform_os() -> str:
    if sys.platform == "darwin":
        return "macos"
    if sys.platform.startswith("win"):
        return "windows"
    return "linux"


def workspace_relative(path: str, workspace: Path) -> str:
    """`path` (a file path or URI) relative to the workspace; a file outside it is only
    its name, since the rest of its path may be private."""
    if path.startswith("file://"):
        path = unquote(urlparse(path).path)
    p = Path(path)
    if p.is_absolute():
        try:
            return p.relative_to(workspace).as_posix()
        except ValueError:
            return p.name
    return p.as_posix()
