# Over 500 lines: one pipeline (units, cache, the calls of every unit, noise filter), one
# run state; the calls scheduler (_Calls) shares the reviewer's state, so it lives here.
"""Reviewing a change: units in, fused findings on changed lines out.

Built on the engine's public API only (`FusionEngine.run`, `estimate_cost`): each unit
is one ordinary review fusion. What this module adds is the run around them: the
cache lookup, a budget check for the whole run before any call, concurrency under
global and per-endpoint limits, one progress state for the run, and the noise filters.
"""

from __future__ import annotations

import asyncio
import functools
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
from fuse_ls.changes.ledger import ThreadedLedger
from fuse_ls.changes.limits import LimitedChatClient, unit_pieces
from fuse_ls.changes.units import (
    Unit,
    code_budget,
    format_ranges,
    make_units,
    max_unit_chars,
    split_unit,
)
from fuse_ls.config import Settings, replace
from fuse_ls.core.errors import BudgetExceeded, FuseError
from fuse_ls.core.events import FusionEvent, Observer
from fuse_ls.core.types import (
    SEVERITIES,
    CandidateResult,
    ChatMessage,
    FusedFinding,
    FusionRequest,
    FusionResult,
    Severity,
)
from fuse_ls.fusion import prompts
from fuse_ls.fusion.pricing import estimate_prompt_tokens

log = logging.getLogger(__name__)

# What the engine would redact besides the code and its context (those come from the
# file redacted whole): the change review sends nothing else.
_REDACTED_HERE = ("path", "intent", "blast_radius")
CACHE_FORMAT = 2  # bump when what is stored per unit, or what a key stands for, changes


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
    # Start each unit's calls as soon as it is planned, while later files are still
    # redacted and cut. With a cost limit only when a bound of the whole run's cost fits
    # it; else every unit is planned and the exact estimate checked before any call.
    stream: bool = True


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
    return _changed_note_for(unit.changed_ranges)


def _changed_note_for(ranges: Sequence[tuple[int, int]]) -> str:
    return (
        f"Changed lines: {format_ranges(ranges)}. Review the change: report "
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
    split: dict[str, int] | None = None,
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
    if split:  # models asked this unit in pieces (their window): a different question
        payload["split"] = split
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True).encode("utf-8", "surrogateescape")
    ).hexdigest()


@functools.lru_cache(maxsize=256)
def _redacted_text(text: str) -> str:
    from fuse_ls.core.redact import redact

    return redact(text).text


def redaction_digest() -> str:
    """What decides how a text is redacted: our rules (the module's source) and the
    detect-secrets plugins' version. Cache keys carry it, so the key of a unit's raw
    text stands for its redacted text too."""
    import importlib.metadata

    from fuse_ls.core import redact

    try:
        plugins = importlib.metadata.version("detect-secrets")
    except importlib.metadata.PackageNotFoundError:
        plugins = "none"
    source = Path(redact.__file__).read_bytes()
    return hashlib.sha256(source + plugins.encode()).hexdigest()[:16]


