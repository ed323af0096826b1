"""Clustering review findings: paraphrases merge, distinct issues stay apart."""

from __future__ import annotations

from fuse_ls.core.types import Finding
from fuse_ls.emulator.answers import DEFAULT_RULES
from fuse_ls.fusion.findings import (
    MAX_FINDINGS_PER_MODEL,
    Cluster,
    Vote,
    cluster_findings,
)


def f(message: str, start: int = 10, end: int | None = None, category: str = "bug") -> Finding:
    return Finding(start, end if end is not None else start, "warning", category, message)


def groups(clusters: list[Cluster]) -> list[set[str]]:
    return [{v.finding.message for v in c.votes} for c in clusters]


LEAK_A = "The file handle opened in load_config is never closed when json.load raises."
LEAK_B = "load_config leaks its open file if json.load throws; wrap the open() in a with block."
RACE = "self.hits += 1 is not atomic: concurrent record() calls lose increments; use a Lock."
NULL = "organization_context.member can be None for API tokens, so .has_global_access crashes."


def test_paraphrases_from_two_models_merge() -> None:
    clusters = cluster_findings([(0, "a", [f(LEAK_A)]), (1, "b", [f(LEAK_B)])])
    assert groups(clusters) == [{LEAK_A, LEAK_B}]
    assert clusters[0].voters == {0, 1}


def test_distinct_issues_on_the_same_lines_and_category_stay_apart() -> None:
    # The old clustering merged these: same lines and the same (generic) category.
    clusters = cluster_findings([(0, "a", [f(LEAK_A)]), (1, "b", [f(RACE)]), (2, "c", [f(NULL)])])
    assert sorted(len(c.votes) for c in clusters) == [1, 1, 1]


def test_category_alone_never_merges_but_differing_category_does_not_block() -> None:
    same_cat = cluster_findings(
        [(0, "a", [f(LEAK_A, category="general")]), (1, "b", [f(RACE, category="general")])]
    )
    assert len(same_cat) == 2
    other_cat = cluster_findings(
        [(0, "a", [f(LEAK_A, category="resource-leak")]), (1, "b", [f(LEAK_B, category="bug")])]
    )
    assert len(other_cat) == 1


def test_lines_gate_far_findings_and_nearby_need_more_agreement() -> None:
    far = cluster_findings([(0, "a", [f(LEAK_A, 10)]), (1, "b", [f(LEAK_B, 40)])])
    assert len(far) == 2
    near = cluster_findings([(0, "a", [f(LEAK_A, 10)]), (1, "b", [f(LEAK_A, 12)])])
    assert len(near) == 1


def test_one_model_never_votes_twice_for_a_cluster() -> None:
    clusters = cluster_findings([(0, "a", [f(LEAK_A), f(LEAK_B)]), (1, "b", [f(LEAK_B)])])
    assert all(len(c.votes) == len(c.voters) for c in clusters)
    assert sorted(len(c.votes) for c in clusters) == [1, 2]


def test_representative_is_the_most_specific_agreed_text() -> None:
    vague = "Possible resource leak."
    clusters = cluster_findings(
        [(0, "a", [f(LEAK_A)]), (1, "b", [f(LEAK_B)]), (2, "c", [f(vague + " load_config file")])]
    )
    top = clusters[0]
    assert len(top.votes) == 3
    assert top.representative().finding.message != vague + " load_config file"


def test_deterministic_whatever_the_input_order() -> None:
    answers = [(0, "a", [f(LEAK_A), f(RACE, 30)]), (1, "b", [f(LEAK_B), f(NULL, 30)])]
    once = groups(cluster_findings(answers))
    again = groups(cluster_findings(list(reversed(answers))))
    assert sorted(map(sorted, once)) == sorted(map(sorted, again))


def test_findings_per_model_are_capped_keeping_the_most_severe() -> None:
    many = [f(f"style nit number {i}", i) for i in range(MAX_FINDINGS_PER_MODEL + 50)]
    severe = Finding(5000, 5000, "error", "security", "SQL injection in the query builder")
    clusters = cluster_findings([(0, "a", [*many, severe])])
    kept = [v.finding for c in clusters for v in c.votes]
    assert len(kept) == MAX_FINDINGS_PER_MODEL
    assert severe in kept


def test_vote_objects_stay_usable() -> None:
    c = Cluster([Vote(0, "a", f(LEAK_A))])
    assert c.fuse(3).votes == 1 and c.fuse(3).message == LEAK_A


# Three models' wordings of one defect (the emulator's default eval() messages).
EVAL_WORDINGS = next(r.messages for r in DEFAULT_RULES if r.id == "eval")


def test_precise_same_line_helps_three_wordings_merge_but_coarse_ranges_do_not() -> None:
    # Three models, three wordings, one line: one finding with three votes.
    same_line = cluster_findings([(i, f"m{i}", [f(m, 7)]) for i, m in enumerate(EVAL_WORDINGS)])
    assert [len(c.voters) for c in same_line] == [3]
    # The same texts on a whole-file range: lines say nothing, the text alone decides.
    coarse = cluster_findings([(i, f"m{i}", [f(m, 1, 400)]) for i, m in enumerate(EVAL_WORDINGS)])
    assert sorted(len(c.voters) for c in coarse) == [1, 2]
    # Unrelated findings on the same precise line still stay apart.
    assert len(cluster_findings([(0, "a", [f(LEAK_A, 7)]), (1, "b", [f(RACE, 7)])])) == 2
