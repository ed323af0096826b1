"""SessionRecorder: turns the engine's FusionEvents into a Rudel-shaped session transcript.

One recorder per server session (per workspace) or per CLI run. It is an engine
`Observer`: `observe` is called on the event loop for every progress event, so it is
cheap (one small JSON line per interesting event, no fsync) and never raises: its own
failures are logged once and then ignored, because telemetry must never break a review.

Privacy: the code under review is recorded only as a SHA-256 and a line count unless
`telemetry.record_content` is true; model answers and the judge's rationale are likewise
summarised (length, finding count) rather than stored. Whatever text is recorded passes
through `redact()` first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from fuse_ls.config import TelemetrySettings
from fuse_ls.core.events import (
    FusionEvent,
    FusionFailed,
    FusionFinished,
    FusionStarted,
    JudgeFailed,
    JudgeFinished,
    ModelFailed,
    ModelFinished,
)
from fuse_ls.core.lines import line_count
from fuse_ls.core.types import CandidateResult, JudgeResult
from fuse_ls.telemetry import store
from fuse_ls.telemetry.gitinfo import current_branch
from fuse_ls.telemetry.ordering import PendingLine, order_for_rudel
from fuse_ls.telemetry.transcript import (
    agreement_facts,
    answer_message,
    call_message,
    decision_text,
    finished_facts,
    finished_summary,
    sha256_hex,
    stable_id,
    text_block,
    usage_facts,
)
from fuse_ls.telemetry.writer import TranscriptWriter

log = logging.getLogger(__name__)

Decision = Literal["applied", "dismissed", "left"]
ItemKind = Literal["finding", "fix"]
Source = Literal["server", "cli"]

# How many recent fusions we remember (task, findings' votes) to annotate later events
# and decisions; older ones still get recorded, just without the lookup.
_FUSION_MEMORY = 256


class SessionRecorder:
    """Writes one session transcript; see the module docstring.

    The file (and its folders) are created lazily on the first recorded line, so a
    server that starts and answers nothing leaves no empty session behind.
    """

    def __init__(
        self,
        settings: TelemetrySettings,
        workspace: Path,
        *,
        source: Source,
        version: str,
        git_branch: str | None = None,
        clock: Callable[[], float] | None = None,
        continue_within_s: float | None = None,
    ) -> None:
        """`git_branch` pins the branch; None reads the workspace's branch when the
        session starts and again at every action, so a long editor session records the
        branch each action ran on. `continue_within_s`: continue the workspace's latest
        closed CLI session when it was written to that recently (see writer.py). `clock`
        (epoch seconds) is for tests and the synthetic corpus."""
        self.settings = settings
        self._clock = clock or time.time
        self.enabled = settings.enabled
        self.workspace = Path(workspace).expanduser().absolute()
        self.source: Source = source
        self.version = version
        self._branch_pinned = git_branch is not None
        self.record_content = settings.record_content
        self._out = TranscriptWriter(
            settings,
            self.workspace,
            source=source,
            version=version,
            git_branch=git_branch if git_branch is not None else self._read_branch(),
            clock=self._clock,
            continue_within_s=continue_within_s,
        )
        self._lock = threading.RLock()
        self._closed = False
        self._failed_once = False
        # fusion id -> {"action": task, "findings": {finding id: FusedFinding}}
        self._fusions: OrderedDict[str, dict[str, Any]] = OrderedDict()
        # Model-call lines of fusions still running, written in Rudel's order at the end
        # (see `_flush`); fusion id -> lines.
        self._pending: dict[str, list[PendingLine]] = {}
        self.session_cost_usd = 0.0

    # --- public API -------------------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The current session file (None until something was recorded)."""
        return self._out.path

    @property
    def root_session_id(self) -> str:
        """Shared by all parts of a rotated session."""
        return self._out.root_session_id

    @root_session_id.setter
    def root_session_id(self, value: str) -> None:  # tests: two recorders, one session
        self._out.root_session_id = value

    @property
    def session_id(self) -> str:
        """The current part's id (its file name)."""
        return self._out.session_id

    @session_id.setter
    def session_id(self, value: str) -> None:
        self._out.session_id = value

    @property
    def max_lines(self) -> int:
        return self._out.max_lines

    @property
    def git_branch(self) -> str:
        return self._out.git_branch

    def observe(self, event: FusionEvent) -> None:
        """Engine observer. Never raises."""
        if not self.enabled or self._closed:
            return
        try:
            with self._lock:
                match event:
                    case FusionStarted():
                        self._on_fusion_started(event)
                    case ModelFinished() | ModelFailed():
                        self._on_model(event)
                    case JudgeFinished() | JudgeFailed():
                        self._on_judge(event)
                    case FusionFinished():
                        self._on_fusion_finished(event)
                    case FusionFailed():
                        self._on_fusion_failed(event)
        except Exception as e:  # telemetry must never break a fusion
            self._report_failure(e)

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
        """The user applied, dismissed or left a finding or fix. Never raises. The votes,
        when the caller does not give them, are the finding's in a fusion recorded here."""
        if not self.enabled or self._closed:
            return
        try:
            with self._lock:
                known = self._fusions.get(fusion_id, {}).get("findings", {}).get(item_id)
                given = (votes, pool_size, did_not_answer, not_waited_for)
                facts = agreement_facts(known, *given)
                self._out.write(
                    "user",
                    {"role": "user", "content": decision_text(kind, decision, facts)},
                    {
                        "event": "decision",
                        "fusionId": fusion_id,
                        "itemId": item_id,
                        "decision": decision,
                        "kind": kind,
                        **facts,
                    },
                )
        except Exception as e:
            self._report_failure(e)

    def close(self) -> None:
        """Write the session-end line (if anything was recorded) and release the file."""
        if self._closed:
            return
        try:
            with self._lock:
                for fusion_id in list(self._pending):
                    self._flush(fusion_id)
                self._out.close(
                    {"event": "session_end", "reason": "closed"}, "fuse-ls session ended"
                )
        except Exception as e:
            self._report_failure(e)
        finally:
            self._closed = True

    def __enter__(self) -> SessionRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- event handlers ---------------------------------------------------------------

    def _on_fusion_started(self, event: FusionStarted) -> None:
        req = event.request
        info = self._remember(event.fusion_id)
        if not self._branch_pinned:
            self._out.git_branch = self._read_branch()
        facts: dict[str, Any] = {"event": "action", "fusionId": event.fusion_id}
        if req is None:
            info["action"] = "unknown"
            facts["action"] = "unknown"
            self._out.write("user", {"role": "user", "content": "[fuse-ls] action"}, facts)
            return
        info["action"] = req.task
        rel = store.workspace_relative(req.path, self.workspace)
        lines = line_count(req.code) or 1  # the editor's line model, as in the request
        digest = sha256_hex(req.code)
        summary = (
            f"fuse-ls {req.task} of {rel} lines {req.start_line}-{req.end_line} "
            f"({req.language}, {lines} lines, sha256 {digest[:12]})"
        )
        content: list[dict[str, Any]] = [text_block(summary)]
        if self.record_content:
            content.append(text_block(self._clean(f"```{req.language}\n{req.code}\n```")))
            if req.instruction:
                content.append(text_block(self._clean(req.instruction)))
        facts.update(
            action=req.task,
            path=rel,
            startLine=req.start_line,
            endLine=req.end_line,
            language=req.language,
            codeSha256=digest,
            codeLines=lines,
            instruction=bool(req.instruction),
        )
        self._out.write("user", {"role": "user", "content": content}, facts)

    def _on_model(self, event: ModelFinished | ModelFailed) -> None:
        cand = event.candidate
        if cand is None:
            return
        if cand.status == "ok":
            self._answer(event, "pool", cand)
        else:
            self._failure(event, "pool", cand)

    def _on_judge(self, event: JudgeFinished | JudgeFailed) -> None:
        judge = event.judge
        if judge is None or judge.status == "skipped":
            return  # no model call happened; fusion_finished records the reason
        if judge.status == "ok":
            self._answer(event, "judge", judge)
        else:
            self._failure(event, "judge", judge)

    def _on_fusion_finished(self, event: FusionFinished) -> None:
        result = event.result
        if result is None:
            return
        self._flush(event.fusion_id)
        info = self._remember(event.fusion_id)
        info["findings"] = {f.id: f for f in result.findings if f.id}
        self._write_system(
            "fuse_ls_fusion_finished",
            finished_summary(result),
            finished_facts(event.fusion_id, result),
        )

    def _on_fusion_failed(self, event: FusionFailed) -> None:
        self._flush(event.fusion_id)
        reason = self._clean(event.message)[:500]
        # A cancellation is the user's choice, not an error: keep it out of error counts.
        cancelled = "cancel" in reason.lower()
        self._write_system(
            "fuse_ls_fusion_failed",
            f"fuse-ls fusion {'cancelled' if cancelled else 'failed'}: {reason}",
            {
                "event": "fusion_failed",
                "fusionId": event.fusion_id,
                "action": self._fusions.get(event.fusion_id, {}).get("action"),
                "reason": reason,
                "cancelled": cancelled or None,
            },
            level="info" if cancelled else "error",
        )

    # --- line builders ----------------------------------------------------------------

    def _answer(self, event: CallEvent, role: str, who: CandidateResult | JudgeResult) -> None:
        model, usage = who.model, who.usage
        cand = who if isinstance(who, CandidateResult) else None
        index = cand.index if cand is not None else 0
        text = cand.text if cand is not None else getattr(who, "rationale", "")
        key = self._call_key(event, role, index, model)
        action = self._fusions.get(event.fusion_id, {}).get("action")
        if self.record_content:
            shown = self._clean(text)
        else:
            what = "rationale" if role == "judge" else f"{action or 'answer'}"
            shown = f"[{what} from {model}: {len(text)} chars; content not recorded]"
        facts: dict[str, Any] = {
            "event": "model_answer",
            "fusionId": event.fusion_id,
            "action": action,
            "role": role,
            "model": model,
            "index": index,
            "round": _round_of(event),
            "status": "ok",
            "latencyS": _round(who.latency_s),
            "costUsd": usage.cost_usd,
            "usage": usage_facts(usage),
        }
        if cand is not None:
            facts["ttftS"] = _round(cand.ttft_s)
            facts["findings"] = len(cand.findings)
            facts["revised"] = cand.revised or None
        self._queue(
            event.fusion_id,
            role,
            "assistant",
            answer_message(stable_id("msg", *key), model, shown, usage),
            facts,
            request_id=stable_id("req", *key),
        )

    def _failure(self, event: CallEvent, role: str, who: CandidateResult | JudgeResult) -> None:
        index = who.index if isinstance(who, CandidateResult) else 0
        key = self._call_key(event, role, index, who.model)
        tool_id = stable_id("toolu", *key)
        action = self._fusions.get(event.fusion_id, {}).get("action")
        is_error = who.status == "error"
        kind = who.error_kind if isinstance(who, CandidateResult) else None
        code = who.status_code if isinstance(who, CandidateResult) else None
        reason = self._clean(who.error or who.status)[:500]
        # Rudel counts failures only as tool_result blocks; a tool_result answers a
        # tool_use, so the call itself is written first as the model's (failed) turn.
        self._queue(
            event.fusion_id,
            role,
            "assistant",
            call_message(stable_id("msg", *key), tool_id, who.model, role, index, who.usage),
            {
                "event": "model_call",
                "fusionId": event.fusion_id,
                "role": role,
                "model": who.model,
                "index": index,
            },
            request_id=stable_id("req", *key),
        )
        prefix = f"{kind}: " if kind else ""
        suffix = f" (HTTP {code})" if code else ""
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": tool_id,
            "content": f"{who.model} {who.status}: {prefix}{reason}{suffix}",
        }
        if is_error:
            block["is_error"] = True
        self._queue(
            event.fusion_id,
            role,
            "user",
            {"role": "user", "content": [block]},
            {
                "event": "model_failed",
                "fusionId": event.fusion_id,
                "action": action,
                "role": role,
                "model": who.model,
                "index": index,
                "round": _round_of(event),
                "status": who.status,
                "errorKind": kind,
                "statusCode": code,
                "latencyS": _round(who.latency_s),
                "costUsd": who.usage.cost_usd,
                "usage": usage_facts(who.usage),
            },
        )

    def _write_system(
        self, subtype: str, content: str, facts: dict[str, Any], *, level: str = "info"
    ) -> None:
        self._out.write("system", None, facts, subtype=subtype, content=content, level=level)

    def _queue(
        self,
        fusion_id: str,
        role: str,
        line_type: str,
        message: dict[str, Any],
        facts: dict[str, Any],
        *,
        request_id: str | None = None,
    ) -> None:
        pending = PendingLine(role, line_type, message, facts, request_id, self._clock())
        self._pending.setdefault(fusion_id, []).append(pending)

    def _flush(self, fusion_id: str) -> None:
        """Write a fusion's model-call lines in Rudel's order, its cost on the last
        assistant line (see `ordering.py`)."""
        lines = self._pending.pop(fusion_id, [])
        if not lines:
            return
        action = self._fusions.get(fusion_id, {}).get("action") or "action"
        before = self._out.continued_cost_usd + self.session_cost_usd
        ordered, cost = order_for_rudel(lines, action, before)
        self.session_cost_usd += cost
        for p in ordered:
            self._out.write(p.line_type, p.message, p.facts, request_id=p.request_id, at=p.at)

    # --- helpers ----------------------------------------------------------------------

    def _call_key(self, event: CallEvent, role: str, index: int, model: str) -> tuple[Any, ...]:
        """What makes one model call unique, for its stable `message.id`.

        The judge can be called more than once in a fusion (several stages, one retry)
        with the same index and round, so calls are also numbered in the order they were
        observed; the id is still a pure function of the session and its events.
        """
        calls = self._remember(event.fusion_id).setdefault("calls", {})
        round_no = _round_of(event)
        slot = (role, index, round_no, model)
        calls[slot] = n = calls.get(slot, 0) + 1
        return (self.root_session_id, event.fusion_id, role, index, round_no, model, n)

    def _remember(self, fusion_id: str) -> dict[str, Any]:
        info = self._fusions.get(fusion_id)
        if info is None:
            info = self._fusions[fusion_id] = {}
            while len(self._fusions) > _FUSION_MEMORY:
                self._fusions.popitem(last=False)
        else:
            self._fusions.move_to_end(fusion_id)
        return info

    def _read_branch(self) -> str:
        try:
            return current_branch(self.workspace) or ""
        except Exception:  # a strange .git must not stop the recording
            return ""

    @staticmethod
    def _clean(text: str) -> str:
        from fuse_ls.core.redact import redact  # compiled on first use: a rerun records none

        return redact(text).text

    def _report_failure(self, e: Exception) -> None:
        if not self._failed_once:
            self._failed_once = True
            log.warning("telemetry disabled for this session after an error: %s", e)
        else:
            log.debug("telemetry error: %s", e)
        # A recorder that failed once (disk full, permissions) stops trying: half-written
        # sessions are worse than none, and retrying on every event costs time.
        self.enabled = False


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


CallEvent = ModelFinished | ModelFailed | JudgeFinished | JudgeFailed


def _round_of(event: CallEvent) -> int:
    return event.round if isinstance(event, ModelFinished | ModelFailed) else 0
