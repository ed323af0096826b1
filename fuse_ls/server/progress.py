"""What the user sees while a fusion runs: work-done progress and fuse/* notifications.

`FusionReporter` turns the engine's `FusionEvent`s into progress reports and the
`fuse/modelStatus` / `fuse/fusionStatus` notifications of docs/protocol.md, and feeds
`SessionStats` (the `fuse-ls.stats` command). It only formats and sends; the server
decides when a fusion starts, ends or is cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from attrs import define, field

from fuse_ls.core.counts import counted
from fuse_ls.core.errors import named
from fuse_ls.core.events import (
    ChecksFinished,
    ChecksStarted,
    FusionEvent,
    JudgeFailed,
    JudgeFinished,
    JudgeStarted,
    ModelFailed,
    ModelFinished,
    ModelStarted,
    ModelStreaming,
    RoundStarted,
)
from fuse_ls.core.types import (
    CandidateResult,
    FusionResult,
    JudgeResult,
    Task,
    Usage,
)
from fuse_ls.safetext import bidi_shown

Notify = Callable[[str, Any], None]
ModelState = Literal["started", "streaming", "finished", "failed", "cancelled"]
FusionState = Literal["started", "judging", "finished", "failed", "cancelled"]

MODEL_STATUS = "fuse/modelStatus"
FUSION_STATUS = "fuse/fusionStatus"

TITLES: dict[Task, str] = {
    "review": "Fused review",
    "explain": "Explain with consensus",
    "fix": "Fused fix",
}


@define
class ModelStats:
    calls: int = 0
    failures: int = 0
    cost_usd: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_total_s: float = 0.0
    latency_count: int = 0

    def as_json(self) -> dict[str, Any]:
        mean = self.latency_total_s / self.latency_count if self.latency_count else None
        return {
            "calls": self.calls,
            "failures": self.failures,
            "costUsd": round(self.cost_usd, 6),
            "promptTokens": self.prompt_tokens,
            "completionTokens": self.completion_tokens,
            "meanLatencyMs": None if mean is None else round(mean * 1000, 1),
        }


@define
class SessionStats:
    """Per server session totals, for `fuse-ls.stats` and `sessionCostUsd`."""

    fusions: int = 0
    cost_usd: float = 0.0
    models: dict[str, ModelStats] = field(factory=dict)

    def record_candidate(self, c: CandidateResult) -> None:
        self._record_call(c.model, c.status, c.usage, c.latency_s)

    def record_judge(self, j: JudgeResult) -> None:
        if j.status != "skipped":
            self._record_call(j.model, j.status, j.usage, j.latency_s)

    def _record_call(self, model: str, status: str, usage: Usage, latency_s: float | None) -> None:
        s = self.models.setdefault(model, ModelStats())
        s.calls += 1
        if status == "error":
            s.failures += 1
        s.cost_usd += usage.cost_usd or 0.0
        s.prompt_tokens += usage.prompt_tokens
        s.completion_tokens += usage.completion_tokens
        if latency_s is not None and status == "ok":
            s.latency_total_s += latency_s
            s.latency_count += 1
        self.cost_usd += usage.cost_usd or 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "fusions": self.fusions,
            "costUsd": round(self.cost_usd, 6),
            "models": {m: s.as_json() for m, s in self.models.items()},
        }


def _seconds(s: float | None) -> str:
    return "?" if s is None else (f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s")


def failure_summary(failed: tuple[CandidateResult, ...]) -> str:
    return "; ".join(named(c.model, c.error or "failed") for c in failed)


class FusionReporter:
    """Progress and notifications for one fusion.

    `progress` is set by the server once the client accepted a fresh progress token (and
    only when the client supports work-done progress); until then reports are skipped.
    """

    def __init__(
        self,
        *,
        notify: Notify,
        progress: Callable[[str, dict[str, Any]], None] | None,
        stats: SessionStats,
        fusion_id: str,
        uri: str,
        task: Task,
        pool_size: int,
        in_flight: Callable[[], int],
    ) -> None:
        self._notify = notify
        self._progress = progress
        self.stats = stats
        self.fusion_id = fusion_id
        self.uri = uri
        self.task = task
        self.pool_size = pool_size
        self._in_flight = in_flight
        self._states: dict[int, tuple[str, ModelState]] = {}
        self.cost_usd = 0.0
        self.answered = 0
        self.failed: list[CandidateResult] = []

    # --- progress ------------------------------------------------------------------

    def set_progress(self, progress: Callable[[str, dict[str, Any]], None] | None) -> None:
        self._progress = progress

    def _report(self, kind: str, message: str, percentage: int | None = None) -> None:
        if self._progress is None:
            return
        value: dict[str, Any] = {"message": bidi_shown(message)}
        if percentage is not None:
            value["percentage"] = percentage
        if kind == "begin":
            value["title"] = f"fuse-ls: {TITLES[self.task]}"
            value["cancellable"] = True
        self._progress(kind, value)

    def begin(self) -> None:
        self._report("begin", f"asking {counted(self.pool_size, 'model')}", 0)
        self._fusion_status("started")

    def end(self, state: FusionState, message: str) -> None:
        for index, (model, model_state) in self._states.items():
            if state == "cancelled" and model_state in ("started", "streaming"):
                self._model_status(model, index, "cancelled")
        self._report("end", message)
        self._progress = None  # nothing may follow an end on the same token
        self._fusion_status(state)

    def _percentage(self) -> int:
        done = self.answered + len(self.failed)
        return min(80, int(80 * done / max(self.pool_size, 1)))

    # --- events --------------------------------------------------------------------

    def on_event(self, event: FusionEvent) -> None:
        match event:
            case ModelStarted():
                self._on_model_started(event)
            case ModelStreaming():
                self._on_model_streaming(event)
            case ModelFinished():
                self._on_model_finished(event)
            case ModelFailed():
                self._on_model_failed(event)
            case RoundStarted():
                self._report("report", f"debate round {event.round}", self._percentage())
            case JudgeStarted():
                self._on_judge_started(event)
            case JudgeFinished():
                self._on_judge_finished(event)
            case JudgeFailed():
                self._on_judge_failed(event)
            case ChecksStarted():
                whose = f"{event.model}'s fix" if event.model else "the fused fix"
                self._report("report", f"running the checks on {whose}", 80)
            case ChecksFinished():
                whose = f"{event.model}'s fix" if event.model else "the fused fix"
                self._report("report", f"{whose}: {event.report.summary()}", 80)

    def _on_model_started(self, e: ModelStarted) -> None:
        self._model_status(e.model or "?", e.index or 0, "started")
        self._report("report", f"{e.model} started", self._percentage())

    def _on_model_streaming(self, e: ModelStreaming) -> None:
        self._model_status(e.model or "?", e.index or 0, "streaming", latency_s=e.elapsed_s)
        self._report(
            "report",
            f"{e.model} streaming (first token after {_seconds(e.elapsed_s)})",
            self._percentage(),
        )

    def _on_model_finished(self, e: ModelFinished) -> None:
        c = e.candidate
        self.answered += 1
        self.cost_usd += c.usage.cost_usd or 0.0
        self.stats.record_candidate(c)
        self._model_status(c.model, c.index, "finished", latency_s=c.latency_s, cost=c.cost_usd)
        self._report(
            "report",
            f"{c.model} answered in {_seconds(c.latency_s)} "
            f"({self.answered}/{self.pool_size} models)",
            self._percentage(),
        )
        self._fusion_status("started")

    def _on_model_failed(self, e: ModelFailed) -> None:
        c = e.candidate
        self.failed.append(c)
        self.stats.record_candidate(c)
        self.cost_usd += c.usage.cost_usd or 0.0
        error = c.error or "failed"
        self._model_status(c.model, c.index, "failed", latency_s=c.latency_s, error=error)
        self._report("report", f"{c.model} failed after {_seconds(c.latency_s)}: {error}")

    def _on_judge_started(self, e: JudgeStarted) -> None:
        self._report("report", f"judge {e.model or ''} is fusing {self.answered} answers", 85)
        self._fusion_status("judging")

    def _on_judge_finished(self, e: JudgeFinished) -> None:
        j = e.judge
        self.stats.record_judge(j)
        self.cost_usd += j.usage.cost_usd or 0.0
        detail = j.skipped_reason or f"done in {_seconds(j.latency_s)}"
        self._report("report", f"judge {detail}", 95)

    def _on_judge_failed(self, e: JudgeFailed) -> None:
        j = e.judge
        self.stats.record_judge(j)
        error = j.error or e.message or "failed"
        self._report("report", f"judge failed ({error}); using the unjudged answers", 95)

    # --- notifications -------------------------------------------------------------

    def _model_status(
        self,
        model: str,
        index: int,
        state: ModelState,
        *,
        latency_s: float | None = None,
        cost: float | None = None,
        error: str | None = None,
    ) -> None:
        self._states[index] = (model, state)
        payload: dict[str, Any] = {
            "fusionId": self.fusion_id,
            "uri": self.uri,
            "task": self.task,
            "model": model,
            "index": index,
            "state": state,
        }
        if latency_s is not None:
            payload["latencyMs"] = round(latency_s * 1000, 1)
        if cost is not None:
            payload["costUsd"] = cost
        if error is not None:
            payload["error"] = bidi_shown(error)  # shown in the editor's status
        self._notify(MODEL_STATUS, payload)

    def _fusion_status(self, state: FusionState) -> None:
        in_flight = self._in_flight()
        if state in ("finished", "failed", "cancelled"):
            # This fusion is still registered while it announces its own end.
            in_flight = max(in_flight - 1, 0)
        self._notify(
            FUSION_STATUS,
            {
                "fusionId": self.fusion_id,
                "uri": self.uri,
                "task": self.task,
                "state": state,
                "inFlight": in_flight,
                "costUsd": round(self.cost_usd, 6),
                "sessionCostUsd": round(self.stats.cost_usd, 6),
            },
        )


def end_message(result: FusionResult, what: str) -> str:
    """The last progress line: what came out, who answered, who failed and why."""
    answered = len(result.answered)
    total = len(result.candidates)
    text = f"{what} from {answered}/{total} models in {_seconds(result.wall_time_s)}"
    if result.judge is not None and result.judge.status == "skipped":
        text += f"; judge skipped ({result.judge.skipped_reason or 'not needed'})"
    if result.failed:
        text += f"; failed: {failure_summary(result.failed)}"
    return text
