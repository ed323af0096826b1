"""Review findings: parsing what models say, and clustering them into voted findings.

Agreement is the strongest signal in AI code review: a finding raised independently by
several models is far more likely to be real. So before any judge sees them, findings
are grouped by overlapping lines and similar meaning, and each group counts the distinct
pool members that raised it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from attrs import define, field

from fuse_ls.core.types import SEVERITIES, Finding, FusedFinding, Severity

_SEVERITY_ALIASES: dict[str, Severity] = {
    "error": "error",
    "critical": "error",
    "blocker": "error",
    "high": "error",
    "major": "warning",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "info": "info",
    "information": "info",
    "minor": "info",
    "low": "info",
    "note": "info",
    "hint": "hint",
    "nit": "hint",
    "style": "hint",
    "trivial": "hint",
}
_RANK = {s: i for i, s in enumerate(SEVERITIES)}  # lower is more severe
_WORD = re.compile(r"[a-z0-9_]+")
_STOP = frozenset(
    "a an the is are be to of in on for and or this that it its with as at "
    "by can may should could would not no use using from into line lines code".split()
)


def normalise_severity(value: object) -> Severity:
    return _SEVERITY_ALIASES.get(str(value).strip().lower(), "warning")


def parse_findings(payload: Any, first_line: int, last_line: int) -> tuple[Finding, ...]:
    """Turn a model's `{"findings": [...]}` into findings; skip malformed entries.

    Entries outside the selection are clamped into it when they overlap and dropped when
    they do not: a reviewer asked about lines 10-20 must not get diagnostics at line 300.
    """
    raw = payload.get("findings") if isinstance(payload, dict) else None
    if not isinstance(raw, list):
        raise ValueError("the answer has no 'findings' list")
    out: list[Finding] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        try:
            start = int(item.get("start_line", item.get("line", "")) or "")
            end = int(item.get("end_line", start))
        except (TypeError, ValueError):
            continue
        if end < start:
            start, end = end, start
        if end < first_line or start > last_line:
            continue
        message = str(item.get("message") or "").strip()
        if not message:
            continue
        replacement = item.get("replacement")
        out.append(
            Finding(
                start_line=max(start, first_line),
                end_line=min(end, last_line),
                severity=normalise_severity(item.get("severity", "warning")),
                category=str(item.get("category") or "general").strip().lower() or "general",
                message=message,
                replacement=replacement if isinstance(replacement, str) else None,
            )
        )
    return tuple(out)


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1)


def similarity(a: str, b: str) -> float:
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


@define
class Vote:
    voter: int  # pool index
    model: str
    finding: Finding


@define
class Cluster:
    votes: list[Vote] = field(factory=list)

    @property
    def start_line(self) -> int:
        return min(v.finding.start_line for v in self.votes)

    @property
    def end_line(self) -> int:
        return max(v.finding.end_line for v in self.votes)

    @property
    def voters(self) -> set[int]:
        return {v.voter for v in self.votes}

    def accepts(self, vote: Vote, min_similarity: float) -> bool:
        f = vote.finding
        # One model listing two findings on the same lines is two findings, not two votes.
        if vote.voter in self.voters:
            return False
        for other in self.votes:
            o = other.finding
            overlaps = f.start_line <= o.end_line + 1 and o.start_line <= f.end_line + 1
            if not overlaps:
                continue
            if f.category == o.category or similarity(f.message, o.message) >= min_similarity:
                return True
        return False

    def representative(self) -> Vote:
        """The member most similar to the others (the medoid): the most typical wording."""
        if len(self.votes) <= 2:
            return max(
                self.votes, key=lambda v: (-_RANK[v.finding.severity], len(v.finding.message))
            )
        return max(
            self.votes,
            key=lambda v: sum(similarity(v.finding.message, o.finding.message) for o in self.votes),
        )

    def severity(self) -> Severity:
        counts = Counter(v.finding.severity for v in self.votes)
        # Most votes wins; ties go to the more severe level.
        return min(counts, key=lambda s: (-counts[s], _RANK[s]))

    def replacement(self) -> str | None:
        reps = [v.finding.replacement for v in self.votes if v.finding.replacement is not None]
        if not reps:
            return None
        counts = Counter(r.strip() for r in reps)
        best, _ = counts.most_common(1)[0]
        return next(r for r in reps if r.strip() == best)

    def body(self) -> dict[str, Any]:
        """What a judge sees: no model names, so the judge cannot favour a vendor."""
        return {
            "start_line": self.start_line,
            "end_line": self.end_line,
            "severity": self.severity(),
            "category": self.representative().finding.category,
            "messages": [v.finding.message for v in self.votes],
            "replacement": self.replacement(),
        }

    def fuse(
        self,
        pool_size: int,
        *,
        confirmed: bool | None = None,
        rationale: str = "",
        severity: Severity | None = None,
        message: str | None = None,
    ) -> FusedFinding:
        rep = self.representative().finding
        ordered = sorted(self.votes, key=lambda v: v.voter)
        related = tuple(
            (v.finding.start_line, v.finding.end_line, f"{v.model}: {v.finding.message}")
            for v in ordered
            if v.finding is not rep
            and (v.finding.start_line, v.finding.end_line) != (rep.start_line, rep.end_line)
        )
        return FusedFinding(
            start_line=rep.start_line,
            end_line=rep.end_line,
            severity=severity or self.severity(),
            category=rep.category,
            message=message or rep.message,
            votes=len(self.voters),
            pool_size=pool_size,
            models=tuple(v.model for v in ordered),
            replacement=rep.replacement if rep.replacement is not None else self.replacement(),
            confirmed=confirmed,
            rationale=rationale,
            related=related,
        )


def cluster_findings(
    answers: Iterable[tuple[int, str, Sequence[Finding]]], min_similarity: float = 0.25
) -> list[Cluster]:
    """Greedy single pass over findings in line order; deterministic for the same input."""
    votes = [Vote(voter, model, f) for voter, model, findings in answers for f in findings]
    votes.sort(key=lambda v: (v.finding.start_line, v.finding.end_line, v.voter))
    clusters: list[Cluster] = []
    for vote in votes:
        home = next((c for c in clusters if c.accepts(vote, min_similarity)), None)
        if home is None:
            clusters.append(Cluster([vote]))
        else:
            home.votes.append(vote)
    clusters.sort(key=lambda c: (-len(c.voters), c.start_line))
    return clusters


def severity_rank(severity: Severity) -> int:
    return _RANK[severity]
