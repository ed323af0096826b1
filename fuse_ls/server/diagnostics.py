"""Findings as LSP diagnostics: the vote policy's severity, provenance in `data`.

A finding is stored as a `Reported`: what the models said plus `Anchor`s for where it
points, so edits can move it (see anchors.py) and the diagnostic is rebuilt from the
current anchors each time it is published.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from attrs import evolve, frozen
from lsprotocol import types

from fuse_ls.core.types import (
    CandidateResult,
    FusedFinding,
    Severity,
    agreement_text,
)
from fuse_ls.safetext import bidi_shown
from fuse_ls.server.anchors import Anchor, Mover, Snapshot
from fuse_ls.server.wire import FindingData, FindingFix, unstructure

if TYPE_CHECKING:
    from fuse_ls.fusion.votes import VotePolicy

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
    did_not_answer: int = 0  # pool members that gave no answer (FusedFinding's)
    not_waited_for: int = 0  # pool members the quorum made unnecessary (FusedFinding's)

    @property
    def agreement(self) -> str:
        return agreement_text(
            self.votes,
            self.pool_size,
            self.did_not_answer,
            self.not_waited_for,
            so_far=self.provisional,
        )


def lsp_severity(r: Reported) -> types.DiagnosticSeverity:
    """The severity the vote policy gave the finding (fuse_ls/fusion/votes.py), as LSP's:
    the server applies no rule of its own, so the editor, the CLI and SARIF agree."""
    return _LSP_SEVERITY.get(r.severity, types.DiagnosticSeverity.Information)


def finding_data(r: Reported, uri: str) -> dict[str, Any]:
    """The diagnostic's `data` (documented in docs/protocol.md)."""
    fix = None
    if r.replacement is not None:
        fix = FindingFix(replacement=r.replacement, range=r.anchor.range)
    data = FindingData(
        uri=uri,
        fusion_id=r.fusion_id,
        finding_id=r.finding_id,
        severity=r.severity,
        category=r.category,
        votes=r.votes,
        pool_size=r.pool_size,
        did_not_answer=r.did_not_answer,
        not_waited_for=r.not_waited_for,
        models=list(r.models),
        confirmed=r.confirmed,
        rationale=r.rationale,
        provisional=r.provisional,
        fix=fix,
    )
    out: dict[str, Any] = unstructure(data)
    return out


def to_diagnostic(r: Reported, uri: str) -> types.Diagnostic:
    """The finding as the editor lists it. Its words are shown with their bidi controls
    as `<U+202E>`: raw, a model led by the code could make a finding read as its opposite
    (Trojan Source). `data` keeps the model's text exactly: it is data, and the fix in it
    is code."""
    related = [
        types.DiagnosticRelatedInformation(
            location=types.Location(uri=uri, range=anchor.range), message=bidi_shown(message)
        )
        for anchor, message in r.related
    ]
    return types.Diagnostic(
        range=r.anchor.range,
        message=bidi_shown(f"{r.message} ({r.agreement})"),
        severity=lsp_severity(r),
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


def finding_id(f: FusedFinding, fusion_id: str, n: int) -> str:
    """The id of the `n`th finding of a fusion (its place in the fused result)."""
    return f.id or f"{fusion_id}-{n}"


# Fingerprints kept for findings no longer published: a dismissal clicked on a diagnostic
# a newer review has just replaced (the editor had not redrawn yet) still lands.
GONE_KEPT = 32


def forget_gone(
    fingerprints: dict[str, tuple[str, str]], published: Iterable[Iterable[Reported]]
) -> None:
    """Drop the fingerprints (finding id -> repository, fingerprint) of findings no longer
    published, but for the `GONE_KEPT` newest: one entry per finding ever shown made the
    map grow for the whole session."""
    live = {r.finding_id for findings in published for r in findings}
    gone = [i for i in fingerprints if i not in live]  # oldest first: insertion order
    for i in gone[: max(len(gone) - GONE_KEPT, 0)]:
        del fingerprints[i]


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
                finding_id=finding_id(f, fusion_id, n),
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
                did_not_answer=f.did_not_answer,
                not_waited_for=f.not_waited_for,
            )
        )
    return out


def provisional_findings(
    answers: Sequence[CandidateResult],
    pool_size: int,
    snapshot: Snapshot,
    fusion_id: str,
    policy: VotePolicy,
    shown: Callable[[Sequence[FusedFinding]], Sequence[FusedFinding]] = list,
) -> list[Reported]:
    """What the models that answered so far agree on, before any judge has looked.

    The same clustering and vote policy as the fused result, counted against the whole
    pool: a finding only some models raised so far stays a hint until enough agree.
    `shown` keeps what the fused result would show (ignore comments, dismissals).
    """
    # Clustering (and the answer parsing it brings) loads after start-up (see server.py).
    from fuse_ls.fusion.findings import cluster_findings, fuse_clusters

    clusters = cluster_findings((a.index, a.model, a.findings) for a in answers)
    fused = shown(policy.apply_all(fuse_clusters(clusters, pool_size)))
    out = reported_from_fused(fused, snapshot, fusion_id)
    return [evolve(r, finding_id=f"{fusion_id}-p{n}", provisional=True) for n, r in enumerate(out)]


