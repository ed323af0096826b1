"""The session file itself: Claude-Code-shaped lines, the parent chain, rotation, pruning.

`TranscriptWriter` knows nothing of fusions (that is the recorder's job): it writes lines,
creates the file lazily with its `session_start` line, and rotates to a new linked file
before Rudel's analytics limits (see store.HARD_MAX_LINES / HARD_MAX_BYTES).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from fuse_ls.config import TelemetrySettings
from fuse_ls.telemetry import store
from fuse_ls.telemetry.transcript import FUSE_KEY, SCHEMA_VERSION, iso_timestamp, new_uuid

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
        if self._file is None:
            return
        self.write("system", None, facts, subtype="fuse_ls_session_end", content=content)
        self._file.close()

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
