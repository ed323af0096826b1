"""What a change review takes and gives: the files to review, the run's options, each
unit's outcome and the findings reported on the changed lines."""

from __future__ import annotations

from pathlib import Path

from attrs import define, field, frozen

from fuse_ls.changes.units import Unit
from fuse_ls.core.errors import FuseError
from fuse_ls.core.types import FusedFinding, Severity


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
