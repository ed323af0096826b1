"""The one vote policy: what votes and judge verdicts mean for what is reported."""

from __future__ import annotations

from fuse_ls.core.types import FusedFinding
from fuse_ls.fusion.votes import VotePolicy


def fused(votes: int, pool: int, confirmed: bool | None = None) -> FusedFinding:
    return FusedFinding(
        start_line=3,
        end_line=3,
        severity="error",
        category="security",
        message="eval of input",
        votes=votes,
        pool_size=pool,
        models=tuple(f"m{i}" for i in range(votes)),
        confirmed=confirmed,
    )


def test_quorum_grows_with_the_pool() -> None:
    policy = VotePolicy()
    assert [policy.quorum(n) for n in range(1, 13)] == [1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 4]
    assert VotePolicy(min_votes=3).quorum(3) == 3


def test_unconfirmed_minority_becomes_a_hint_and_majority_keeps_its_severity() -> None:
    policy = VotePolicy()
    assert policy.apply(fused(1, 3)).severity == "hint"
    assert not policy.reported(fused(1, 3))
    assert policy.apply(fused(2, 3)).severity == "error"
    # A lone model that is the whole pool, or one of two, is not a minority.
    assert policy.apply(fused(1, 1)).severity == "error"
    assert policy.apply(fused(1, 2)).severity == "error"


def test_judge_confirmation_beats_votes_and_rejection_is_never_reported() -> None:
    policy = VotePolicy()
    assert policy.apply(fused(1, 5, confirmed=True)).severity == "error"
    assert not policy.reported(fused(5, 5, confirmed=False))


def test_applying_twice_changes_nothing() -> None:
    policy = VotePolicy()
    once = policy.apply(fused(1, 4))
    assert policy.apply(once) == once
