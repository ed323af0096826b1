"""Replaying recorded reviews: every tool is a pool member, fused the way a review is.

Each tool's comments on a pull request become that member's answer (parsed by the same
`parse_findings` a model answer goes through), the answers are clustered and voted with
the product's defaults, the vote policy decides what is reported, and each reported
finding is scored by the judge's label of the text it shows. A pool of one tool therefore
gives exactly the benchmark's own figures for that tool.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Iterable, Sequence

from attrs import field, frozen

from fuse_ls.core.types import Finding, FusedFinding
from fuse_ls.eval.dataset import Dataset, PullRequest
from fuse_ls.fusion.findings import Cluster, cluster_findings, fuse_clusters, parse_findings
from fuse_ls.fusion.votes import VotePolicy

Clusterer = Callable[[Iterable[tuple[int, str, Sequence[Finding]]]], list[Cluster]]

# Recorded comments carry no lines: every finding gets the same coarse range (the whole
# change), which lines cannot tell apart, so the text alone decides what is one issue.
_FIRST, _LAST = 1, 100_000


@frozen
class Score:
    tp: int
    fp: int
    golden: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.golden if self.golden else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: Score) -> Score:
        return Score(self.tp + other.tp, self.fp + other.fp, self.golden + other.golden)

    def as_json(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 6),
            "recall": round(self.recall, 6),
            "f1": round(self.f1, 6),
            "tp": self.tp,
            "fp": self.fp,
            "golden": self.golden,
        }


@frozen
class Pairs:
    """Clustering decisions on pairs of findings whose judge labels say what they are."""

    merged_same: int = 0  # matched the same golden comment and were merged (right)
    merged_different: int = 0  # matched different golden comments but were merged (wrong)
    split_same: int = 0  # matched the same golden comment but were kept apart (missed)

    @property
    def precision(self) -> float:
        merged = self.merged_same + self.merged_different
        return self.merged_same / merged if merged else 1.0

    @property
    def recall(self) -> float:
        same = self.merged_same + self.split_same
        return self.merged_same / same if same else 1.0

    def __add__(self, other: Pairs) -> Pairs:
        return Pairs(
            self.merged_same + other.merged_same,
            self.merged_different + other.merged_different,
            self.split_same + other.split_same,
        )

    def as_json(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 6),
            "recall": round(self.recall, 6),
            "merged_same": self.merged_same,
            "merged_different": self.merged_different,
            "split_same": self.split_same,
        }


@frozen
class MemberStats:
    """One pool member's findings in the fused review: how often the others raised the
    same issue, and how often its lone findings (which the policy keeps as hints in
    pools of three or more) were right. Measured on Code Review Bench, the member the
    others corroborate most is not the one whose lone findings are right, which is why
    votes are not weighted by agreement (bench/bench_reliability.py)."""

    findings: int = 0
    corroborated: int = 0  # in a cluster with at least one other member
    lone: int = 0
    lone_right: int = 0  # lone findings the judge matched to a golden comment

    def __add__(self, other: MemberStats) -> MemberStats:
        return MemberStats(
            self.findings + other.findings,
            self.corroborated + other.corroborated,
            self.lone + other.lone,
            self.lone_right + other.lone_right,
        )

    @property
    def corroborated_share(self) -> float:
        return self.corroborated / self.findings if self.findings else 0.0

    @property
    def lone_precision(self) -> float:
        return self.lone_right / self.lone if self.lone else 0.0

    def as_json(self) -> dict[str, float | int]:
        return {
            "findings": self.findings,
            "corroborated": self.corroborated,
            "lone": self.lone,
            "lone_right": self.lone_right,
            "corroborated_share": round(self.corroborated_share, 6),
            "lone_precision": round(self.lone_precision, 6),
        }


@frozen
class PoolResult:
    members: tuple[str, ...]
    fused: Score
    best_member: str
    best_member_f1: float
    pairs: Pairs
    shown: int  # findings reported over all pull requests
    minority: int  # findings kept as hints (below the vote quorum)
    member_stats: tuple[MemberStats, ...] = ()  # in `members` order

    @property
    def beats_best(self) -> bool:
        return self.fused.f1 > self.best_member_f1


@frozen
class Replay:
    dataset: Dataset
    tools: dict[str, Score]
    pools: list[PoolResult] = field(factory=list)

    @property
    def median_fused_f1(self) -> float:
        return statistics.median(p.fused.f1 for p in self.pools) if self.pools else 0.0

    @property
    def beat_share(self) -> float:
        return sum(p.beats_best for p in self.pools) / len(self.pools) if self.pools else 0.0

    @property
    def pairs(self) -> Pairs:
        total = Pairs()
        for p in self.pools:
            total = total + p.pairs
        return total


def tool_scores(ds: Dataset) -> dict[str, Score]:
    """The benchmark's own per-tool figures: its tp / fp / fn counts, micro-averaged."""
    out = {}
    for tool in ds.tools:
        total = Score(0, 0, 0)
        for pr in ds.prs:
            review = pr.reviews.get(tool)
            if review is not None:
                total = total + Score(review.tp, review.fp, review.tp + review.fn)
        out[tool] = total
    return dict(sorted(out.items(), key=lambda kv: (-kv[1].f1, kv[0])))


