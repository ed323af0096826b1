"""The one vote policy: which fused findings are reported, and at which severity.

Every output applies this and nothing else: the CLI table, `--json`, `--sarif`,
`--fail-on`, the language server's diagnostics (final and provisional) and `eval replay`.

- A finding the judge confirmed is reported at its severity, whatever its votes.
- A finding the judge rejected is not reported (the engine keeps it in `rejected`).
- Without a verdict (no judge, judge skipped or failed), a finding is reported when at
  least `quorum(pool size)` pool members raised it. Fewer votes make it a *minority*
  finding: kept, never silently dropped, but lowered to `hint` so it neither looks like
  a real problem in the editor nor trips `--fail-on`.

Measured on the train part of Code Review Bench (README, "How good is the fused review"):
a comment raised by one reviewer of five is right about 1 time in 8, by two about 1 in 4,
by four or more well over half the time; requiring two votes in pools of three or more
keeps most real issues and removes most noise, while a pool of one or two keeps all.
Every member's vote counts the same: weighting members by how often the others
corroborate them (agreement-based reliability, Dawid-Skene) was measured on all three
judges' labels and lowers fused F1 (bench/bench_reliability.py), because a member the
pool agrees with most is not the one whose lone findings are right.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from attrs import evolve, frozen

from fuse_ls.core.types import FusedFinding, Severity

MINORITY_SEVERITY: Severity = "hint"


@frozen
class VotePolicy:
    # Votes needed for an unconfirmed finding to be reported in a pool of three or more.
    min_votes: int = 2

    def quorum(self, pool_size: int) -> int:
        """Votes needed in a pool of `pool_size` members that answered: a third of the
        pool, and at least `min_votes` once the pool has three members or more.

        A pool of one or two reports everything it finds: a lone reviewer is the whole
        pool, and with two a single disagreement would silence half of it. In big pools
        two votes are cheap (on Code Review Bench, a comment two of twelve tools raised
        was right 28% of the time, four of twelve 57%), so the quorum grows with the pool.
        """
        if pool_size <= 2:
            return 1
        return max(self.min_votes, math.ceil(pool_size / 3))

    def reported(self, finding: FusedFinding) -> bool:
        if finding.confirmed is True:
            return True
        if finding.confirmed is False:
            return False
        return finding.votes >= self.quorum(finding.pool_size)

    def apply(self, finding: FusedFinding) -> FusedFinding:
        """The finding as every output shows it (idempotent)."""
        if self.reported(finding) or finding.severity == MINORITY_SEVERITY:
            return finding
        return evolve(finding, severity=MINORITY_SEVERITY)

    def apply_all(self, findings: Iterable[FusedFinding]) -> list[FusedFinding]:
        return [self.apply(f) for f in findings]
