"""OpenTelemetry export of fusions: traces and metrics over OTLP/HTTP (the `otel` extra).

An engine observer like the recorder (the engine never imports this module): one trace per
fusion (root span `fuse-ls <task>`), one child span per pool call and per judge call named
and attributed after the GenAI semantic conventions (`gen_ai.operation.name`,
`gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.provider.name`,
`gen_ai.usage.input_tokens` / `output_tokens`, `error.type`), plus ours under `fuse_ls.*`
(mode, role, votes, cost, quorum outcome). Metrics: `gen_ai.client.token.usage`,
`gen_ai.client.operation.duration` and `fuse_ls.cost` per model.

No code, prompt or answer text is exported unless `telemetry.otel_content` is on, and then
only after the secret redactor. Where it goes: `telemetry.otel_endpoint`, else the standard
`OTEL_EXPORTER_OTLP_*` variables (endpoint, headers, timeout, compression, certificates),
read by the OTLP exporter itself; `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES` name it.

Closing is bounded: the exporters retry a collector that is down or silent for up to their
timeout (10 s by default) per signal, one signal after the other, which kept every CLI run
15-20 s at exit. So both signals flush side by side, a CLI run's exporters give up after
`CLI_EXPORT_TIMEOUT_S` unless `OTEL_EXPORTER_OTLP_*TIMEOUT` says otherwise, and a close that
does not finish in time leaves the exporter threads behind and says so in one warning.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricReader,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from fuse_ls.core import hosts
from fuse_ls.core.events import (
    FusionEvent,
    FusionFailed,
    FusionFinished,
    FusionStarted,
    JudgeFailed,
    JudgeFinished,
    JudgeStarted,
    ModelFailed,
    ModelFinished,
    ModelStarted,
)
from fuse_ls.core.redact import redact
from fuse_ls.core.types import CandidateResult, FusionResult, JudgeResult, Usage

log = logging.getLogger(__name__)

SCOPE: Final = "fuse_ls"
# A CLI run's exporters give up on a collector after this (the SDK's default is 10 s, then
# retried per signal); a collector that is up answers in milliseconds.
CLI_EXPORT_TIMEOUT_S: Final = 2.0
# How long `close` waits for the last export: past it the run (or the editor's shutdown)
# goes on and the export threads are left to end on their own.
CLOSE_WAIT_S: Final = CLI_EXPORT_TIMEOUT_S + 0.5
TIMEOUT_ENV: Final = (
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
)
_CONTENT_LIMIT: Final = 16_000  # characters per attribute; collectors drop huge spans
# Vendor prefixes of routed ids -> the semantic conventions' well-known provider names.
_PROVIDERS: Final = {
    "anthropic": "anthropic",
    "openai": "openai",
    "google": "gcp.gemini",
    "x-ai": "x_ai",
    "mistralai": "mistral_ai",
    "deepseek": "deepseek",
    "perplexity": "perplexity",
    "cohere": "cohere",
    "groq": "groq",
}


def provider_name(model: str, base_url: str | None) -> str:
    """`gen_ai.provider.name`: the API we talked to (a router counts as the provider)."""
    if base_url and hosts.is_openrouter(base_url):
        return "openrouter"
    vendor = model.split("/", 1)[0].lower() if "/" in model else ""
    return _PROVIDERS.get(vendor, vendor or "unknown")


def quorum_outcome(result: FusionResult) -> str:
    """`all` answered, `reached` (enough answered, the rest cancelled), `degraded` (some
    failed but the fusion went on)."""
    statuses = {c.status for c in result.candidates}
    if "error" in statuses:
        return "degraded"
    if "cancelled" in statuses:
        return "reached"
    return "all"


def _endpoint(base: str | None, signal: str) -> str | None:
    return f"{base.rstrip('/')}/v1/{signal}" if base else None


def timeout_is_set(env: Mapping[str, str] | None = None) -> bool:
    """Whether the user chose the exporters' timeout (then a CLI run waits for it)."""
    env = os.environ if env is None else env
    return any(env.get(name, "").strip() for name in TIMEOUT_ENV)