def member_answers(
    pr: PullRequest, members: Sequence[str]
) -> list[tuple[int, str, tuple[Finding, ...]]]:
    """Each member's comments as the model answer a review would have parsed."""
    out = []
    for index, tool in enumerate(members):
        review = pr.reviews.get(tool)
        texts = review.texts if review is not None else ()
        payload = {
            "findings": [{"start_line": _FIRST, "end_line": _LAST, "message": t} for t in texts]
        }
        out.append((index, tool, parse_findings(payload, _FIRST, _LAST)))
    return out


def fuse_pull_request(
    pr: PullRequest,
    members: Sequence[str],
    policy: VotePolicy,
    clusterer: Clusterer = cluster_findings,
) -> tuple[list[Cluster], list[FusedFinding]]:
    clusters = clusterer(member_answers(pr, members))
    return clusters, policy.apply_all(fuse_clusters(clusters, len(members)))


def score_findings(
    pr: PullRequest, findings: Sequence[FusedFinding], policy: VotePolicy
) -> tuple[Score, int, int]:
    """(score, reported, minority): each reported finding scored by the text it shows."""
    matched: set[str] = set()
    fp = shown = 0
    for f in findings:
        if not policy.reported(f):
            continue
        shown += 1
        label = "neither"
        for model in f.models:
            review = pr.reviews.get(model)
            if review is not None and f.message in review.texts:
                label = review.label(f.message)
                if label == "tp":
                    matched |= review.matches[f.message]
                break
        fp += label == "fp"
    return Score(len(matched), fp, len(pr.golden)), shown, len(findings) - shown


def cluster_pairs(pr: PullRequest, clusters: Sequence[Cluster]) -> Pairs:
    where: list[tuple[int, int, frozenset[str]]] = []  # (cluster, voter, golden matched)
    for n, cluster in enumerate(clusters):
        for vote in cluster.votes:
            review = pr.reviews.get(vote.model)
            gold = review.matches.get(vote.finding.message) if review is not None else None
            if gold:
                where.append((n, vote.voter, gold))
    same_merged = diff_merged = same_split = 0
    for i, (ca, va, ga) in enumerate(where):
        for cb, vb, gb in where[i + 1 :]:
            if va == vb:
                continue  # one member's two findings are never merged, by design
            same = bool(ga & gb)
            if ca == cb:
                same_merged += same
                diff_merged += not same
            elif same:
                same_split += 1
    return Pairs(same_merged, diff_merged, same_split)


def member_stats(pr: PullRequest, clusters: Sequence[Cluster], size: int) -> list[MemberStats]:
    out = [MemberStats() for _ in range(size)]
    for cluster in clusters:
        lone = len(cluster.voters) == 1
        for vote in cluster.votes:
            review = pr.reviews.get(vote.model)
            right = review is not None and review.label(vote.finding.message) == "tp"
            out[vote.voter] = out[vote.voter] + MemberStats(
                1, int(not lone), int(lone), int(lone and right)
            )
    return out


def replay_pool(
    ds: Dataset,
    members: Sequence[str],
    tools: dict[str, Score],
    policy: VotePolicy,
    clusterer: Clusterer = cluster_findings,
) -> PoolResult:
    fused, pairs, shown, minority = Score(0, 0, 0), Pairs(), 0, 0
    stats = [MemberStats() for _ in members]
    for pr in ds.prs:
        clusters, findings = fuse_pull_request(pr, members, policy, clusterer)
        score, n_shown, n_minority = score_findings(pr, findings, policy)
        fused, shown, minority = fused + score, shown + n_shown, minority + n_minority
        pairs = pairs + cluster_pairs(pr, clusters)
        stats = [
            a + b for a, b in zip(stats, member_stats(pr, clusters, len(members)), strict=True)
        ]
    best = max(members, key=lambda t: (tools[t].f1, t))
    return PoolResult(
        members=tuple(members),
        fused=fused,
        best_member=best,
        best_member_f1=tools[best].f1,
        pairs=pairs,
        shown=shown,
        minority=minority,
        member_stats=tuple(stats),
    )


def choose_pools(
    tools: dict[str, Score], size: int, how: str, samples: int, seed: int
) -> list[tuple[str, ...]]:
    """`top`: the `size` best tools. `random`: `samples` seeded draws of `size` tools."""
    names = list(tools)  # best first
    size = max(1, min(size, len(names)))
    if how == "top":
        return [tuple(names[:size])]
    rng = random.Random(seed)
    # Members keep the table's order so a pool reads best-first whatever the draw.
    rank = {n: i for i, n in enumerate(names)}
    return [tuple(sorted(rng.sample(names, size), key=rank.__getitem__)) for _ in range(samples)]


def replay(
    ds: Dataset,
    pool_size: int = 5,
    pools: str = "top",
    samples: int = 200,
    seed: int = 0,
    policy: VotePolicy | None = None,
    clusterer: Clusterer = cluster_findings,
) -> Replay:
    """Product defaults unless told otherwise (the benchmark compares other clusterers)."""
    policy = policy or VotePolicy()
    tools = tool_scores(ds)
    chosen = choose_pools(tools, pool_size, pools, samples, seed)
    return Replay(ds, tools, [replay_pool(ds, m, tools, policy, clusterer) for m in chosen])
