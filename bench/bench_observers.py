"""What observing a fusion costs: the local recorder, the OpenTelemetry export, both.

    .venv/bin/python bench/bench_observers.py [--sessions 300]

Events are those of a generated corpus (fuse_ls/telemetry/synthetic.py: the same
fusions `bench_stats.py` records), replayed through each observer; the OpenTelemetry
export uses the SDK's real batch processor and metric instruments with an exporter
that drops what it gets, so the network is not measured. A benchmark, not a test: it
prints microseconds per event side by side and exits 0.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from fuse_ls.config import TelemetrySettings
from fuse_ls.core.events import FusionEvent
from fuse_ls.telemetry import synthetic
from fuse_ls.telemetry.otel import OtelObserver
from fuse_ls.telemetry.recorder import SessionRecorder
from fuse_ls.telemetry.session import TelemetrySession


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def capture(n: int, root: Path) -> list[list[FusionEvent]]:
    """The events of `n` generated sessions, one list per session."""
    sessions: list[list[FusionEvent]] = []

    class Capturing(SessionRecorder):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            sessions.append([])

        def observe(self, event: FusionEvent) -> None:
            sessions[-1].append(event)
            super().observe(event)

    real = synthetic.SessionRecorder
    synthetic.SessionRecorder = Capturing  # type: ignore[misc]
    try:
        rng = random.Random(7)
        settings = TelemetrySettings(data_dir=str(root / "capture"))
        for i in range(n):
            synthetic.generate_session(rng, settings, 1_750_000_000.0 + i * 3600)
    finally:
        synthetic.SessionRecorder = real  # type: ignore[misc]
    return sessions


def run(sessions: list[list[FusionEvent]], make: Callable[[int], Any], repeat: int = 3) -> float:
    """Best seconds over `repeat` replays of every session through a fresh observer."""
    best = float("inf")
    for r in range(repeat):
        observers = [make(r * len(sessions) + i) for i in range(len(sessions))]
        t = time.perf_counter()
        for obs, events in zip(observers, sessions, strict=True):
            for event in events:
                obs.observe(event)
            obs.close()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=300)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="fuse-ls-bench-") as tmp:
        root = Path(tmp)
        sessions = capture(args.sessions, root)
        n_events = sum(len(s) for s in sessions)

        def recorder(i: int) -> SessionRecorder:
            settings = TelemetrySettings(data_dir=str(root / f"rec{i}"))
            return SessionRecorder(
                settings, Path("/work/app"), source="server", version="0", git_branch="main"
            )

        def otel(_i: int) -> OtelObserver:
            return OtelObserver(
                span_processor=BatchSpanProcessor(_Drop()), metric_reader=InMemoryMetricReader()
            )

        def both(i: int) -> TelemetrySession:
            return TelemetrySession(recorder(i), otel(i))

        print(f"{len(sessions):,} sessions, {n_events:,} events")
        base = None
        for name, make in (("recorder", recorder), ("otel", otel), ("both", both)):
            seconds = run(sessions, make)
            per = seconds / n_events * 1e6
            base = base or per
            print(f"{name:9}: {per:7.1f} us/event  ({per / base:4.2f}x recorder)")


if __name__ == "__main__":
    main()
