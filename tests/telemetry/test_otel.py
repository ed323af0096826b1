"""OpenTelemetry export: the real engine against the model emulator, observed by the exporter.

In memory (the SDK's exporter and reader) for what the spans and metrics say, and over the
wire (OTLP/HTTP to a loopback receiver that decodes the protobuf with opentelemetry-proto)
for what a collector receives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is part of the test extra")

from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode
from otlp_collector import Collector, attributes, spans_of
from telemetry_events import run_engine

from fuse_ls.config import Settings, replace
from fuse_ls.core.errors import FuseError
from fuse_ls.emulator import Emulator
from fuse_ls.telemetry.otel import OtelObserver
from fuse_ls.telemetry.session import open_session
from tests.pool_sample import JUDGE, A, B, C, pool_settings

# Built at runtime so no committed file carries a token-shaped string.
SECRET = "ghp_" + "Zz9" * 12
CODE = f'def load(x):\n    TOKEN = "{SECRET}"\n    return eval(x)\n'


def settings_for(emu: Emulator, tmp_path: Path, mode: str = "merge") -> Settings:
    return pool_settings(emu.base_url, tmp_path / "data", mode, {"retries.max_attempts": 1})


async def run(settings: Settings, observe: Any, task: str = "review") -> Any:
    return await run_engine(settings, CODE, observe, task, instruction="look for injection")


FAULTY = {
    "models": {
        C: {"fault": {"kind": "http", "status": 429, "message": "slow down"}},
        "*": {"cached_tokens": 100},
    }
}


def in_memory(content: bool = False) -> tuple[OtelObserver, InMemorySpanExporter, Any]:
    spans = InMemorySpanExporter()
    metrics = InMemoryMetricReader()
    obs = OtelObserver(
        content=content,
        base_url="https://openrouter.ai/api/v1",
        version="0.1.0",
        span_processor=SimpleSpanProcessor(spans),
        metric_reader=metrics,
    )
    return obs, spans, metrics


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for s in spans:
        out.setdefault(s.name, []).append(s)
    return out


@pytest.mark.parametrize("mode", ["merge", "best-of", "debate"])
async def test_one_trace_per_fusion_with_genai_spans(tmp_path: Path, mode: str) -> None:
    obs, exporter, _ = in_memory()
    with Emulator(FAULTY) as emu:
        s = settings_for(emu, tmp_path, mode)
        review = await run(s, obs.observe)
        await run(s, obs.observe, "explain")
    obs.close()
    spans = exporter.get_finished_spans()
    roots = [sp for sp in spans if sp.parent is None]
    assert [r.name for r in roots] == ["fuse-ls review", "fuse-ls explain"]
    assert len({r.context.trace_id for r in roots}) == 2  # one trace per fusion
    for sp in spans:
        if sp.parent is not None:  # every call span belongs to its fusion's trace
            root = next(r for r in roots if r.context.trace_id == sp.context.trace_id)
            assert sp.parent.span_id == root.context.span_id
    rv = roots[0].attributes or {}
    assert rv["fuse_ls.mode"] == mode and rv["fuse_ls.task"] == "review"
    assert rv["fuse_ls.quorum.outcome"] == "degraded"  # C failed, the fusion went on
    assert rv["fuse_ls.pool.size"] == 3 and rv["fuse_ls.pool.answered"] == 2
    assert list(rv["fuse_ls.findings.votes"]) == [f.votes for f in review.findings]  # type: ignore[arg-type]
    assert rv["fuse_ls.cost_usd"] == pytest.approx(review.total_cost_usd)

    calls = by_name(tuple(sp for sp in spans if sp.parent is not None))
    ok = calls[f"chat {A}"][0]
    attrs = ok.attributes or {}
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == A and attrs["gen_ai.response.model"] == A
    assert attrs["gen_ai.provider.name"] == "openrouter"
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0  # type: ignore[operator]
    assert attrs["fuse_ls.role"] == "pool" and attrs["fuse_ls.cost_usd"] > 0  # type: ignore[operator]
    assert ok.end_time is not None and ok.start_time is not None and ok.end_time > ok.start_time
    bad = calls[f"chat {C}"][0]
    assert bad.status.status_code is StatusCode.ERROR
    assert (bad.attributes or {})["error.type"] == "rate_limited"
    judged = [sp for sp in spans if (sp.attributes or {}).get("fuse_ls.role") == "judge"]
    if (rv.get("fuse_ls.judge.status")) == "ok":
        assert judged and all(sp.name == f"chat {JUDGE}" for sp in judged)
    # No code, instruction or answer unless opted in.
    for sp in spans:
        for value in (sp.attributes or {}).values():
            assert "eval(x)" not in str(value) and "injection" not in str(value)


async def test_metrics_per_model(tmp_path: Path) -> None:
    obs, _, reader = in_memory()
    with Emulator(FAULTY) as emu:
        await run(settings_for(emu, tmp_path), obs.observe)
    data = reader.get_metrics_data()
    points: dict[str, list[Any]] = {}
    for rm in data.resource_metrics:
        assert rm.resource.attributes["service.name"] == "fuse-ls"
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    obs.close()
    tokens = points["gen_ai.client.token.usage"]
    models = {p.attributes["gen_ai.request.model"] for p in tokens}
    assert {A, B} <= models
    kinds = {p.attributes["gen_ai.token.type"] for p in tokens}
    assert kinds == {"input", "output"}
    durations = points["gen_ai.client.operation.duration"]
    failed = [p for p in durations if p.attributes["gen_ai.request.model"] == C]
    assert failed and all(p.attributes["error.type"] == "error" for p in failed)
    cost = {p.attributes["gen_ai.request.model"]: p.value for p in points["fuse_ls.cost"]}
    assert cost[A] > 0 and C not in cost


async def test_content_only_when_opted_in_and_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A key in flight (the emulator wants it): content export must not carry it either.
    key = "emu-key-" + "8b3e" * 6
    monkeypatch.setenv("FUSE_TEST_EMU_KEY", key)
    obs, exporter, _ = in_memory(content=True)
    with Emulator({"models": {"*": {}}}, require_key=key) as emu:
        s = replace(settings_for(emu, tmp_path), {"provider.api_key_env": "FUSE_TEST_EMU_KEY"})
        await run(s, obs.observe, "explain")
    obs.close()
    [root] = [sp for sp in exporter.get_finished_spans() if sp.parent is None]
    attrs = root.attributes or {}
    assert "eval(x)" in str(attrs["fuse_ls.code"]) and attrs["fuse_ls.instruction"]
    text = " ".join(
        str(v) for sp in exporter.get_finished_spans() for v in (sp.attributes or {}).values()
    )
    assert SECRET not in text and "[REDACTED:github-token]" in text
    assert key not in text
    assert any("fuse_ls.answer" in (sp.attributes or {}) for sp in exporter.get_finished_spans())


async def test_failed_fusion_is_an_error_trace(tmp_path: Path) -> None:
    obs, exporter, _ = in_memory()
    down = {"models": {"*": {"fault": {"kind": "http", "status": 503}}}}
    with Emulator(down) as emu, pytest.raises(FuseError):
        await run(settings_for(emu, tmp_path), obs.observe)
    obs.close()
    [root] = [sp for sp in exporter.get_finished_spans() if sp.parent is None]
    assert root.status.status_code is StatusCode.ERROR
    assert (root.attributes or {})["fuse_ls.quorum.outcome"] == "not_reached"


def test_observer_never_raises(tmp_path: Path) -> None:
    from fuse_ls.core import events as ev

    obs, exporter, _ = in_memory()
    broken: Any = ev.FusionFinished(fusion_id="nope", result=None)  # type: ignore[arg-type]
    obs.observe(broken)  # no result, no root span
    obs.observe(ev.JudgeFinished(fusion_id="nope", model=JUDGE, judge=None))  # type: ignore[arg-type]
    assert exporter.get_finished_spans() == ()
    obs.close()
    obs.observe(ev.FusionStarted(fusion_id="late"))  # after close: ignored
    assert exporter.get_finished_spans() == ()


# --- over the wire ----------------------------------------------------------------------


@pytest.fixture
def collector() -> Iterator[Collector]:
    with Collector() as c:
        yield c


async def test_otlp_http_export_reaches_a_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collector: Collector
) -> None:
    """Configured the standard way (OTEL_EXPORTER_OTLP_* variables) and switched on in
    settings, through the same `open_session` the server and the CLI use."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=platform")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "fuse-ls-ci")
    with Emulator(FAULTY) as emu:
        s = settings_for(emu, tmp_path)
        s = replace(s, {"telemetry.enabled": False})  # the export works without the local recording
        s = replace(s, {"telemetry.otel": True})
        session = open_session(s.telemetry, tmp_path, source="cli", version="0.1.0")
        assert session.recorder is None and session.exporter is not None
        await run(s, session.observe)
        session.close()  # flushes both exporters

    spans = spans_of(collector)
    names = sorted(sp.name for sp in spans)
    assert "fuse-ls review" in names and f"chat {A}" in names and f"chat {C}" in names
    roots = [sp for sp in spans if not sp.parent_span_id]
    [root] = roots
    assert all(sp.trace_id == root.trace_id for sp in spans)
    root_attrs = attributes(root.attributes)
    assert root_attrs["fuse_ls.quorum.outcome"] == "degraded"
    call = next(sp for sp in spans if sp.name == f"chat {B}")
    call_attrs = attributes(call.attributes)
    assert call_attrs["gen_ai.request.model"] == B
    assert call_attrs["gen_ai.usage.output_tokens"] > 0
    resource = attributes(collector.traces[0].resource_spans[0].resource.attributes)
    assert resource["service.name"] == "fuse-ls-ci"
    assert all(h.get("x-team") == "platform" for h in collector.headers)
    metric_names = {
        m.name
        for req in collector.metrics
        for rm in req.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= metric_names


async def test_settings_endpoint_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, collector: Collector
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")  # nobody there
    with Emulator({"models": {"*": {}}}) as emu:
        s = settings_for(emu, tmp_path)
        s = replace(s, {"telemetry.otel": True})
        s = replace(s, {"telemetry.otel_endpoint": collector.url})
        session = open_session(s.telemetry, tmp_path, source="cli", version="0.1.0")
        await run(s, session.observe, "explain")
        session.close()
    assert [sp.name for sp in spans_of(collector) if not sp.parent_span_id] == ["fuse-ls explain"]
    assert session.recorder is not None and session.path is not None  # both, side by side


def test_otel_sdk_disabled_turns_the_export_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = Settings()
    s = replace(s, {"telemetry.otel": True})
    s = replace(s, {"telemetry.data_dir": str(tmp_path / "data")})
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    session = open_session(s.telemetry, tmp_path, source="cli", version="0.1.0")
    assert session.exporter is None and session.recorder is not None
    session.close()
