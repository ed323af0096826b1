"""Running a change review's units: each unit's fusion, under the run's limits.

Units are submitted as they are planned and run with a bounded number in flight, the
run's cost limit (checked against each unit's estimate, and against the whole run's
before any call when the units were all planned first) and the run's one deadline.
A finished unit's result is taken in here: its outcome, its notes for the run, and its
cache entry when every model answered cleanly.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from typing import Any

from attrs import evolve

from fuse_ls.changes.cache_entries import to_entry
from fuse_ls.changes.limits import unit_pieces
from fuse_ls.changes.planning import Planner
from fuse_ls.changes.progress import RunTracker
from fuse_ls.changes.types import ReviewOptions, RunOverBudget, UnitOutcome
from fuse_ls.config import Settings
from fuse_ls.core.durations import seconds_text
from fuse_ls.core.errors import BudgetExceeded, FuseError
from fuse_ls.core.types import FusionResult
from fuse_ls.fusion.budget import SpendLedger
from fuse_ls.fusion.pricing import unpriced_note

__all__ = ["RunOverBudget", "UnitCalls", "cost_limit"]


def cost_limit(
    settings: Settings, options: ReviewOptions, ledger: SpendLedger
) -> tuple[float | None, str]:
    """The run's cost limit (None: none) and what it is called in messages."""
    budget = settings.budget
    limits: list[tuple[float, str]] = []
    if options.max_cost_usd is not None:
        limits.append((options.max_cost_usd, "--max-cost limit"))
    if budget.max_usd_per_day is not None:
        left = max(budget.max_usd_per_day - ledger.spent(), 0.0)
        limits.append((left, "daily budget left"))
    if not limits:
        return None, ""
    return min(limits)


class UnitCalls:
    """The model calls of one run: units are submitted as they are planned and run under
    the run's limits (units in flight, the cost limit, the run's deadline). Finished
    units that every model answered go to `to_cache` (None: no cache)."""

    def __init__(
        self,
        tracker: RunTracker,
        planner: Planner,
        options: ReviewOptions,
        engine: Any,
        limit: float | None,
        which: str,
        to_cache: list[tuple[str, dict[str, Any]]] | None,
    ) -> None:
        self.tracker = tracker
        self.planner = planner
        self.engine = engine
        self.limit = limit
        self.which = which
        self.to_cache = to_cache
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
        tracker = self.tracker
        tracker.state.stage = "estimating cost"
        tracker.update()
        estimates = await asyncio.gather(*(self.unit_estimate(o.key) for o in misses))
        self.estimates = {o.key: e for o, e in zip(misses, estimates, strict=True)}
        known = [e for e in estimates if e is not None]
        if len(known) == len(estimates) and self.limit is not None and sum(known) > self.limit:
            raise RunOverBudget(sum(known), self.limit, len(misses), self.which)

    async def unit_estimate(self, key: str) -> float | None:
        """The engine's worst case for the unit, plus, when a model is asked it in
        pieces, every further piece's prompt and answers (counted for the whole pool and
        the judge: an over- rather than an underestimate)."""
        request = self.planner.requests[key]
        estimate: float | None = await self.engine.estimate_cost(request)
        extra = max((len(p) for p in self.planner.pieces.get(key, {}).values()), default=1)
        if estimate is None or extra <= 1:
            return estimate
        fixed: float | None = await self.engine.estimate_cost(evolve(request, code="\n"))
        return None if fixed is None else estimate + (extra - 1) * fixed

    def submit(self, outcome: UnitOutcome) -> None:
        tracker = self.tracker
        if tracker.planned_at is None:
            tracker.planned_at = time.perf_counter()
            if self.deadline_s is not None:
                self.run_deadline = self.loop.time() + self.deadline_s
            tracker.state.stage = "reviewing"
            tracker.update()
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
            self.tracker.notes.append(
                unpriced_note(self.engine.unpriced(), "run")
                + "; the budget is checked as the units finish"
            )
            return None
        return sum(e for e in estimates if e is not None)

    async def _one(self, outcome: UnitOutcome) -> float | None:
        tracker, engine = self.tracker, self.engine
        request = self.planner.requests[outcome.key]
        if outcome.key in self.estimates:
            unit_estimate = self.estimates[outcome.key]
        else:
            unit_estimate = await self.unit_estimate(outcome.key)
        async with self.gate:
            if self.stop:
                outcome.skipped = self.stop[0]
                return unit_estimate
            if self.run_deadline is not None and self.loop.time() >= self.run_deadline:
                set_s = self.deadline_s or 0.0  # set whenever run_deadline is
                outcome.skipped = f"the run's {seconds_text(set_s)} deadline had passed"
                return unit_estimate
            if self.limit is not None and self.spent + (unit_estimate or 0.0) > self.limit:
                self.stop.append(f"the {self.which} (${self.limit:.4f}) was reached")
                outcome.skipped = self.stop[0]
                return unit_estimate
            try:
                fusion_id = f"{outcome.key[:12]}-{len(tracker.running)}"
                tracker.running[fusion_id] = outcome
                token = unit_pieces.set(self.planner.pieces.get(outcome.key))
                try:
                    result = await engine.run(
                        request, tracker.observe, fusion_id, deadline_at=self.run_deadline
                    )
                finally:
                    unit_pieces.reset(token)
            except BudgetExceeded as exc:
                self.stop.append(str(exc))
                outcome.skipped = str(exc)
                return unit_estimate
            except FuseError as exc:  # AllModelsFailed and friends: this unit only
                outcome.error = str(exc)
                tracker.state.failed += 1
                tracker.state.done += 1
                tracker.update()
                tracker.unit_done(outcome)
                return unit_estimate
            self._absorb(outcome, result)
            self.spent += outcome.cost_usd
            tracker.state.cost_usd = self.spent
            tracker.state.done += 1
            tracker.update()
            tracker.unit_done(outcome)
            return unit_estimate

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
                self.tracker.notes.append(f"{unit.path}:{unit.start_line}-{unit.end_line}: {note}")
        # A model cut by a deadline did not answer: only "not needed" cancels are clean.
        clean = all(
            c.status == "ok" or (c.status == "cancelled" and c.error_kind == "quorum")
            for c in result.candidates
        ) and (result.judge is None or result.judge.status != "error")
        if clean and self.to_cache is not None:
            # Written together when the run ends (or is cancelled): a SQLite transaction
            # per unit would block every stream of the run meanwhile.
            self.to_cache.append((outcome.key, to_entry(outcome)))