def _with_lines(unit: Unit, lines: Sequence[str]) -> Unit:
    """`unit` with its code and context taken from `lines` (the same file, redacted:
    redaction keeps every line where it was)."""
    before = max(unit.start_line - len(unit.context_before.splitlines(keepends=True)), 1)
    after = len(unit.context_after.splitlines(keepends=True))
    return evolve(
        unit,
        code="".join(lines[unit.start_line - 1 : unit.end_line]),
        context_before="".join(lines[before - 1 : unit.start_line - 1]),
        context_after="".join(lines[unit.end_line : unit.end_line + after]),
    )


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
        self._requests: dict[str, FusionRequest] = {}  # unit key -> what the models are asked
        self._budgets: dict[str, int] = {}  # pool model -> tokens of code it may be sent
        self._to_store: list[tuple[str, dict[str, Any]]] = []  # finished units to cache
        self._pieces: dict[str, dict[str, list[tuple[ChatMessage, ...]]]] = {}
        self._settings_part: dict[str, Any] | None = None
        self._prompt_version = ""

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
                # Every request is redacted here (each file whole, before it is cut; see
                # _sent), so the engine's own pass over every unit would only repeat it
                # at the calls' expense.
                engine_settings = replace(settings, {"review.redact_secrets": False})
                ledger = ThreadedLedger(data_dir(settings.telemetry.data_dir) / "spend")
                async with FusionEngine(
                    engine_settings, client, prices=prices, ledger=ledger
                ) as engine:
                    token_limit = await self._token_limit(engine)
                    limit, which = self._limit(engine)
                    calls = _Calls(self, engine, limit, which)
                    try:
                        if self.options.stream and await self._fits(
                            engine, targets, rules, limit, token_limit
                        ):
                            outcomes = await self._stream(targets, token_limit, rules, calls)
                        else:
                            outcomes = self._plan(targets, token_limit, rules)
                            await calls.check_estimate(outcomes)
                            for outcome in outcomes:
                                if not outcome.cached:
                                    calls.submit(outcome)
                        estimate = await calls.finish()
                    finally:
                        await calls.cancel()  # a failed or cancelled run leaves no calls
                        unrecorded = await ledger.flush()
                        if settings.budget.max_usd_per_day is not None:
                            self.notes.extend(unrecorded)
        finally:
            await client.aclose()
            if self.cache is not None:
                self.cache.put_many(self._to_store)
                self._to_store.clear()
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
        """Tokens of code per unit; also sets each pool model's own budget.

        A unit is as large as the judge (which reads it whole, with every answer) and the
        roomiest pool model allow; a pool model with a smaller window or
        `max_input_tokens` is asked the unit in pieces that fit it.
        """
        s = self.settings
        specs = [slot.spec for slot in engine.slots()]
        await asyncio.gather(
            *{engine.prices.load(s.endpoint_for(spec)) for spec in [*specs, s.judge]},
            return_exceptions=True,
        )

        def windows(spec: Any) -> list[int | None]:
            info = engine.prices.price_for(spec.id, s.endpoint_for(spec).base_url)
            context = info.context_length if info is not None else None
            own = spec.max_tokens or 2048
            return [context - own if context else None, spec.max_input_tokens]

        answers = sum((spec.max_tokens or 2048) for spec in specs)
        budget = self.options.unit_token_budget
        judge = code_budget(budget, windows(s.judge), answers)
        debate = s.mode == "debate"  # debaters read every answer too
        self._budgets = {
            spec.id: code_budget(budget, windows(spec), answers if debate else 0) for spec in specs
        }
        return min(judge, max(self._budgets.values(), default=budget))

    def _pieces_for(
        self, unit: Unit, intent: str | None, blast: str | None, rules: str | None
    ) -> tuple[dict[str, list[tuple[ChatMessage, ...]]], list[str]]:
        """The pool models this unit does not fit, with the messages of each piece."""
        size = estimate_prompt_tokens(unit.code)
        pieces: dict[str, list[tuple[ChatMessage, ...]]] = {}
        notes: list[str] = []
        for model, budget in self._budgets.items():
            if size <= budget or model in pieces:
                continue
            parts = split_unit(unit, budget)
            pieces[model] = [
                prompts.pool_messages(self._sent(unit_request(p, intent, blast, rules)))
                for p in parts
            ]
            notes.append(
                f"{model} was asked lines {unit.start_line}-{unit.end_line} in "
                f"{len(parts)} part(s): about {size} tokens of code, over its budget of "
                f"{budget} (its context window or max_input_tokens)"
            )
        return pieces, notes

    @staticmethod
    def _marked(request: FusionRequest) -> int:
        from fuse_ls.core.redact import MARK_PREFIX

        fields = ("code", "context_before", "context_after", *_REDACTED_HERE)
        return sum(MARK_PREFIX in (getattr(request, name) or "") for name in fields)

    def _sent(self, request: FusionRequest) -> FusionRequest:
        """`request` as it may leave the machine: the code and its context come from the
        redacted file; the path, intent and blast radius (the same for every unit of a
        file, so redacted once) are redacted here. The instruction is ours (the changed
        lines) plus the project rules, which `noise.rules_instruction` redacted."""
        if not self.settings.review.redact_secrets:
            return request
        parts: dict[str, Any] = {
            name: _redacted_text(text)
            for name in _REDACTED_HERE
            if (text := getattr(request, name))
        }
        return evolve(request, **parts)

    def _plan_target(
        self, target: Target, token_limit: int, rules: str | None
    ) -> list[UnitOutcome]:
        """One file's units, each loaded from the cache or carrying its request.

        Units are cut from the file as it is and looked up by that text (with the
        redaction rules' digest in the key, the redacted text follows from it): a unit
        found in the cache costs no redaction. The file is redacted, whole, only when
        one of its units is asked, so a secret that starts above a unit (a private key's
        BEGIN line) is still recognised.
        """
        from fuse_ls.context import find_blast_radius, find_intent, redacted_document

        if self._settings_part is None:
            self._settings_part = settings_fingerprint(self.settings)
            if self.settings.review.redact_secrets:
                self._settings_part["redaction_rules"] = redaction_digest()
            self._prompt_version = prompt_version()
        units = make_units(
            target.path, target.language, target.text, target.changed, token_limit=token_limit
        )
        if not units:
            return []
        intent = find_intent(target.file, self.root)
        blast = find_blast_radius(target.file, self.root)
        redacted: list[str] | None = None
        out: list[UnitOutcome] = []
        for unit in units:
            split = self._split_counts(unit)
            key = unit_key(
                unit, intent, blast, rules, self._settings_part, self._prompt_version, split
            )
            hit = self.cache.get(key) if self.cache is not None else None
            loaded = _load(unit, key, hit) if hit is not None else None
            if loaded is not None:
                out.append(loaded)
                continue
            sent = unit
            if self.settings.review.redact_secrets:
                if redacted is None:
                    redacted = redacted_document(target.text).splitlines(keepends=True)
                sent = _with_lines(unit, redacted)
            outcome = UnitOutcome(unit, key)
            self._requests[key] = self._sent(unit_request(sent, intent, blast, rules))
            self._pieces[key], outcome.notes = self._pieces_for(sent, intent, blast, rules)
            marked = self._marked(self._requests[key])
            if marked:  # the engine's note, for the pass done here instead
                outcome.notes.append(
                    f"secret-looking text was redacted in {marked} part(s) before sending"
                )
            out.append(outcome)
        return out

    def _split_counts(self, unit: Unit) -> dict[str, int]:
        """Pool models asked this unit in pieces, and in how many."""
        size = estimate_prompt_tokens(unit.code)
        return {
            model: len(split_unit(unit, budget))
            for model, budget in self._budgets.items()
            if size > budget
        }

    def _planned(self, outcomes: Sequence[UnitOutcome]) -> None:
        self.state.units += len(outcomes)
        for outcome in outcomes:
            if outcome.cached:
                self.state.cached += 1
                self.state.done += 1
                self._unit_done(outcome)
        self._update()

    def _plan(
        self, targets: Sequence[Target], token_limit: int, rules: str | None
    ) -> list[UnitOutcome]:
        """Every unit before any call: what a cost limit is checked against."""
        outcomes = [o for t in targets for o in self._plan_target(t, token_limit, rules)]
        self._planned(outcomes)
        return outcomes

    async def _fits(
        self,
        engine: Any,
        targets: Sequence[Target],
        rules: str | None,
        limit: float | None,
        token_limit: int,
    ) -> bool:
        """Whether the run surely stays within `limit`, judged before any unit is cut.

        A file's units are disjoint pieces of it plus a few context lines each, and the
        estimate is linear in the prompt's length, so the file's cost is at most the
        estimate for the whole file plus one request's fixed part (with context lines)
        per further unit. A file has at most one unit per changed run of lines, plus the
        pieces a too-large region is cut into. 10% on top covers redaction marks.
        """
        if limit is None:
            return True
        from fuse_ls.changes.units import CONTEXT_LINES, runs
        from fuse_ls.context import find_blast_radius, find_intent

        piece_chars = max(max_unit_chars(token_limit), 1)
        bound = 0.0
        for target in targets:
            if not target.changed:
                continue
            lines = target.text.splitlines(keepends=True)
            longest = "".join(sorted(lines, key=len)[-2 * CONTEXT_LINES :])
            unit = FusionRequest(
                task="review",
                path=target.path,
                language=target.language,
                code=target.text,
                start_line=1,
                intent=find_intent(target.file, self.root),
                blast_radius=find_blast_radius(target.file, self.root),
                instruction=_changed_note_for(runs(target.changed))
                + (f"\n\n{rules}" if rules else ""),
            )
            whole = await engine.estimate_cost(unit)
            fixed = await engine.estimate_cost(evolve(unit, code="\n", context_before=longest))
            if whole is None or fixed is None:
                return True  # no prices: the budget is checked as the units finish
            # Cut pieces are over half the limit but for a line too long to join the next.
            pieces = len(runs(target.changed)) + 2 * len(target.text) // piece_chars + 1
            bound += whole + (pieces - 1) * fixed
            if bound * 1.1 > limit:
                return False
        return True

    async def _stream(
        self, targets: Sequence[Target], token_limit: int, rules: str | None, calls: _Calls
    ) -> list[UnitOutcome]:
        """Plan file by file and hand each unit to the calls at once: the first models are
        asked while later files are still redacted and cut, instead of after all of them."""
        outcomes: list[UnitOutcome] = []
        for target in targets:
            planned = self._plan_target(target, token_limit, rules)
            self._planned(planned)
            for outcome in planned:
                if not outcome.cached:
                    calls.submit(outcome)
            outcomes.extend(planned)
            # Let the submitted units send their requests before the next file is cut.
            await asyncio.sleep(0)
        return outcomes

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

    def _absorb(self, outcome: UnitOutcome, result: FusionResult) -> None:
        outcome.findings = list(result.findings)
        outcome.rejected = len(result.rejected)
        outcome.cost_usd = result.total_cost_usd
        outcome.judge_called = result.judge is not None and result.judge.status != "skipped"
        outcome.calls = len(result.candidates) + outcome.judge_called
        outcome.notes = [*outcome.notes, *result.notes]
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
            # Written together when the run ends (or is cancelled): a SQLite transaction
            # per unit would block every stream of the run meanwhile.
            self._to_store.append((outcome.key, _store(outcome)))

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


