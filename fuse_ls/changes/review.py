# Over 500 lines: one pipeline (units, cache, fusion per unit, noise filter), one run state.
"""Reviewing a change: units in, fused findings on changed lines out.

Built on the engine's public API only (`FusionEngine.run`, `estimate_cost`): each unit
is one ordinary review fusion. What this module adds is the run around them: the
cache lookup, a budget check for the whole run before any call, concurrency under
global and per-endpoint limits, one progress state for the run, and the noise filters.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from attrs import asdict, define, evolve, field, frozen

from fuse_ls.changes import noise
from fuse_ls.changes.cache import ReviewCache
from fuse_ls.changes.limits import LimitedChatClient
from fuse_ls.changes.units import Unit, format_ranges, make_units, token_limit_for
from fuse_ls.config import Settings
from fuse_ls.core.errors import BudgetExceeded, FuseError
from fuse_ls.core.events import FusionEvent, Observer
from fuse_ls.core.types import (
    SEVERITIES,
    CandidateResult,
    FusedFinding,
    FusionRequest,
    FusionResult,
    Severity,
)
from fuse_ls.fusion import prompts

log = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when what is stored per unit changes shape


@frozen
class Target:
    """One file to review and the lines that changed in it (all lines for a new file)."""

    path: str  # shown and reported; relative to the repository or workspace
    file: Path  # where it is on disk (for intent/blast radius lookups)
    language: str
    text: str
    changed: frozenset[int]


@define
class ReviewOptions:
    all_lines: bool = False  # report findings on context lines too
    min_severity: Severity = "hint"
    max_findings: int | None = 50
    use_cache: bool = True
    max_cost_usd: float | None = None  # the whole run; None: the daily budget left
    global_limit: int = 16  # model calls in flight for the whole run
    per_endpoint: int = 8  # model calls in flight per endpoint (base URL)
    unit_token_budget: int = 6000  # tokens of code per unit, per model, at most
    # One deadline for the whole run, every unit's fusion included (engine.run's
    # deadline_at); None: each unit has its own quorum.deadline_s.
    deadline_s: float | None = None


@define
class UnitOutcome:
    unit: Unit
    key: str
    cached: bool = False
    findings: list[FusedFinding] = field(factory=list)
    rejected: int = 0
    cost_usd: float = 0.0
    calls: int = 0  # model calls made for this unit (a skipped judge is not a call)
    judge_called: bool = False
    error: str | None = None
    skipped: str | None = None  # not asked: over the budget, or the run was stopped
    notes: list[str] = field(factory=list)


@frozen
class ReportedFinding:
    path: str
    finding: FusedFinding
    fingerprint: str
    on_changed_line: bool


@define
class RunState:
    """What a progress display shows; updated as the run goes."""

    units: int = 0
    cached: int = 0
    done: int = 0
    failed: int = 0
    calls_active: int = 0
    calls_done: int = 0
    cost_usd: float = 0.0
    models: tuple[str, ...] = ()
    judge: str = ""
    stage: str = "preparing"


@define
class ChangeReview:
    description: str
    outcomes: list[UnitOutcome]
    findings: list[ReportedFinding]
    skipped_files: list[tuple[str, str]]  # (path, why)
    hidden: dict[str, int]  # why -> how many findings were not shown
    estimated_cost_usd: float | None
    total_cost_usd: float
    wall_time_s: float
    planning_s: float  # before the first call: units, cache lookups, the cost estimate
    calls: int
    peak_calls: int
    stopped: str | None  # why the run stopped before every unit was asked
    notes: list[str]
    pool: tuple[str, ...]
    judge: str
    mode: str


class RunOverBudget(FuseError):
    def __init__(self, estimate: float, limit: float, units: int, which: str) -> None:
        super().__init__(
            f"Reviewing this change could cost up to ${estimate:.4f} ({units} unit(s) not in "
            f"the cache), more than the {which} of ${limit:.4f}. Nothing was sent. Review "
            "fewer files (add paths after the options), raise --max-cost or "
            "budget.max_usd_per_day, or use fewer or cheaper models."
        )
        self.estimate = estimate
        self.limit = limit


def settings_fingerprint(settings: Settings) -> dict[str, Any]:
    """Every setting that changes what the models are asked or how answers are fused."""

    def spec(s: Any) -> list[Any]:
        return [
            s.id,
            s.base_url or settings.provider.base_url,
            s.repeat,
            s.max_tokens,
            s.temperature,
        ]

    return {
        "pool": [spec(s) for s in settings.pool],
        "judge": spec(settings.judge),
        "mode": settings.mode,
        "debate_rounds": settings.debate.rounds if settings.mode == "debate" else 0,
        "min_responses": settings.quorum.min_responses,
        "min_votes_for_warning": settings.review.min_votes_for_warning,
        "redact": settings.review.redact_secrets,
        "deny_data_collection": settings.provider.deny_data_collection,
    }


def prompt_version() -> str:
    """A digest of the review prompts as they are now: any wording change is a miss."""
    probe = FusionRequest(task="review", path="p", language="python", code="x\n", start_line=1)
    parts = [m.content for m in prompts.pool_messages(probe)]
    parts += [m.content for m in prompts.cluster_messages(probe, [])]
    parts += [json.dumps(prompts.REVIEW_SCHEMA.schema, sort_keys=True)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _changed_note(unit: Unit) -> str:
    return (
        f"Changed lines: {format_ranges(unit.changed_ranges)}. Review the change: report "
        "problems in these lines or caused by them; the other lines of the code block are "
        "there so you can judge the change in its context."
    )


def unit_request(
    unit: Unit, intent: str | None, blast: str | None, rules: str | None
) -> FusionRequest:
    instruction = _changed_note(unit) + (f"\n\n{rules}" if rules else "")
    return FusionRequest(
        task="review",
        path=unit.path,
        language=unit.language,
        code=unit.code,
        start_line=unit.start_line,
        context_before=unit.context_before,
        context_after=unit.context_after,
        intent=intent,
        blast_radius=blast,
        instruction=instruction,
    )


def unit_key(
    unit: Unit,
    intent: str | None,
    blast: str | None,
    rules: str | None,
    settings_part: dict[str, Any],
    version: str,
) -> str:
    """Line numbers are relative to the unit so that code moved by an edit above it is
    still a hit; findings are stored relative too."""
    payload = {
        "format": CACHE_FORMAT,
        "prompt": version,
        "settings": settings_part,
        "path": unit.path,
        "language": unit.language,
        "code": unit.code,
        "before": unit.context_before,
        "after": unit.context_after,
        "changed": sorted(n - unit.start_line for n in unit.changed),
        "intent": intent,
        "blast": blast,
        "rules": rules,
    }
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True).encode("utf-8", "surrogateescape")
    ).hexdigest()


def _shift(f: FusedFinding, delta: int) -> FusedFinding:
    return evolve(
        f,
        start_line=f.start_line + delta,
        end_line=f.end_line + delta,
        related=tuple((a + delta, b + delta, m) for a, b, m in f.related),
    )


def _store(outcome: UnitOutcome) -> dict[str, Any]:
    base = outcome.unit.start_line
    findings = []
    for f in outcome.findings:
        data = asdict(_shift(f, -base), recurse=False)
        data["models"] = list(f.models)
        data["related"] = [list(r) for r in data["related"]]
        data.pop("id", None)
        findings.append(data)
    return {"findings": findings, "rejected": outcome.rejected, "cost_usd": outcome.cost_usd}


def _load(unit: Unit, key: str, value: dict[str, Any]) -> UnitOutcome | None:
    try:
        findings = []
        for i, raw in enumerate(value["findings"]):
            data = dict(raw)
            data["models"] = tuple(data["models"])
            data["related"] = tuple((int(a), int(b), str(m)) for a, b, m in data["related"])
            found = FusedFinding(**data, id=f"{key[:10]}-{i}")
            findings.append(_shift(found, unit.start_line))
        return UnitOutcome(
            unit, key, cached=True, findings=findings, rejected=int(value.get("rejected", 0))
        )
    except (KeyError, TypeError, ValueError):
        return None  # an entry from an older layout: ask again


class ChangeReviewer:
    """One run over a set of targets. `on_update` is called whenever `state` changes."""

    def __init__(
        self,
        settings: Settings,
        root: Path,
        options: ReviewOptions,
        *,
        cache: ReviewCache | None,
        on_update: Callable[[RunState], None] | None = None,
        on_unit: Callable[[UnitOutcome], None] | None = None,
        on_answer: Callable[[UnitOutcome, CandidateResult], None] | None = None,
        observer: Observer | None = None,
        description: str = "",
        skipped_files: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.settings = settings
        self.root = root
        self.options = options
        self.cache = cache if options.use_cache else None
        self.dismiss_store = cache
        self.on_update = on_update
        self.on_unit = on_unit
        self.on_answer = on_answer
        self._running: dict[str, UnitOutcome] = {}  # fusion id -> the unit it reviews
        self.observer = observer
        self.description = description
        self.skipped_files = list(skipped_files)
        self.state = RunState(models=tuple(s.id for s in settings.pool), judge=settings.judge.id)
        self.notes: list[str] = []
        self.planned_at: float | None = None
        self._lines_of: dict[str, list[str]] = {}
        self._rules_of: dict[str, dict[int, frozenset[str] | None]] = {}
        self._dismissed: set[str] = set()

    def _update(self) -> None:
        if self.on_update is not None:
            try:
                self.on_update(self.state)
            except Exception:  # a display must never break a review
                log.exception("change review progress display failed")

    def _unit_done(self, outcome: UnitOutcome) -> None:
        """Each unit as it is known (cached ones first): editors show them at once."""
        if self.on_unit is not None:
            try:
                self.on_unit(outcome)
            except Exception:  # an editor's view must never break a review
                log.exception("publishing a reviewed unit failed")

    def _observe(self, event: FusionEvent) -> None:
        if event.kind in ("model_started", "judge_started"):
            self.state.calls_active += 1
        elif event.kind in ("model_finished", "model_failed", "judge_finished", "judge_failed"):
            self.state.calls_active = max(self.state.calls_active - 1, 0)
            self.state.calls_done += 1
        self._update()
        if self.on_answer is not None and event.kind == "model_finished":
            outcome = self._running.get(event.fusion_id)
            candidate = getattr(event, "candidate", None)
            if outcome is not None and candidate is not None:
                try:
                    self.on_answer(outcome, candidate)
                except Exception:  # an editor's view must never break a review
                    log.exception("publishing a provisional answer failed")
        if self.observer is not None:
            self.observer(event)

    async def run(self, targets: Sequence[Target]) -> ChangeReview:
        from fuse_ls.core.paths import data_dir
        from fuse_ls.fusion.engine import FusionEngine
        from fuse_ls.fusion.pricing import PriceBook

        started = time.perf_counter()
        settings = self.settings
        self._noise_for(targets)
        rules_text, problem = noise.project_rules(self.root)
        if problem:
            self.notes.append(problem)
        rules = noise.rules_instruction(rules_text) if rules_text else None
        prices = PriceBook(cache_dir=data_dir(settings.telemetry.data_dir) / "prices")
        client = LimitedChatClient(
            timeouts=settings.timeouts,
            retries=settings.retries,
            deny_data_collection=settings.provider.deny_data_collection,
            prices=prices,
            global_limit=self.options.global_limit,
            per_endpoint=self.options.per_endpoint,
        )
        outcomes: list[UnitOutcome] = []
        estimate: float | None = 0.0
        try:
            # Nothing changed: no engine, not even a price list fetch.
            if any(t.changed for t in targets):
                async with FusionEngine(settings, client, prices=prices) as engine:
                    token_limit = await self._token_limit(engine)
                    outcomes, requests = self._plan(targets, token_limit, rules)
                    estimate = await self._run_misses(engine, outcomes, requests)
        finally:
            await client.aclose()
        self.state.stage = "done"
        self._update()
        if self.cache is not None:
            self.notes.extend(self.cache.notes)
        findings, hidden = self._report(outcomes)
        stopped = next((o.skipped for o in outcomes if o.skipped), None)
        return ChangeReview(
            description=self.description,
            outcomes=outcomes,
            findings=findings,
            skipped_files=self.skipped_files,
            hidden=hidden,
            estimated_cost_usd=estimate,
            total_cost_usd=sum(o.cost_usd for o in outcomes if not o.cached),
            wall_time_s=time.perf_counter() - started,
            planning_s=(self.planned_at or time.perf_counter()) - started,
            calls=client.calls,
            peak_calls=client.peak,
            stopped=stopped,
            notes=self.notes,
            pool=tuple(s.id for s in settings.pool),
            judge=settings.judge.id,
            mode=settings.mode,
        )

    async def _token_limit(self, engine: Any) -> int:
        s = self.settings
        specs = [slot.spec for slot in engine.slots()]
        await asyncio.gather(
            *{engine.prices.load(s.endpoint_for(spec)) for spec in [*specs, s.judge]},
            return_exceptions=True,
        )
        contexts = []
        for spec in [*specs, s.judge]:
            info = engine.prices.price_for(spec.id, s.endpoint_for(spec).base_url)
            contexts.append(info.context_length if info is not None else None)
        return token_limit_for(
            contexts,
            [spec.max_tokens for spec in specs],
            self.options.unit_token_budget,
            len(specs),
        )

    def _plan(
        self, targets: Sequence[Target], token_limit: int, rules: str | None
    ) -> tuple[list[UnitOutcome], dict[str, FusionRequest]]:
        from fuse_ls.context import find_blast_radius, find_intent, redacted_document

        settings_part = settings_fingerprint(self.settings)
        version = prompt_version()
        outcomes: list[UnitOutcome] = []
        requests: dict[str, FusionRequest] = {}
        for target in targets:
            # The whole file is redacted before it is cut into units, so a secret that
            # starts above a unit (a private key's BEGIN line) is still recognised.
            text = (
                redacted_document(target.text)
                if self.settings.review.redact_secrets
                else target.text
            )
            units = make_units(
                target.path,
                target.language,
                text,
                target.changed,
                token_limit=token_limit,
            )
            if not units:
                continue
            intent = find_intent(target.file, self.root)
            blast = find_blast_radius(target.file, self.root)
            for unit in units:
                key = unit_key(unit, intent, blast, rules, settings_part, version)
                hit = self.cache.get(key) if self.cache is not None else None
                loaded = _load(unit, key, hit) if hit is not None else None
                if loaded is not None:
                    outcomes.append(loaded)
                    continue
                outcomes.append(UnitOutcome(unit, key))
                requests[key] = unit_request(unit, intent, blast, rules)
        self.state.units = len(outcomes)
        self.state.cached = sum(o.cached for o in outcomes)
        for outcome in outcomes:
            if outcome.cached:
                self._unit_done(outcome)
        self.state.done = self.state.cached
        self._update()
        return outcomes, requests

    def _limit(self, engine: Any) -> tuple[float | None, str]:
        budget = self.settings.budget
        limits: list[tuple[float, str]] = []
        if self.options.max_cost_usd is not None:
            limits.append((self.options.max_cost_usd, "--max-cost limit"))
        if budget.max_usd_per_day is not None:
            left = max(budget.max_usd_per_day - engine.ledger.spent(), 0.0)
            limits.append((left, "daily budget left"))
        if not limits:
            return None, ""
        return min(limits)

    async def _run_misses(
        self, engine: Any, outcomes: list[UnitOutcome], requests: dict[str, FusionRequest]
    ) -> float | None:
        misses = [o for o in outcomes if not o.cached]
        if not misses:
            return 0.0
        self.state.stage = "estimating cost"
        self._update()
        estimates = await asyncio.gather(*(engine.estimate_cost(requests[o.key]) for o in misses))
        known = [e for e in estimates if e is not None]
        estimate = sum(known) if len(known) == len(estimates) else None
        limit, which = self._limit(engine)
        if estimate is None:
            self.notes.append(
                "the cost could not be estimated before the run (no prices for a model); "
                "the budget is checked as the units finish"
            )
        elif limit is not None and estimate > limit:
            raise RunOverBudget(estimate, limit, len(misses), which)
        self.state.stage = "reviewing"
        self.planned_at = time.perf_counter()
        self._update()
        pool_calls = max(len(engine.slots()), 1)
        # Enough units in flight to keep every global slot busy, with the next ones
        # ready; the priority slots let the judges of started units go first.
        gate = asyncio.Semaphore(2 * math.ceil(self.options.global_limit / pool_calls) + 1)
        spent = 0.0
        stop: list[str] = []
        loop = asyncio.get_running_loop()
        deadline_s = self.options.deadline_s
        run_deadline = None if deadline_s is None else loop.time() + deadline_s

        async def one(outcome: UnitOutcome, unit_estimate: float | None) -> None:
            nonlocal spent
            async with gate:
                if stop:
                    outcome.skipped = stop[0]
                    return
                if run_deadline is not None and loop.time() >= run_deadline:
                    outcome.skipped = f"the run's {deadline_s:g}s deadline had passed"
                    return
                if limit is not None and spent + (unit_estimate or 0.0) > limit:
                    stop.append(f"the {which} (${limit:.4f}) was reached")
                    outcome.skipped = stop[0]
                    return
                try:
                    fusion_id = f"{outcome.key[:12]}-{len(self._running)}"
                    self._running[fusion_id] = outcome
                    result = await engine.run(
                        requests[outcome.key],
                        self._observe,
                        fusion_id,
                        deadline_at=run_deadline,
                    )
                except BudgetExceeded as exc:
                    stop.append(str(exc))
                    outcome.skipped = str(exc)
                    return
                except FuseError as exc:  # AllModelsFailed and friends: this unit only
                    outcome.error = str(exc)
                    self.state.failed += 1
                    self.state.done += 1
                    self._update()
                    self._unit_done(outcome)
                    return
                self._absorb(outcome, result)
                spent += outcome.cost_usd
                self.state.cost_usd = spent
                self.state.done += 1
                self._update()
                self._unit_done(outcome)

        await asyncio.gather(*(one(o, e) for o, e in zip(misses, estimates, strict=True)))
        return estimate

    def _absorb(self, outcome: UnitOutcome, result: FusionResult) -> None:
        outcome.findings = list(result.findings)
        outcome.rejected = len(result.rejected)
        outcome.cost_usd = result.total_cost_usd
        outcome.judge_called = result.judge is not None and result.judge.status != "skipped"
        outcome.calls = len(result.candidates) + outcome.judge_called
        outcome.notes = list(result.notes)
        unit = outcome.unit
        for note in result.notes:
            if "fusion deadline" in note:  # a cut is news for the whole run
                self.notes.append(f"{unit.path}:{unit.start_line}-{unit.end_line}: {note}")
        # A model cut by a deadline did not answer: only "not needed" cancels are clean.
        clean = all(
            c.status == "ok" or (c.status == "cancelled" and c.error_kind == "quorum")
            for c in result.candidates
        ) and (result.judge is None or result.judge.status != "error")
        if clean and self.cache is not None:
            self.cache.put(outcome.key, _store(outcome))

    def _noise_for(self, targets: Sequence[Target]) -> None:
        self._lines_of = {t.path: t.text.splitlines() for t in targets}
        self._rules_of = {t.path: noise.suppressions(t.text) for t in targets}
        self._dismissed = (
            self.dismiss_store.dismissed(str(self.root))
            if self.dismiss_store is not None
            else set()
        )

    def shown(
        self, outcome: UnitOutcome, hidden: dict[str, int] | None = None
    ) -> list[ReportedFinding]:
        """The unit's findings that pass the noise filters (not the per-run cap)."""
        hidden = {} if hidden is None else hidden
        path = outcome.unit.path
        limit = SEVERITIES.index(self.options.min_severity)
        kept: list[ReportedFinding] = []
        for f in outcome.findings:
            on_changed = any(n in outcome.unit.changed for n in range(f.start_line, f.end_line + 1))
            why = None
            fp = noise.fingerprint(path, f, self._lines_of.get(path, []))
            if not on_changed and not self.options.all_lines:
                why = "context lines"
            elif noise.is_suppressed(f, self._rules_of.get(path, {})):
                why = "suppressed"
            elif fp in self._dismissed:
                why = "dismissed"
            elif SEVERITIES.index(f.severity) > limit:
                why = "below severity"
            if why is not None:
                hidden[why] = hidden.get(why, 0) + 1
                continue
            kept.append(ReportedFinding(path, f, fp, on_changed))
        return kept

    def _report(
        self, outcomes: Sequence[UnitOutcome]
    ) -> tuple[list[ReportedFinding], dict[str, int]]:
        hidden: dict[str, int] = {}
        kept = [r for outcome in outcomes for r in self.shown(outcome, hidden)]
        # Most severe and most agreed first when the cap bites; shown in file order.
        kept.sort(key=lambda r: (SEVERITIES.index(r.finding.severity), -r.finding.votes))
        cap = self.options.max_findings
        if cap is not None and len(kept) > cap:
            hidden["over the limit"] = len(kept) - cap
            kept = kept[:cap]
        kept.sort(key=lambda r: (r.path, r.finding.start_line, r.finding.end_line))
        return kept, hidden