def _otlp_exporters(
    endpoint: str | None, timeout_s: float | None, failed: threading.Event
) -> tuple[SpanExporter, MetricExporter]:
    """The OTLP/HTTP exporters, setting `failed` when an export is not taken: with their
    own error lines hidden from a CLI run, `close` reports the outcome once."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    class Spans(OTLPSpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            result = super().export(spans)
            if result is not SpanExportResult.SUCCESS:
                failed.set()
            return result

    class Metrics(OTLPMetricExporter):
        def export(
            self, metrics_data: MetricsData, timeout_millis: float | None = 10_000, **kw: Any
        ) -> MetricExportResult:
            result = super().export(metrics_data, timeout_millis, **kw)
            if result is not MetricExportResult.SUCCESS:
                failed.set()
            return result

    return (
        Spans(endpoint=_endpoint(endpoint, "traces"), timeout=timeout_s),
        Metrics(endpoint=_endpoint(endpoint, "metrics"), timeout=timeout_s),
    )


class OtelObserver:
    """Turns engine events into spans and metrics. `observe` never raises."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        content: bool = False,
        base_url: str | None = None,
        version: str = "",
        span_processor: SpanProcessor | None = None,
        metric_reader: MetricReader | None = None,
        export_timeout_s: float | None = None,
        close_wait_s: float | None = CLOSE_WAIT_S,
    ) -> None:
        """`endpoint`: the collector's base URL (`/v1/traces` and `/v1/metrics` are
        appended); None leaves it to `OTEL_EXPORTER_OTLP_*`. Tests pass their own
        `span_processor` / `metric_reader` (in-memory) instead of the OTLP exporters.
        `export_timeout_s`: each export's budget, retries included (None: the SDK's, from
        `OTEL_EXPORTER_OTLP_*TIMEOUT`); `close_wait_s`: how long `close` waits (None: as
        long as the exporters take)."""
        resource = Resource.create({"service.version": version})
        if str(resource.attributes.get("service.name", "")).startswith("unknown_service"):
            # Named `fuse-ls` unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES say otherwise.
            resource = resource.merge(Resource({"service.name": "fuse-ls"}))
        self._export_failed = threading.Event()
        if span_processor is None or metric_reader is None:
            spans, metrics = _otlp_exporters(endpoint, export_timeout_s, self._export_failed)
            span_processor = span_processor or BatchSpanProcessor(spans)
            metric_reader = metric_reader or PeriodicExportingMetricReader(metrics)
        # Where the exporters send it (the SDK's own default last), for the warning.
        self._where = hosts.shown(
            endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318"
        )
        self._close_wait_s = close_wait_s
        # No exit hooks: `close` flushes (bounded); the SDK's hooks would wait again, unbounded.
        self._tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self._tracer_provider.add_span_processor(span_processor)
        self._meter_provider = MeterProvider(
            resource=resource, metric_readers=[metric_reader], shutdown_on_exit=False
        )
        self._tracer = self._tracer_provider.get_tracer(SCOPE, version)
        self._instruments(self._meter_provider.get_meter(SCOPE, version))
        self.content = content
        self.base_url = base_url
        self._lock = threading.Lock()
        self._roots: dict[str, Span] = {}
        self._calls: dict[tuple[str, str, int, str], Span] = {}  # (fusion, role, index, model)
        self._closed = False
        self._failed_once = False

    def _instruments(self, meter: Meter) -> None:
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Tokens used per call"
        )
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="Model call duration"
        )
        self._cost = meter.create_counter(
            "fuse_ls.cost", unit="USD", description="Cost the provider reported"
        )

    # --- the observer -----------------------------------------------------------------

    def observe(self, event: FusionEvent) -> None:
        if self._closed:
            return
        try:
            with self._lock:
                match event:
                    case FusionStarted():
                        self._on_fusion_started(event)
                    case ModelStarted():
                        self._start_call(
                            event.fusion_id, "pool", event.index, event.model, event.round, None
                        )
                    case JudgeStarted():
                        self._start_call(event.fusion_id, "judge", 0, event.model, 0, None)
                    case ModelFinished() | ModelFailed():
                        cand = event.candidate
                        self._finish_call(event, "pool", cand.index, event.round, cand, cand.text)
                    case JudgeFinished() | JudgeFailed():
                        if event.judge.status != "skipped":
                            judge = event.judge
                            self._finish_call(event, "judge", 0, 0, judge, judge.rationale)
                    case FusionFinished():
                        self._on_fusion_finished(event)
                    case FusionFailed():
                        self._on_fusion_failed(event)
        except Exception as e:  # exporting must never break a fusion
            if not self._failed_once:
                self._failed_once = True
                log.warning("OpenTelemetry export failed; fusions go on without it: %s", e)

    def close(self) -> bool:
        """End what is still open, flush and stop the exporters, both signals at once and
        for at most `close_wait_s`. False (after one warning) when the export did not
        finish: the collector did not answer in time or did not take it."""
        if self._closed:
            return True
        self._closed = True
        try:
            with self._lock:
                for span in [*self._calls.values(), *self._roots.values()]:
                    span.set_attribute("fuse_ls.unfinished", True)
                    span.end()
                self._calls.clear()
                self._roots.clear()
        except Exception as e:
            log.warning("OpenTelemetry shutdown failed: %s", e)
        # Daemon threads: one left waiting on a silent collector does not hold the exit.
        stops = [
            threading.Thread(target=self._stop, args=(stop,), name=f"fuse-ls {name}", daemon=True)
            for name, stop in (
                ("trace export", self._tracer_provider.shutdown),
                ("metric export", self._meter_provider.shutdown),
            )
        ]
        for thread in stops:
            thread.start()
        deadline = None if self._close_wait_s is None else time.monotonic() + self._close_wait_s
        for thread in stops:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        late = any(thread.is_alive() for thread in stops)
        if late or self._export_failed.is_set():
            what = (
                f"did not answer within {self._close_wait_s:g} s"
                if late
                else "refused or did not answer"
            )
            log.warning(
                "telemetry export did not finish: the OpenTelemetry collector at %s %s; "
                "traces or metrics are missing there (FUSE_LS_LOG_LEVEL=warning shows the "
                "exporter's errors)",
                self._where,
                what,
            )
            return False
        return True

    @staticmethod
    def _stop(stop: Any) -> None:
        try:
            stop()
        except Exception as e:
            log.warning("OpenTelemetry shutdown failed: %s", e)

    # --- events -----------------------------------------------------------------------

    def _on_fusion_started(self, event: FusionStarted) -> None:
        req = event.request
        task = req.task if req is not None else "fusion"
        attrs: dict[str, Any] = {"fuse_ls.task": task, "fuse_ls.fusion_id": event.fusion_id}
        if req is not None:
            attrs["code.language"] = req.language
            attrs["fuse_ls.code.lines"] = len(req.code.splitlines()) or 1
            if self.content:
                attrs["fuse_ls.code"] = self._text(req.code)
                if req.instruction:
                    attrs["fuse_ls.instruction"] = self._text(req.instruction)
        # Each fusion is its own trace: no parent, whatever context the caller has.
        self._roots[event.fusion_id] = self._tracer.start_span(
            f"fuse-ls {task}",
            context=otel_context.Context(),
            kind=SpanKind.INTERNAL,
            attributes=attrs,
        )

    def _start_call(
        self, fid: str, role: str, index: int, model: str, rnd: int, start_ns: int | None
    ) -> Span:
        root = self._roots.get(fid)
        parent = trace.set_span_in_context(root) if root is not None else otel_context.Context()
        span = self._tracer.start_span(
            f"chat {model}",
            context=parent,
            kind=SpanKind.CLIENT,
            start_time=start_ns,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": model,
                "gen_ai.provider.name": provider_name(model, self.base_url),
                "fuse_ls.role": role,
                "fuse_ls.pool.index": index,
                "fuse_ls.round": rnd,
            },
        )
        old = self._calls.get((fid, role, index, model))
        if old is not None:  # a call that never reported back
            old.end()
        self._calls[(fid, role, index, model)] = span
        return span

    def _finish_call(
        self,
        event: FusionEvent,
        role: str,
        index: int,
        rnd: int,
        who: CandidateResult | JudgeResult,
        text: str,
    ) -> None:
        key = (event.fusion_id, role, index, who.model)
        span = self._calls.pop(key, None)
        if span is None:  # no *_started seen (e.g. a cancelled call): date it back
            start = time.time_ns() - int((who.latency_s or 0.0) * 1e9)
            span = self._start_call(event.fusion_id, role, index, who.model, rnd, start)
            self._calls.pop(key, None)
        usage = who.usage
        span.set_attribute("gen_ai.response.model", who.model)
        span.set_attribute("gen_ai.usage.input_tokens", usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", usage.completion_tokens)
        span.set_attribute("gen_ai.usage.cache_read.input_tokens", usage.cached_tokens)
        span.set_attribute("fuse_ls.status", who.status)
        if usage.cost_usd is not None:
            span.set_attribute("fuse_ls.cost_usd", usage.cost_usd)
        if who.latency_s is not None:
            span.set_attribute("fuse_ls.latency_s", who.latency_s)
        if isinstance(who, CandidateResult) and who.ttft_s is not None:
            span.set_attribute("fuse_ls.ttft_s", who.ttft_s)
        if who.status == "ok":
            if self.content and text:
                span.set_attribute("fuse_ls.answer", self._text(text))
        elif who.status == "error":
            kind = who.error_kind if isinstance(who, CandidateResult) else None
            span.set_attribute("error.type", kind or "error")
            span.set_status(Status(StatusCode.ERROR, self._text(who.error or who.status)[:300]))
        span.end()
        self._record_metrics(role, who.model, usage, who.latency_s, who.status)

    def _record_metrics(
        self, role: str, model: str, usage: Usage, latency_s: float | None, status: str
    ) -> None:
        attrs: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "gen_ai.provider.name": provider_name(model, self.base_url),
            "fuse_ls.role": role,
        }
        if status == "ok" or usage.prompt_tokens or usage.completion_tokens:
            self._tokens.record(usage.prompt_tokens, {**attrs, "gen_ai.token.type": "input"})
            self._tokens.record(usage.completion_tokens, {**attrs, "gen_ai.token.type": "output"})
        if latency_s is not None:
            extra = {} if status == "ok" else {"error.type": status}
            self._duration.record(latency_s, {**attrs, **extra})
        if usage.cost_usd:
            self._cost.add(usage.cost_usd, attrs)

    def _on_fusion_finished(self, event: FusionFinished) -> None:
        result = event.result
        root = self._roots.pop(event.fusion_id, None)
        if root is None:
            return
        self._end_open_calls(event.fusion_id)
        root.set_attribute("fuse_ls.mode", result.mode)
        root.set_attribute("fuse_ls.cost_usd", result.total_cost_usd)
        root.set_attribute("fuse_ls.pool.size", len(result.candidates))
        root.set_attribute("fuse_ls.pool.answered", len(result.answered))
        root.set_attribute("fuse_ls.quorum.outcome", quorum_outcome(result))
        root.set_attribute("fuse_ls.findings.count", len(result.findings))
        root.set_attribute("fuse_ls.findings.votes", [f.votes for f in result.findings])
        if result.judge is not None:
            root.set_attribute("fuse_ls.judge.status", result.judge.status)
        if result.winner:
            root.set_attribute("fuse_ls.winner", result.winner)
        if self.content and result.answer:
            root.set_attribute("fuse_ls.answer", self._text(result.answer))
        root.end()

    def _on_fusion_failed(self, event: FusionFailed) -> None:
        root = self._roots.pop(event.fusion_id, None)
        if root is None:
            return
        self._end_open_calls(event.fusion_id)
        reason = self._text(event.message)[:300]
        cancelled = "cancel" in reason.lower()
        root.set_attribute("fuse_ls.quorum.outcome", "cancelled" if cancelled else "not_reached")
        if not cancelled:
            root.set_attribute("error.type", "fusion_failed")
            root.set_status(Status(StatusCode.ERROR, reason))
        root.end()

    def _end_open_calls(self, fid: str) -> None:
        for key in [k for k in self._calls if k[0] == fid]:
            span = self._calls.pop(key)
            span.set_attribute("fuse_ls.status", "cancelled")
            span.end()

    @staticmethod
    def _text(text: str) -> str:
        return redact(text).text[:_CONTENT_LIMIT]
