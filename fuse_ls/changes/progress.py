"""A change review's run state as its callers follow it: the counts a progress display
shows, each unit as soon as it is known, each provisional answer, the engine's events,
and the notes for the whole run. A caller's callback never breaks the run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from attrs import define

from fuse_ls.changes.types import UnitOutcome
from fuse_ls.core.types import CandidateResult

if TYPE_CHECKING:  # the engine's events arrive only when a unit is asked
    from fuse_ls.core.events import FusionEvent, Observer

log = logging.getLogger(__name__)


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


class RunTracker:
    """One run's state and the callbacks that follow it. `on_update` is called whenever
    `state` changes."""

    def __init__(
        self,
        state: RunState,
        *,
        on_update: Callable[[RunState], None] | None = None,
        on_unit: Callable[[UnitOutcome], None] | None = None,
        on_answer: Callable[[UnitOutcome, CandidateResult], None] | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.state = state
        self.on_update = on_update
        self.on_unit = on_unit
        self.on_answer = on_answer
        self.observer = observer
        self.running: dict[str, UnitOutcome] = {}  # fusion id -> the unit it reviews
        self.notes: list[str] = []
        self.planned_at: float | None = None  # when the first unit was handed to the calls

    def update(self) -> None:
        if self.on_update is not None:
            try:
                self.on_update(self.state)
            except Exception:  # a display must never break a review
                log.exception("change review progress display failed")

    def unit_done(self, outcome: UnitOutcome) -> None:
        """Each unit as it is known (cached ones first): editors show them at once."""
        if self.on_unit is not None:
            try:
                self.on_unit(outcome)
            except Exception:  # an editor's view must never break a review
                log.exception("publishing a reviewed unit failed")

    def planned(self, outcomes: Sequence[UnitOutcome]) -> None:
        self.state.units += len(outcomes)
        for outcome in outcomes:
            if outcome.cached:
                self.state.cached += 1
                self.state.done += 1
                self.unit_done(outcome)
        self.update()

    def observe(self, event: FusionEvent) -> None:
        if event.kind in ("model_started", "judge_started"):
            self.state.calls_active += 1
        elif event.kind in ("model_finished", "model_failed", "judge_finished", "judge_failed"):
            self.state.calls_active = max(self.state.calls_active - 1, 0)
            self.state.calls_done += 1
        self.update()
        if self.on_answer is not None and event.kind == "model_finished":
            outcome = self.running.get(event.fusion_id)
            candidate = getattr(event, "candidate", None)
            if outcome is not None and candidate is not None:
                try:
                    self.on_answer(outcome, candidate)
                except Exception:  # an editor's view must never break a review
                    log.exception("publishing a provisional answer failed")
        if self.observer is not None:
            self.observer(event)
