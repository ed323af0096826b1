"""Which published findings are one finding to a reader (diagnostics.unique)."""

from __future__ import annotations

from attrs import evolve
from pygls.workspace.position_codec import PositionCodec

from fuse_ls.server.anchors import Snapshot
from fuse_ls.server.diagnostics import Reported, unique
from tests.lsp_sample import EVAL_LINE, SOURCE

SNAPSHOT = Snapshot("file:///app.py", SOURCE, 1, PositionCodec())
EVAL_ONE = "eval() runs arbitrary code; use ast.literal_eval."
EVAL_TWO = "Calling eval on the text executes arbitrary code: parse it with ast.literal_eval."
NONE_CHECK = "Compare with None using `is`."
VAGUE = "The name `value` says nothing about what is parsed; call it `config`."


def finding(fusion: str, message: str, start: int = EVAL_LINE, end: int = EVAL_LINE) -> Reported:
    r = SNAPSHOT.line_range(start + 1, end + 1)
    assert r is not None
    return Reported(
        fusion_id=fusion,
        finding_id=f"{fusion}-{message[:5]}",
        anchor=SNAPSHOT.anchor(r),
        severity="warning",
        category="security",
        message=message,
        votes=2,
        pool_size=3,
        models=("a", "b"),
    )


def messages(reported: list[Reported]) -> list[tuple[str, str]]:
    return [(r.fusion_id, r.message) for r in unique(reported)]


def test_the_newer_review_s_wording_of_the_same_finding_is_shown() -> None:
    older, newer = finding("old", EVAL_ONE), finding("new", EVAL_TWO)
    assert messages([older, newer]) == [("new", EVAL_TWO)]
    # On overlapping lines, not only identical ones.
    wider = finding("new", EVAL_TWO, EVAL_LINE - 1, EVAL_LINE + 1)
    assert messages([older, wider]) == [("new", EVAL_TWO)]


def test_distinct_findings_on_the_same_lines_stay_apart() -> None:
    shown = messages([finding("old", EVAL_ONE), finding("new", VAGUE), finding("new", EVAL_TWO)])
    assert shown == [("new", VAGUE), ("new", EVAL_TWO)]
    # One review's own findings are never merged: its clustering kept them apart.
    assert len(unique([finding("one", EVAL_ONE), finding("one", EVAL_TWO)])) == 2


def test_the_same_words_on_lines_that_do_not_overlap_are_two_findings() -> None:
    here, there = finding("old", NONE_CHECK, 5, 5), finding("new", NONE_CHECK, 7, 7)
    assert len(unique([here, there])) == 2


def test_a_provisional_answer_never_hides_a_fused_finding() -> None:
    fused = finding("old", EVAL_ONE)
    so_far = evolve(finding("new", EVAL_TWO), provisional=True)
    assert messages([fused, so_far]) == [("old", EVAL_ONE)]
    # The same words on the same lines: one diagnostic, within one review too.
    assert len(unique([fused, evolve(fused, finding_id="x")])) == 1


def clustering_pairs(items: list[Reported]) -> set[tuple[int, int]]:
    """The pairs unique() merges, straight from the clustering's own scores
    (fusion/findings.pair_similarities), as it computed them before it kept any."""
    from fuse_ls.core.types import Finding
    from fuse_ls.fusion.findings import MERGE_THRESHOLD, Vote, pair_similarities
    from fuse_ls.server.diagnostics import overlaps

    reviews = {f: n for n, f in enumerate(dict.fromkeys(r.fusion_id for r in items))}
    if len(reviews) < 2:
        return set()
    votes = [
        Vote(
            reviews[r.fusion_id],
            "",
            Finding(
                r.anchor.range.start.line + 1,
                r.anchor.range.end.line + 1,
                r.severity,
                r.category,
                r.message,
            ),
        )
        for r in items
    ]
    return {
        (i, j)
        for (i, j), score in pair_similarities(votes).items()
        if score >= MERGE_THRESHOLD
        and overlaps(items[j], items[i].anchor.range.start.line, items[i].anchor.range.end.line)
    }


def test_kept_scores_merge_the_same_pairs_as_the_clustering_after_edits() -> None:
    """unique() keeps the messages' scores between publishes (edits move findings, never
    change their words); the findings it merges are still the clustering's, wherever
    the findings moved to."""
    import random

    from fuse_ls.server.diagnostics import _same_finding_pairs

    rng = random.Random(7)
    words = [EVAL_ONE, EVAL_TWO, NONE_CHECK, VAGUE, "eval is unsafe here", "None check"]
    for _ in range(60):
        items = []
        for n in range(rng.randrange(2, 30)):
            start = rng.randrange(12)
            message = rng.choice(words) + rng.choice(["", " Really.", " value"])
            items.append(finding(rng.choice("abc"), message, start, start + rng.randrange(4)))
            items[-1] = evolve(items[-1], finding_id=f"{n}")
        for _ in range(3):  # the same messages, moved by edits
            got = _same_finding_pairs(items)
            pairs = {(i, j) for i, js in got.items() for j in js if i < j}
            assert pairs == clustering_pairs(items)
            shift = rng.randrange(-2, 3)
            items = [
                evolve(r, anchor=finding(r.fusion_id, r.message, s, s + rng.randrange(4)).anchor)
                for r in items
                for s in [max(0, min(12, r.anchor.range.start.line + shift))]
            ]
