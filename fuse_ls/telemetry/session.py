"""One object for everything that observes a session: the local recorder and, when on, the
OpenTelemetry export. The server and the CLI hold one `TelemetrySession` per editor session
or CLI run and pass its `observe` to the engine, which imports none of this."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fuse_ls.config import TelemetrySettings
from fuse_ls.core.events import FusionEvent
from fuse_ls.telemetry.recorder import Decision, ItemKind, SessionRecorder, Source

log = logging.getLogger(__name__)

# CLI runs in one workspace less than this far apart are one session (as an editor's
# lifetime is): Rudel would class each short run on its own as abandoned.
CLI_CONTINUE_S = 30 * 60.0


class TelemetrySession:
    def __init__(self, recorder: SessionRecorder | None, exporter: Any | None) -> None:
        self.recorder = recorder
        self.exporter = exporter  # OtelObserver, typed loosely: the extra may be absent
        self._observers: list[Callable[[FusionEvent], None]] = [
            o.observe for o in (recorder, exporter) if o is not None
        ]

    def __bool__(self) -> bool:
        return bool(self._observers)

    @property
    def path(self) -> Path | None:
        return self.recorder.path if self.recorder is not None else None

    def observe(self, event: FusionEvent) -> None:
        for observe in self._observers:
            observe(event)  # each observer catches its own failures

    def record_decision(
        self,
        fusion_id: str,
        item_id: str,
        decision: Decision,
        *,
        kind: ItemKind,
        votes: int | None = None,
        pool_size: int | None = None,
        did_not_answer: int | None = None,
        not_waited_for: int | None = None,
    ) -> None:
        if self.recorder is not None:
            self.recorder.record_decision(
                fusion_id,
                item_id,
                decision,
                kind=kind,
                votes=votes,
                pool_size=pool_size,
                did_not_answer=did_not_answer,
                not_waited_for=not_waited_for,
            )

    def close(self) -> None:
        for part in (self.recorder, self.exporter):
            if part is not None:
                try:
                    part.close()
                except Exception:
                    log.exception("closing telemetry failed")


def open_session(
    t: TelemetrySettings,
    workspace: Path,
    *,
    source: Source,
    version: str,
    base_url: str | None = None,
) -> TelemetrySession:
    """The session's observers as the `telemetry` settings ask; `base_url` (the
    provider's) names the GenAI provider in spans. Never raises (telemetry must not stop
    a server or a CLI run); a missing `otel` extra is reported once in the log."""
    recorder = None
    if t.enabled:
        try:
            recorder = SessionRecorder(
                t,
                workspace,
                source=source,
                version=version,
                continue_within_s=CLI_CONTINUE_S if source == "cli" else None,
            )
        except Exception:
            log.exception("telemetry recorder unavailable")
    exporter = None
    # OTEL_SDK_DISABLED is the standard switch that turns every OpenTelemetry SDK off.
    if t.otel and os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true":
        try:
            from fuse_ls.telemetry.otel import OtelObserver
        except ImportError:
            log.warning(
                "telemetry.otel is on but OpenTelemetry is not installed: install "
                "fuse-ls with its otel extra (in a clone: pip install -e '.[otel]')"
            )
        else:
            from fuse_ls.telemetry.otel import CLI_EXPORT_TIMEOUT_S, CLOSE_WAIT_S, timeout_is_set

            # A CLI run must not sit at exit on a collector that is down: short exports,
            # unless the user chose the timeout. The server's exports run in the
            # background; only its close (the editor waits on it) is bounded.
            cli_own = source == "cli" and not timeout_is_set()
            try:
                exporter = OtelObserver(
                    endpoint=t.otel_endpoint,
                    content=t.otel_content,
                    base_url=base_url,
                    version=version,
                    export_timeout_s=CLI_EXPORT_TIMEOUT_S if cli_own else None,
                    close_wait_s=None if source == "cli" and not cli_own else CLOSE_WAIT_S,
                )
            except Exception:
                log.exception("OpenTelemetry export unavailable")
    return TelemetrySession(recorder, exporter)
