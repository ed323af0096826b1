"""Reviewing a change: units in, fused findings on changed lines out.

Built on the engine's public API only (`FusionEngine.run`, `estimate_cost`): each unit
is one ordinary review fusion. What this module adds is the run around them: the
cache lookup, a budget check for the whole run before any call, concurrency under
global and per-endpoint limits, one progress state for the run, and the noise filters.
The pieces it wires together: `planning` (the units and their requests), `calls`
(running them under the run's limits), `progress` (the run state callers follow),
`cache_entries` (a unit's cache key and stored form) and `types` (what goes in and out).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fuse_ls.changes import noise
from fuse_ls.changes.cache import ReviewCache
from fuse_ls.changes.planning import Planner
from fuse_ls.changes.progress import RunState, RunTracker
from fuse_ls.changes.types import (
    ChangeReview,
    ReportedFinding,
    ReviewOptions,
    RunOverBudget,
    Target,
    UnitOutcome,
)
from fuse_ls.config import Settings, replace
from fuse_ls.core.types import SEVERITIES, CandidateResult

if TYPE_CHECKING:  # only asking a unit needs these (and the engine, and httpx)
    from fuse_ls.changes.calls import UnitCalls
    from fuse_ls.changes.limits import LimitedChatClient
    from fuse_ls.core.events import Observer
    from fuse_ls.fusion.pricing import PriceBook

# Callers import a change review's shapes from here, as before the run was split up.
__all__ = [
    "ChangeReview",
    "ChangeReviewer",
    "ReportedFinding",
    "ReviewOptions",
    "RunOverBudget",
    "RunState",
    "Target",
    "UnitOutcome",
]


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
        self.description = description
        self.skipped_files = list(skipped_files)
        self.tracker = RunTracker(
            RunState(models=tuple(s.id for s in settings.pool), judge=settings.judge.id),
            on_update=on_update,
            on_unit=on_unit,
            on_answer=on_answer,
            observer=observer,
        )
        self.state = self.tracker.state
        self.notes = self.tracker.notes
        self.planner = Planner(settings, root, self.cache, options.unit_token_budget)
        self._lines_of: dict[str, list[str]] = {}
        self._rules_of: dict[str, dict[int, frozenset[str] | None]] = {}
        self._dismissed: set[str] = set()
        self._to_store: list[tuple[str, dict[str, Any]]] = []  # finished units to cache
        self._client: LimitedChatClient | None = None

    async def run(self, targets: Sequence[Target]) -> ChangeReview:
        from fuse_ls.core.paths import data_dir
        from fuse_ls.fusion.pricing import PriceBook

        started = time.perf_counter()
        settings = self.settings
        self._noise_for(targets)
        rules_text, problem = noise.project_rules(self.root)
        if problem:
            self.notes.append(problem)
        rules = noise.rules_instruction(rules_text) if rules_text else None
        prices = PriceBook(cache_dir=data_dir(settings.telemetry.data_dir) / "prices")
        # The HTTP client is made when first needed: to fetch a price list that is not
        # saved on disk, or to ask a unit. A rerun answered from the cache needs neither.
        prices.bind(lambda endpoint: self._client_for(prices).list_models(endpoint))
        outcomes: list[UnitOutcome] = []
        estimate: float | None = 0.0
        try:
            # Nothing changed: no engine, not even a price list fetch.
            if any(t.changed for t in targets):
                token_limit = await self.planner.token_limit(prices)
                # Files are planned in turn while every unit is in the cache; the engine
                # is built only for the first file with a unit to ask.
                for index, target in enumerate(targets):
                    planned = self.planner.plan_target(target, token_limit, rules)
                    if all(o.cached for o in planned):
                        self.tracker.planned(planned)
                        outcomes.extend(planned)
                        continue
                    rest = targets[index + 1 :]
                    asked, estimate = await self._ask(
                        targets, planned, rest, token_limit, rules, prices
                    )
                    outcomes.extend(asked)
                    break
        finally:
            client, self._client = self._client, None
            if client is not None:
                await client.aclose()
            if self.cache is not None:
                self.cache.put_many(self._to_store)
                self._to_store.clear()
        self.state.stage = "done"
        self.tracker.update()
        if self.cache is not None:
            self.notes.extend(self.cache.notes)
        findings, hidden = self._report(outcomes)
        stopped = next((o.skipped for o in outcomes if o.skipped), None)
        planned_at = self.tracker.planned_at
        return ChangeReview(
            description=self.description,
            outcomes=outcomes,
            findings=findings,
            skipped_files=self.skipped_files,
            hidden=hidden,
            estimated_cost_usd=estimate,
            total_cost_usd=sum(o.cost_usd for o in outcomes if not o.cached),
            wall_time_s=time.perf_counter() - started,
            planning_s=(planned_at or time.perf_counter()) - started,
            calls=client.calls if client is not None else 0,
            peak_calls=client.peak if client is not None else 0,
            stopped=stopped,
            notes=self.notes,
            pool=tuple(s.id for s in settings.pool),
            judge=settings.judge.id,
            mode=settings.mode,
        )

    def _client_for(self, prices: PriceBook) -> LimitedChatClient:
        if self._client is None:
            from fuse_ls.changes.limits import LimitedChatClient

            settings = self.settings
            self._client = LimitedChatClient(
                timeouts=settings.timeouts,
                retries=settings.retries,
                deny_data_collection=settings.provider.deny_data_collection,
                prices=prices,
                global_limit=self.options.global_limit,
                per_endpoint=self.options.per_endpoint,
            )
        return self._client

    async def _ask(
        self,
        targets: Sequence[Target],
        planned: list[UnitOutcome],
        rest: Sequence[Target],
        token_limit: int,
        rules: str | None,
        prices: PriceBook,
    ) -> tuple[list[UnitOutcome], float | None]:
        """The run from the first file with a unit to ask (`planned`, not yet reported
        to the tracker) through the files after it (`rest`): its outcomes and the run's
        cost estimate. `targets` (all of the run's files) bound the cost up front."""
        from fuse_ls.changes.calls import UnitCalls, cost_limit
        from fuse_ls.changes.ledger import ThreadedLedger
        from fuse_ls.core.paths import data_dir
        from fuse_ls.fusion.engine import FusionEngine

        settings = self.settings
        # Every request is redacted here (each file whole, before it is cut; see
        # Planner.sent), so the engine's own pass over every unit would only repeat it
        # at the calls' expense.
        engine_settings = replace(settings, {"review.redact_secrets": False})
        ledger = ThreadedLedger(data_dir(settings.telemetry.data_dir) / "spend")
        client = self._client_for(prices)
        async with FusionEngine(engine_settings, client, prices=prices, ledger=ledger) as engine:
            limit, which = cost_limit(settings, self.options, ledger)
            to_cache = self._to_store if self.cache is not None else None
            calls = UnitCalls(
                self.tracker, self.planner, self.options, engine, limit, which, to_cache
            )
            try:
                if self.options.stream and await self.planner.fits(
                    engine, targets, rules, limit, token_limit
                ):
                    outcomes = await self._stream(planned, rest, token_limit, rules, calls)
                else:
                    outcomes = [*planned, *self._plan(rest, token_limit, rules)]
                    self.tracker.planned(outcomes)
                    await calls.check_estimate(outcomes)
                    for outcome in outcomes:
                        if not outcome.cached:
                            calls.submit(outcome)
                return outcomes, await calls.finish()
            finally:
                await calls.cancel()  # a failed or cancelled run leaves no calls
                unrecorded = await ledger.flush()
                if settings.budget.max_usd_per_day is not None:
                    self.notes.extend(unrecorded)

    def _plan(
        self, targets: Sequence[Target], token_limit: int, rules: str | None
    ) -> list[UnitOutcome]:
        """Every unit before any call: what a cost limit is checked against."""
        return [o for t in targets for o in self.planner.plan_target(t, token_limit, rules)]

    async def _stream(
        self,
        planned: list[UnitOutcome],
        rest: Sequence[Target],
        token_limit: int,
        rules: str | None,
        calls: UnitCalls,
    ) -> list[UnitOutcome]:
        """Plan file by file and hand each unit to the calls at once: the first models are
        asked while later files are still redacted and cut, instead of after all of them.
        `planned` is the first file's units, cut already."""
        outcomes: list[UnitOutcome] = []
        later = (self.planner.plan_target(t, token_limit, rules) for t in rest)
        for units in itertools.chain([planned], later):
            self.tracker.planned(units)
            for outcome in units:
                if not outcome.cached:
                    calls.submit(outcome)
            outcomes.extend(units)
            # Let the submitted units send their requests before the next file is cut.
            await asyncio.sleep(0)
        return outcomes

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
