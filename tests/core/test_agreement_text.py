"""The one wording of a finding's agreement, which every output shows."""

from __future__ import annotations

import pytest

from fuse_ls.core.types import FusedFinding, agreement_text


@pytest.mark.parametrize(
    ("counts", "said"),
    [
        ((2, 3, 0, 0), "2/3 models"),
        ((2, 2, 1, 0), "2/2 models; 1 of 3 did not answer"),
        # A member the quorum made unnecessary did not fail: it is named apart.
        ((2, 2, 0, 1), "2/2 models; 1 of 3 not waited for"),
        ((2, 2, 1, 1), "2/2 models; 1 of 4 did not answer, 1 not waited for"),
        ((1, 3, 2, 3), "1/3 models; 2 of 8 did not answer, 3 not waited for"),
    ],
)
def test_agreement_names_who_failed_and_who_was_not_waited_for(
    counts: tuple[int, int, int, int], said: str
) -> None:
    assert agreement_text(*counts) == said
    # The table's votes column: the same words without "models".
    assert agreement_text(*counts, short=True) == said.replace(" models", "", 1)


def test_so_far_only_when_every_member_is_accounted_for() -> None:
    assert agreement_text(1, 2, so_far=True) == "1/2 models so far"
    assert agreement_text(1, 2, 0, 1, so_far=True) == "1/2 models; 1 of 3 not waited for"


def test_a_finding_keeps_failures_and_members_not_waited_for_apart() -> None:
    f = FusedFinding(2, 2, "error", "security", "eval", 2, 2, ("a", "b"), not_waited_for=1)
    assert f.agreement == "2/2 models; 1 of 3 not waited for"
    assert f.votes_text == "2/2; 1 of 3 not waited for"
    data = f.to_json()
    assert (data["did_not_answer"], data["not_waited_for"]) == (0, 1)
    assert data["agreement"] == f.agreement
