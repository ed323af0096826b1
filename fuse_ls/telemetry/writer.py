"""The session file itself: Claude-Code-shaped lines, the parent chain, rotation, pruning.

`TranscriptWriter` knows nothing of fusions (that is the recorder's job): it writes lines,
creates the file lazily with its `session_start` line, and rotates to a new linked file
before Rudel's analytics limits (see store.HARD_MAX_LINES / HARD_MAX_BYTES).

With `continue_within_s` (CLI runs), a run continues the workspace's latest session when
that was a closed CLI session written to within that many seconds: a stretch of CLI work
is one session, as an editor's lifetime is, rather than one session per run. A lock file
held for the run keeps two concurrent runs from writing into the same session.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from fuse_ls.config import TelemetrySettings
from fuse_ls.telemetry import store
from fuse_ls.telemetry.transcript import (
    FUSE_KEY,
    SCHEMA_VERSION,
    iso_timestamp,
    new_uuid,
    parse_timestamp,
)

try:
    import fcntl

    _HAVE_FLOCK = True
except ImportError:  # Windows: runs never continue a session there
    _HAVE_FLOCK = False

log = logging.getLogger(__name__)

# The `entrypoint` of every line: tells our sessions apart from Claude Code's own
# (which write `cli`, `sdk-ts`, ...) in Rudel's raw transcripts and in any tool reading them.
ENTRYPOINT: Final = "fuse-ls"


class TranscriptWriter:
    def __init__(
        self,
        settings: TelemetrySettings,
        workspace: Path,
        *,
        source: str,
        version: str,
        git_branch: str,
        clock: Callable[[], float],
        continue_within_s: float | None = None,
    ) -> None:
        self.settings = settings
        self.workspace = workspace
        self.source = source
        self.version = version
        self.git_branch = git_branch
        self._clock = clock
        self.max_lines = max(10, min(settings.max_lines_per_file, store.HARD_MAX_LINES))
        self.root_session_id = new_uuid()
        self.session_id = self.root_session_id
        self.part = 1
        self._previous_session_id: str | None = None
        self._data_dir: Path | None = None
        self._file: store.AppendOnlyFile | None = None
        self._lines = 0
        self._parent: str | None = None
        self._started_at = clock()
        self._pruned = False
        self._last_timestamp = 0.0
        self._continue_within_s = continue_within_s
        self._lock_fd: int | None = None
        self._lock_path: Path | None = None
        self.continued_cost_usd = 0.0  # what the continued session had cost before this run

    @property
    def path(self) -> Path | None:
        return self._file.path if self._file is not None else None

    def write(
        self,
        line_type: str,
        message: dict[str, Any] | None,
        facts: dict[str, Any],
        *,
        request_id: str | None = None,
        subtype: str | None = None,
        content: str | None = None,
        level: str | None = None,
        at: float | None = None,
    ) -> None:
        if self._file is None:
            self._open_part()
        elif self._lines >= self.max_lines - 1 or self._file.size >= store.HARD_MAX_BYTES:
            self._rotate()
        self._emit(line_type, message, facts, request_id, subtype, content, level, at)

    def close(self, facts: dict[str, Any], content: str) -> None:
        """The session-end line (if anything was written) and release the file."""
        if self._file is not None:
            self.write("system", None, facts, subtype="fuse_ls_session_end", content=content)
            self._file.close()
        self._unlock()

    def _emit(
        self,
        line_type: str,
        message: dict[str, Any] | None,
        facts: dict[str, Any],
        request_id: str | None,
        subtype: str | None,
        content: str | None,
        level: str | None,
        at: float | None = None,
    ) -> None:
        assert self._file is not None
        uid = new_uuid()
        # Key order follows Claude Code's own lines; `fuseLs` must stay last (stats.py).
        line: dict[str, Any] = {
            "parentUuid": self._parent,
            "isSidechain": False,
            "userType": "external",
            "entrypoint": ENTRYPOINT,
            "cwd": str(self.workspace),
            "sessionId": self.session_id,
            "version": self.version,
            "gitBranch": self.git_branch,
            "type": line_type,
        }
        if subtype is not None:
            line["subtype"] = subtype
            line["content"] = content or ""
            line["isMeta"] = False
            line["level"] = level or "info"
        if message is not None:
            line["message"] = message
        if request_id is not None:
            line["requestId"] = request_id
        line["uuid"] = uid
        # Lines written late (a fusion's calls, flushed at its end) keep the time they
        # happened, never earlier than the line before: Rudel measures gaps line to line.
        when = max(self._clock() if at is None else at, self._last_timestamp)
        self._last_timestamp = when
        line["timestamp"] = iso_timestamp(when)
        line[FUSE_KEY] = {k: v for k, v in facts.items() if v is not None}
        self._file.append(store.dumps(line))
        self._parent = uid
        self._lines += 1

    def _open_part(self) -> None:
        root = store.data_dir(self.settings)
        self._data_dir = root
        if self._lines == 0 and self._continue_within_s and self._continue(root):
            return
        path = store.session_path(root, self.workspace, self.session_id)
        store.ensure_dir(path.parent)
        self._file = store.AppendOnlyFile(path)
        self._lines = 0
        self._parent = None
        facts: dict[str, Any] = {
            "event": "session_start",
            "schema": SCHEMA_VERSION,
            "source": self.source,
            "workspace": str(self.workspace),
            "rootSessionId": self.root_session_id,
            "part": self.part,
            "previousSessionId": self._previous_session_id,
            "startedAt": iso_timestamp(self._started_at),
            "pid": os.getpid(),
        }
        self._emit(
            "system",
            None,
            facts,
            None,
            "fuse_ls_session_start",
            f"fuse-ls {self.source} session started",
            "info",
        )
        if not self._pruned:
            self._pruned = True
            self._prune()

    def _rotate(self) -> None:
        assert self._file is not None
        next_id = new_uuid()
        self._emit(
            "system",
            None,
            {"event": "session_end", "reason": "rotated", "nextSessionId": next_id},
            None,
            "fuse_ls_session_end",
            "fuse-ls session continues in the next file",
            "info",
        )
        self._file.close()
        self._previous_session_id = self.session_id
        self.session_id = next_id
        self.part += 1
        self._open_part()

    def _prune(self) -> None:
        try:
            assert self._data_dir is not None and self._file is not None
            store.prune(
                self._data_dir,
                retention_days=self.settings.retention_days,
                max_total_mb=self.settings.max_total_mb,
                keep={self._file.path},
            )
        except Exception as e:
            log.debug("telemetry pruning failed: %s", e)

    # --- continuing a recent CLI session --------------------------------------------------

    def _continue(self, root: Path) -> bool:
        """Append to the workspace's latest session if it is a recent, closed, unlocked CLI
        session with room left; True when this run now writes there."""
        assert self._continue_within_s is not None
        folder = store.session_path(root, self.workspace, "x").parent
        try:
            files = [(p.stat().st_mtime, p) for p in folder.glob("*.jsonl")]
        except OSError:
            return False
        if not files or not _HAVE_FLOCK:
            return False
        mtime, path = max(files)
        if self._clock() - mtime > self._continue_within_s or not self._lock(path):
            return False
        try:
            raw = path.read_bytes()
            if store.complete_bytes(path) != raw:  # torn or damaged: leave it be
                self._unlock()
                return False
            lines = raw.decode("utf-8").splitlines()
            first, last = json.loads(lines[0]), json.loads(lines[-1])
            start, end = first.get(FUSE_KEY, {}), last.get(FUSE_KEY, {})
            if (
                start.get("event") != "session_start"
                or start.get("source") != "cli"
                or (end.get("event"), end.get("reason")) != ("session_end", "closed")
                or last.get("sessionId") != path.stem
                or len(lines) > self.max_lines // 2
                or path.stat().st_size > store.HARD_MAX_BYTES // 2
            ):
                self._unlock()
                return False
            self.continued_cost_usd = sum(
                float(json.loads(ln).get(FUSE_KEY, {}).get("fusionCostUsd") or 0.0)
                for ln in lines
                if '"fusionCostUsd":' in ln
            )
            last_at = parse_timestamp(last["timestamp"])
        except (OSError, ValueError, KeyError, IndexError, AttributeError):
            self._unlock()
            return False
        self.session_id = path.stem
        self.root_session_id = str(start.get("rootSessionId") or path.stem)
        self.part = int(start.get("part") or 1)
        self._previous_session_id = start.get("previousSessionId")
        self._file = store.AppendOnlyFile(path)
        self._lines = len(lines)
        self._parent = last.get("uuid")
        self._last_timestamp = last_at
        facts = {"event": "session_continued", "pid": os.getpid()}
        facts["startedAt"] = iso_timestamp(self._started_at)
        self._emit(
            "system",
            None,
            facts,
            None,
            "fuse_ls_session_continued",
            f"fuse-ls {self.source} session continued",
            "info",
        )
        return True

    def _lock(self, path: Path) -> bool:
        lock_path = path.with_name(path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another run is writing this session right now
            os.close(fd)
            return False
        self._lock_fd, self._lock_path = fd, lock_path
        return True

    def _unlock(self) -> None:
        if self._lock_fd is None:
            return
        with contextlib.suppress(OSError):
            assert self._lock_path is not None
            self._lock_path.unlink()
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)
        self._lock_fd = self._lock_path = None