class _Calls:
    """The model calls of one run: units are submitted as they are planned and run under
    the run's limits (units in flight, the cost limit, the run's deadline)."""

    def __init__(
        self, reviewer: ChangeReviewer, engine: Any, limit: float | None, which: str
    ) -> None:
        self.reviewer = reviewer
        self.engine = engine
        self.limit = limit
        self.which = which
        options = reviewer.options
        pool_calls = max(len(engine.slots()), 1)
        # Enough units in flight to keep every global slot busy, with the next ones
        # ready; the priority slots let the judges of started units go first.
        self.gate = asyncio.Semaphore(2 * math.ceil(options.global_limit / pool_calls) + 1)
        self.spent = 0.0
        self.stop: list[str] = []
        self.loop = asyncio.get_running_loop()
        self.deadline_s = options.deadline_s
        # Set when the first unit is handed over: the run's deadline counts the calls,
        # as it did when every unit was planned first, not the price list fetch.
        self.run_deadline: float | None = None
        self.tasks: list[asyncio.Task[float | None]] = []
        self.estimates: dict[str, float | None] = {}

    async def check_estimate(self, outcomes: Sequence[UnitOutcome]) -> None:
        """The whole run's worst-case cost against the limit, before any call."""
        misses = [o for o in outcomes if not o.cached]
        if not misses:
            return
        reviewer = self.reviewer
        reviewer.state.stage = "estimating cost"
        reviewer._update()
        estimates = await asyncio.gather(*(self.unit_estimate(o.key) for o in misses))
        self.estimates = {o.key: e for o, e in zip(misses, estimates, strict=True)}
        known = [e for e in estimates if e is not None]
        if len(known) == len(estimates) and self.limit is not None and sum(known) > self.limit:
            raise RunOverBudget(sum(known), self.limit, len(misses), self.which)

    async def unit_estimate(self, key: str) -> float | None:
        """The engine's worst case for the unit, plus, when a model is asked it in
        pieces, every further piece's prompt and answers (counted for the whole pool and
        the judge: an over- rather than an underestimate)."""
        request = self.reviewer._requests[key]
        estimate: float | None = await self.engine.estimate_cost(request)
        extra = max((len(p) for p in self.reviewer._pieces.get(key, {}).values()), default=1)
        if estimate is None or extra <= 1:
            return estimate
        fixed: float | None = await self.engine.estimate_cost(evolve(request, code="\n"))
        return None if fixed is None else estimate + (extra - 1) * fixed

    def submit(self, outcome: UnitOutcome) -> None:
        reviewer = self.reviewer
        if reviewer.planned_at is None:
            reviewer.planned_at = time.perf_counter()
            if self.deadline_s is not None:
                self.run_deadline = self.loop.time() + self.deadline_s
            reviewer.state.stage = "reviewing"
            reviewer._update()
        self.tasks.append(asyncio.create_task(self._one(outcome)))

    async def cancel(self) -> None:
        pending = [t for t in self.tasks if not t.done()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def finish(self) -> float | None:
        """Wait for every submitted unit; the run's cost estimate (None: unknown)."""
        estimates = await asyncio.gather(*self.tasks)
        if any(e is None for e in estimates):
            self.reviewer.notes.append(
                "the cost could not be estimated before the run (no prices for a model); "
                "the budget is checked as the units finish"
            )
            return None
        return sum(e for e in estimates if e is not None)

    async def _one(self, outcome: UnitOutcome) -> float | None:
        reviewer, engine = self.reviewer, self.engine
        request = reviewer._requests[outcome.key]
        if outcome.key in self.estimates:
            unit_estimate = self.estimates[outcome.key]
        else:
            unit_estimate = await self.unit_estimate(outcome.key)
        async with self.gate:
            if self.stop:
                outcome.skipped = self.stop[0]
                return unit_estimate
            if self.run_deadline is not None and self.loop.time() >= self.run_deadline:
                outcome.skipped = f"the run's {self.deadline_s:g}s deadline had passed"
                return unit_estimate
            if self.limit is not None and self.spent + (unit_estimate or 0.0) > self.limit:
                self.stop.append(f"the {self.which} (${self.limit:.4f}) was reached")
                outcome.skipped = self.stop[0]
                return unit_estimate
            try:
                fusion_id = f"{outcome.key[:12]}-{len(reviewer._running)}"
                reviewer._running[fusion_id] = outcome
                token = unit_pieces.set(reviewer._pieces.get(outcome.key))
                try:
                    result = await engine.run(
                        request, reviewer._observe, fusion_id, deadline_at=self.run_deadline
                    )
                finally:
                    unit_pieces.reset(token)
            except BudgetExceeded as exc:
                self.stop.append(str(exc))
                outcome.skipped = str(exc)
                return unit_estimate
            except FuseError as exc:  # AllModelsFailed and friends: this unit only
                outcome.error = str(exc)
                reviewer.state.failed += 1
                reviewer.state.done += 1
                reviewer._update()
                reviewer._unit_done(outcome)
                return unit_estimate
            reviewer._absorb(outcome, result)
            self.spent += outcome.cost_usd
            reviewer.state.cost_usd = self.spent
            reviewer.state.done += 1
            reviewer._update()
            reviewer._unit_done(outcome)
            return unit_estimate
