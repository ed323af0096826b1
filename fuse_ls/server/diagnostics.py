"""Findings as LSP diagnostics: agreement-aware severity, provenance in `data`.

A finding is stored as a `Reported`: what the models said plus `Anchor`s for where it
points, so edits can move it (see anchors.py) and the diagnostic is rebuilt from the
current anchors each time it is published.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from attrs import evolve, frozen
from lsprotocol import types

from fuse_ls.core.types import CandidateResult, Finding, FusedFinding, Severity
from fuse_ls.server.anchors import Anchor, Snapshot

SOURCE = "fuse-ls"

_LSP_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


@frozen
class Reported:
    """One finding as the server publishes it, anchored to the document's text."""

    fusion_id: str
    finding_id: str
    anchor: Anchor
    severity: Severity
    category: str
    message: str
    votes: int
    pool_size: int
    models: tuple[str, ...]
    confirmed: bool | None = None
    rationale: str = ""
    replacement: str | None = None
    provisional: bool = False
    related: tuple[tuple[Anchor, str], ...] = ()

    @property
    def agreement(self) -> str:
        so_far = " so far" if self.provisional else ""
        return f"{self.votes}/{self.pool_size} models{so_far}"


def lsp_severity(r: Reported, min_votes_for_warning: int) -> types.DiagnosticSeverity:
    """The fused severity, capped at Information for a minority the judge did not confirm.

    "Minority" is fewer votes than `min_votes_for_warning`, or than the whole pool when the
    pool is smaller than that (a lone model that is the whole pool is not a minority).
    """
    severity = _LSP_SEVERITY.get(r.severity, types.DiagnosticSeverity.Information)
    minority = r.votes < min(min_votes_for_warning, r.pool_size)
    if r.confirmed is not True and minority and severity < types.DiagnosticSeverity.Information:
        return types.DiagnosticSeverity.Information
    return severity


def finding_data(r: Reported, uri: str) -> dict[str, Any]:
    """The diagnostic's `data` (documented in docs/protocol.md)."""
    data: dict[str, Any] = {
        "uri": uri,
        "fusionId": r.fusion_id,
        "findingId": r.finding_id,
        "severity": r.severity,
        "category": r.category,
        "votes": r.votes,
        "poolSize": r.pool_size,
        "models": list(r.models),
        "confirmed": r.confirmed,
        "rationale": r.rationale,
        "provisional": r.provisional,
        "fix": None,
    }
    if r.replacement is not None:
        data["fix"] = {"replacement": r.replacement, "range": _range_json(r.anchor.range)}
    return data


def to_diagnostic(r: Reported, uri: str, min_votes_for_warning: int) -> types.Diagnostic:
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(uri=uri, range=anchor.range), message=message
        )
        for anchor, message in r.related
    ]
    return types.Diagnostic(
        range=r.anchor.range,
        message=f"{r.message} ({r.agreement})",
        severity=lsp_severity(r, min_votes_for_warning),
        code=r.category,
        source=SOURCE,
        related_information=related or None,
        data=finding_data(r, uri),
    )


def finding_json(r: Reported, uri: str) -> dict[str, Any]:
    """A finding in a command result: the diagnostic's data plus where and what."""
    return {
        **finding_data(r, uri),
        "range": _range_json(r.anchor.range),
        "message": r.message,
        "agreement": r.agreement,
    }


def _range_json(r: types.Range) -> dict[str, Any]:
    return {
        "start": {"line": r.start.line, "character": r.start.character},
        "end": {"line": r.end.line, "character": r.end.character},
    }


def _related(
    snapshot: Snapshot, related: Iterable[tuple[int, int, str]]
) -> tuple[tuple[Anchor, str], ...]:
    out = []
    for start, end, message in related:
        r = snapshot.line_range(start, end)
        if r is not None:
            out.append((snapshot.anchor(r), message))
    return tuple(out)


def reported_from_fused(
    findings: Sequence[FusedFinding], snapshot: Snapshot, fusion_id: str
) -> list[Reported]:
    """Fused findings on the snapshot they were computed on; off-document ones are dropped."""
    out = []
    for n, f in enumerate(findings):
        r = snapshot.line_range(f.start_line, f.end_line)
        if r is None:
            continue
        out.append(
            Reported(
                fusion_id=fusion_id,
                finding_id=f.id or f"{fusion_id}-{n}",
                anchor=snapshot.anchor(r),
                severity=f.severity,
                category=f.category,
                message=f.message,
                votes=f.votes,
                pool_size=f.pool_size,
                models=f.models,
                confirmed=f.confirmed,
                rationale=f.rationale,
                replacement=f.replacement,
                related=_related(snapshot, f.related),
            )
        )
    return out


def provisional_findings(
    answers: Sequence[CandidateResult], pool_size: int, snapshot: Snapshot, fusion_id: str
) -> list[Reported]:
    """What the models that answered so far agree on, before any judge has looked.

    Findings about the same lines and category count as one, with one vote per pool
    member; this is a cheap stand-in for the engine's clustering, replaced by the fused
    result as soon as it arrives.
    """
    clusters: dict[tuple[int, int, str], list[tuple[CandidateResult, Finding]]] = {}
    for answer in answers:
        for finding in answer.findings:
            key = (finding.start_line, finding.end_line, finding.category)
            members = clusters.setdefault(key, [])
            if all(c.index != answer.index for c, _ in members):
                members.append((answer, finding))
    out = []
    for n, ((start, end, category), members) in enumerate(clusters.items()):
        r = snapshot.line_range(start, end)
        if r is None:
            continue
        first = members[0][1]
        worst = min((f.severity for _, f in members), key=_rank)
        out.append(
            Reported(
                fusion_id=fusion_id,
                finding_id=f"{fusion_id}-p{n}",
                anchor=snapshot.anchor(r),
                severity=worst,
                category=category,
                message=first.message,
                votes=len(members),
                pool_size=pool_size,
                models=tuple(c.model for c, _ in members),
                replacement=first.replacement,
                provisional=True,
            )
        )
    return out


def _rank(severity: Severity) -> int:
    return list(_LSP_SEVERITY).index(severity) if severity in _LSP_SEVERITY else 2


def moved(r: Reported, anchor: Anchor, related: tuple[tuple[Anchor, str], ...]) -> Reported:
    return evolve(r, anchor=anchor, related=related)
