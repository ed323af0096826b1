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
