"""The session transcript (and OpenTelemetry export): follows the `telemetry` section.

Turning telemetry off mid-session closes the recorder at once (nothing more is written);
turning it on, or pointing it elsewhere, starts a fresh one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fuse_ls import __version__
from fuse_ls.config import TelemetrySettings
from fuse_ls.server.base import Feature, ServerBase

log = logging.getLogger(__name__)


class Recording(Feature):
    def __init__(self, server: ServerBase, workspace: Callable[[], Any]) -> None:
        super().__init__(server)
        self.recorder: Any = None  # SessionRecorder, when telemetry is on
        self._workspace = workspace
        server.subscribe("telemetry", self._telemetry_changed)

    async def initialized(self) -> None:
        self._start(self.server.settings.telemetry)

    def _telemetry_changed(self, _old: TelemetrySettings, new: TelemetrySettings) -> None:
        if not self.server.ready.is_set():
            return  # the first settings: `initialized` starts the recorder
        self._stop()
        self._start(new)

    def _start(self, settings: TelemetrySettings) -> None:
        workspace = self._workspace()
        if not (settings.enabled or settings.otel) or workspace is None:
            return
        try:  # the local recorder and/or the OpenTelemetry export, as settings ask
            from fuse_ls.telemetry.session import open_session

            self.recorder = open_session(
                settings,
                workspace,
                source="server",
                version=__version__,
                base_url=self.server.settings.provider.base_url,
            )
        except Exception:  # telemetry must never stop the server from starting
            log.exception("telemetry recorder unavailable")

    def _stop(self) -> None:
        self.record(lambda r: r.close())
        self.recorder = None

    def record(self, call: Callable[[Any], None]) -> None:
        if self.recorder is None:
            return
        try:
            call(self.recorder)
        except Exception:
            log.exception("telemetry recorder failed")

    async def shutdown(self) -> None:
        self._stop()