def outside(reported: Iterable[Reported], start: int, end: int) -> list[Reported]:
    """The findings wholly outside lines start..end (0-based, inclusive): what a newer
    review of those lines leaves of an older one's."""
    return [r for r in reported if not overlaps(r, start, end)]


def overlaps(r: Reported, start: int, end: int) -> bool:
    return r.anchor.range.start.line <= end and r.anchor.range.end.line >= start


class _Similarity:
    """The TF-IDF vectors of one list of messages and the dot products of the pairs asked
    so far. Edits move findings but never change their words, so a publish after a
    keystroke only looks these up."""

    def __init__(self, messages: Sequence[str]) -> None:
        from fuse_ls.fusion.findings import tfidf_vectors

        self.vectors = tfidf_vectors(messages)
        self.dots: dict[tuple[int, int], float] = {}

    def dot(self, later: int, earlier: int) -> float:
        """As fusion/findings.pair_similarities sums it when it visits `later` (the
        finding starting after, or the same line and listed after): the same float."""
        key = (later, earlier)
        score = self.dots.get(key)
        if score is None:
            score = 0.0
            other = self.vectors[earlier]
            for term, weight in self.vectors[later].items():
                if term in other:
                    score = score + weight * other[term]
            self.dots[key] = score
        return score


# The last few message lists (one per document being edited, about): a keystroke in one
# file must not push out another's.
@functools.lru_cache(maxsize=8)
def _similarity(messages: tuple[str, ...]) -> _Similarity:
    return _Similarity(messages)


def _same_finding_pairs(items: Sequence[Reported]) -> dict[int, set[int]]:
    """Which findings of different reviews say the same thing about overlapping lines,
    by the rule that clusters the models' findings into one (fusion/findings.py): the
    TF-IDF similarity of the messages with its line bonus, at its merge threshold. Two
    findings of one review are never the same: its clustering already kept them apart."""
    # Clustering loads after start-up (see server.py); a publish comes after a review.
    from fuse_ls.fusion.findings import MERGE_THRESHOLD, line_adjusted

    if len({r.fusion_id for r in items}) < 2:
        return {}
    similarity = _similarity(tuple(r.message for r in items))
    out: dict[int, set[int]] = {}
    reach: list[int] = []  # the findings visited so far that end on or after this start
    for i in sorted(range(len(items)), key=lambda n: items[n].anchor.range.start.line):
        here = items[i].anchor.range
        reach = [j for j in reach if items[j].anchor.range.end.line >= here.start.line]
        for j in reach:
            if items[j].fusion_id == items[i].fusion_id:
                continue
            score = similarity.dot(i, j)
            if score <= 0:
                continue
            there = items[j].anchor.range
            score = line_adjusted(
                score, here.start.line, here.end.line, there.start.line, there.end.line
            )
            if score >= MERGE_THRESHOLD:
                out.setdefault(i, set()).add(j)
                out.setdefault(j, set()).add(i)
        reach.append(i)
    return out


def unique(reported: Iterable[Reported]) -> list[Reported]:
    """Each finding once, though several reviews found it: a running review's provisional
    answer repeating a published finding, or two reviews (a selection's and a change's)
    over the same code, in the same words on the same lines or in other words on
    overlapping ones. `reported` is oldest first; the newer finding is shown, except that
    a provisional one never hides a fused one (its review replaces it when it ends).
    Distinct findings on the same lines all stay."""
    items = list(reported)
    same = _same_finding_pairs(items)
    # Best first: fused over provisional, then the newer.
    order = sorted(range(len(items)), key=lambda i: (not items[i].provisional, i), reverse=True)
    shown: set[int] = set()
    said: set[tuple[int, int, str]] = set()
    for i in order:
        r = items[i]
        key = (r.anchor.range.start.line, r.anchor.range.end.line, r.message)
        if key in said or not same.get(i, set()).isdisjoint(shown):
            continue
        said.add(key)
        shown.add(i)
    return [items[i] for i in sorted(shown)]


def moved(r: Reported, anchor: Anchor, related: tuple[tuple[Anchor, str], ...]) -> Reported:
    return evolve(r, anchor=anchor, related=related)


def track_all(
    reported: Sequence[Reported],
    changes: Sequence[types.TextDocumentContentChangeEvent],
    now: Snapshot,
) -> list[Reported]:
    """The findings after `changes` produced `now`; those whose code was edited are gone
    (see anchors.track), and so are related locations whose code was."""
    out = []
    move = Mover(changes, now)
    for r in reported:
        anchor = move(r.anchor)
        if anchor is None:
            continue
        related = tuple((a, message) for old, message in r.related if (a := move(old)))
        out.append(moved(r, anchor, related))
    return out
