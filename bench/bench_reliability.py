"""Agreement-based member reliability (weighted votes), measured on Code Review Bench.

Run: .venv/bin/python bench/bench_reliability.py [DATASET] [--samples 200] [--by-repo]

The idea (issue 9, third pass): estimate each pool member's reliability WITHOUT labels
from how often the other members corroborate its findings, on other reviews than the one
being fused, and weight its votes by it, so a solo finding of a member the pool keeps
confirming could be shown while solo findings of noisy members stay hints. With no
history every weight is equal and the rule is exactly today's plain quorum.

Estimators (label-free; `history` is other pull requests fused by the same pool):
- `corroboration`: q_m = share of m's findings in a cluster with another voter, Beta-
  smoothed toward the pool's pooled share (PRIOR pseudo-findings); w_m = q_m / pooled;
  a cluster is shown when the sum of its voters' weights reaches the quorum.
- `dawid-skene`: two-coin Dawid-Skene EM over the history's clusters (latent truth per
  cluster; per member P(raises | real) and P(raises | not real), Beta-shrunk toward the
  pool mean); a cluster is shown when its posterior log-odds reach those of a cluster
  with `quorum` votes from an average member (equal members: exactly the plain quorum).

History modes: `loo` (every other pull request of the dataset), `online` (only pull
requests listed before this one: what a user's history would hold), `+self` (the review
being fused is added to the history: its own agreement is label-free too), `other repos`
(only pull requests of the other repositories: a history learnt on other code).

Bound (uses labels, not a product option): `oracle solo` shows a member's solo finding
when that member's solo findings were judge-right >= 25% of the time on the other pull
requests: what the best conceivable per-member reliability could add.

Bound (labels, in-sample): the best fused F1 of any rule that decides from which members
voted, fitted to the judge's labels on the same pull requests. Every weighting of members
is such a rule, so none can exceed it.

Also printed: per member of the top pools, its corroboration share against the precision
of its solo findings, which is what a reliability estimate would have to predict.

Result (2026-12-01, 200 pools, --by-repo): every label-free estimator lowers the 3- and
5-pools with every judge (corroboration weights: random 3-pools beating their best member
11% / 10.5% / 30% against 38.5% / 39.5% / 70.5% with the plain quorum, Opus / Sonnet /
GPT-5.2); it helps only the all-12 pool. The reliable-message variant helps Opus's top-5
(60.3 vs 59.1) and lowers GPT-5.2's (54.5 vs 55.9). Even the labelled bound does not help.
The diagnosis is printed first: the member the pool corroborates most (bugbot) has the
least reliable lone findings, so the product keeps equal votes (fuse_ls/fusion/votes.py).
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import combinations
from pathlib import Path

from attrs import evolve, frozen
from dataset_arg import DEFAULT_DATASET, dataset_or_exit

from fuse_ls.eval.dataset import Dataset, PullRequest, judges, load_dataset
from fuse_ls.eval.replay import Score, choose_pools, member_answers, tool_scores
from fuse_ls.fusion.findings import Cluster, Vote, cluster_findings, terms
from fuse_ls.fusion.votes import VotePolicy

PRIOR = 10.0  # pseudo-findings (corroboration) or pseudo-clusters (Dawid-Skene) of shrinkage
Voters = frozenset[int]


@frozen
class PrStats:
    """One fused pull request, label-free except `solo` (for the oracle bound only)."""

    patterns: Counter[Voters]  # voter sets of its clusters
    found: tuple[int, ...]  # findings per member
    corroborated: tuple[int, ...]  # of which in a cluster with another voter
    solo: tuple[tuple[int, int], ...]  # per member (solo findings, judge-right ones)
    repo: str = ""


_clusters: dict[tuple[str, str, tuple[str, ...]], list[Cluster]] = {}


def clusters_of(ds: Dataset, pr: PullRequest, members: tuple[str, ...]) -> list[Cluster]:
    key = (ds.judge, pr.url, members)
    if key not in _clusters:
        _clusters[key] = cluster_findings(member_answers(pr, members))
    return _clusters[key]


def pr_stats(pr: PullRequest, clusters: list[Cluster], n: int) -> PrStats:
    found, corr = [0] * n, [0] * n
    solo = [[0, 0] for _ in range(n)]
    patterns: Counter[Voters] = Counter()
    for c in clusters:
        patterns[frozenset(c.voters)] += 1
        multi = len(c.voters) > 1
        for v in c.votes:
            found[v.voter] += 1
            corr[v.voter] += multi
            if not multi:
                solo[v.voter][0] += 1
                solo[v.voter][1] += pr.reviews[v.model].label(v.finding.message) == "tp"
    solo_counts = tuple((a, b) for a, b in solo)
    return PrStats(patterns, tuple(found), tuple(corr), solo_counts, repo_of(pr))


def repo_of(pr: PullRequest) -> str:
    return pr.url.split("/")[4].split("-")[0]


Show = Callable[[Voters], bool]
Rule = Callable[[Sequence[PrStats], int, int], Show]
Pick = Callable[[Cluster], Vote]
PickRule = Callable[[Sequence[PrStats], int], Pick]


def product_pick(history: Sequence[PrStats], n: int) -> Pick:
    return lambda c: c.representative()


def corroboration_weights(history: Sequence[PrStats], n: int) -> list[float]:
    """Each member's corroborated share over the pool's pooled share, Beta-smoothed."""
    found = [sum(h.found[m] for h in history) for m in range(n)]
    corr = [sum(h.corroborated[m] for h in history) for m in range(n)]
    pooled = (sum(corr) + 1) / (sum(found) + 2)
    return [(c + PRIOR * pooled) / (f + PRIOR) / pooled for f, c in zip(found, corr, strict=True)]


def reliable_pick(history: Sequence[PrStats], n: int) -> Pick:
    """The product's representative score (shared, rarer words) times the member's weight."""
    weight = corroboration_weights(history, n)

    def pick(c: Cluster) -> Vote:
        if len(c.votes) == 1:
            return c.votes[0]
        bags = [set(terms(v.finding.message)) for v in c.votes]
        df = Counter(t for bag in bags for t in bag)
        k = len(bags)
        shared = [sum(math.log(1 + k / df[t]) * (df[t] - 1) for t in bag) for bag in bags]
        best = max(
            range(k),
            key=lambda i: (
                round(shared[i] * weight[c.votes[i].voter], 9),
                len(c.votes[i].finding.message),
                -i,
            ),
        )
        return c.votes[best]

    return pick


def plain(history: Sequence[PrStats], n: int, quorum: int) -> Show:
    return lambda voters: len(voters) >= quorum


def corroboration(history: Sequence[PrStats], n: int, quorum: int) -> Show:
    weight = corroboration_weights(history, n)
    return lambda voters: sum(weight[m] for m in voters) >= quorum - 1e-9


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def dawid_skene(history: Sequence[PrStats], n: int, quorum: int) -> Show:
    items: Counter[Voters] = Counter()
    for h in history:
        items.update(h.patterns)
    # Start from the plain quorum's verdicts; with no history the parameters stay equal.
    truth = {p: 0.9 if len(p) >= quorum else 0.1 for p in items}
    sens, fpr, prior = [0.5] * n, [0.1] * n, 0.3
    for _ in range(30 if items else 0):
        real = sum(w * truth[p] for p, w in items.items())
        false = sum(w * (1 - truth[p]) for p, w in items.items())
        prior = (real + 1) / (real + false + 2)
        raw_s = [
            sum(w * truth[p] for p, w in items.items() if m in p) / max(real, 1e-9)
            for m in range(n)
        ]
        raw_f = [
            sum(w * (1 - truth[p]) for p, w in items.items() if m in p) / max(false, 1e-9)
            for m in range(n)
        ]
        mean_s, mean_f = statistics.fmean(raw_s), statistics.fmean(raw_f)
        sens = [min(0.99, max(0.01, (r * real + PRIOR * mean_s) / (real + PRIOR))) for r in raw_s]
        fpr = [min(0.99, max(0.01, (r * false + PRIOR * mean_f) / (false + PRIOR))) for r in raw_f]
        # Identifiability: a real issue is raised more often than a false one by every
        # member; without this the two classes drift to "augment raised it" and "it did not".
        fpr = [min(f, s) for f, s in zip(fpr, sens, strict=True)]
        truth = {p: 1 / (1 + math.exp(-_score(p, sens, fpr, prior, n))) for p in items}
    yes = [math.log(s / f) for s, f in zip(sens, fpr, strict=True)]
    no = [math.log((1 - s) / (1 - f)) for s, f in zip(sens, fpr, strict=True)]
    bar = _logit(prior) + quorum * statistics.fmean(yes) + (n - quorum) * statistics.fmean(no)
    return lambda voters: _score(voters, sens, fpr, prior, n) >= bar - 1e-9


def _score(voters: Voters, sens: list[float], fpr: list[float], prior: float, n: int) -> float:
    total = _logit(prior)
    for m in range(n):
        if m in voters:
            total += math.log(sens[m] / fpr[m])
        else:
            total += math.log((1 - sens[m]) / (1 - fpr[m]))
    return total


def oracle_solo(history: Sequence[PrStats], n: int, quorum: int) -> Show:
    right = [
        (sum(h.solo[m][1] for h in history) + 1) / (sum(h.solo[m][0] for h in history) + 4)
        for m in range(n)
    ]
    return lambda voters: (
        len(voters) >= quorum or (len(voters) == 1 and right[next(iter(voters))] >= 0.25)
    )


def history_of(stats: Sequence[PrStats], k: int, mode: str) -> Sequence[PrStats]:
    if mode == "loo":
        return [s for j, s in enumerate(stats) if j != k]
    if mode == "online":
        return stats[:k]
    if mode == "other repos":  # a history learnt on other code bases
        return [s for s in stats if s.repo != stats[k].repo]
    if mode == "online+self":
        return stats[: k + 1]
    return [stats[k]]  # self: this review alone


def score(pr: PullRequest, shown: Sequence[Cluster], pick: Pick) -> Score:
    matched: set[str] = set()
    fp = 0
    for c in shown:
        v = pick(c)
        review = pr.reviews[v.model]
        label = review.label(v.finding.message)
        if label == "tp":
            matched |= review.matches[v.finding.message]
        fp += label == "fp"
    return Score(len(matched), fp, len(pr.golden))


def run_pool(
    ds: Dataset, members: tuple[str, ...], rule: Rule, mode: str, pick: PickRule = product_pick
) -> Score:
    n = len(members)
    quorum = VotePolicy().quorum(n)
    per_pr = [clusters_of(ds, pr, members) for pr in ds.prs]
    stats = [pr_stats(pr, cl, n) for pr, cl in zip(ds.prs, per_pr, strict=True)]
    total = Score(0, 0, 0)
    for k, pr in enumerate(ds.prs):
        history = history_of(stats, k, mode)
        show = rule(history, n, quorum)
        shown = [c for c in per_pr[k] if show(frozenset(c.voters))]
        total = total + score(pr, shown, pick(history, n))
    return total


VARIANTS: dict[str, tuple[Rule, str] | tuple[Rule, str, PickRule]] = {
    "plain quorum (product)": (plain, "loo"),
    "reliable message loo": (plain, "loo", reliable_pick),
    "reliable message online": (plain, "online", reliable_pick),
    "reliable message onl+self": (plain, "online+self", reliable_pick),
    "corroboration loo": (corroboration, "loo"),
    "corroboration online": (corroboration, "online"),
    "corroboration online+self": (corroboration, "online+self"),
    "corroboration other repos": (corroboration, "other repos"),
    "corroboration self": (corroboration, "self"),
    "dawid-skene loo": (dawid_skene, "loo"),
    "dawid-skene online": (dawid_skene, "online"),
    "dawid-skene online+self": (dawid_skene, "online+self"),
    "oracle solo (bound)": (oracle_solo, "loo"),
}


def row(ds: Dataset, rule: Rule, mode: str, samples: int, pick: PickRule = product_pick) -> str:
    tools = tool_scores(ds)
    cells = []
    for size in (3, 5, len(tools)):
        top = run_pool(ds, choose_pools(tools, size, "top", 1, 0)[0], rule, mode, pick)
        cells.append(f"top{size} {top.f1 * 100:5.1f}")
    for size in (3, 5):
        results = [
            (run_pool(ds, m, rule, mode, pick).f1, max(tools[t].f1 for t in m))
            for m in choose_pools(tools, size, "random", samples, 0)
        ]
        med = statistics.median(f for f, _ in results) * 100
        beat = sum(f > b for f, b in results) / len(results) * 100
        cells.append(f"rand{size} {med:5.1f} / {beat:5.1f}%")
    return "  ".join(cells)


def diagnose(ds: Dataset) -> None:
    tools = tool_scores(ds)
    for size in (3, 5):
        members = choose_pools(tools, size, "top", 1, 0)[0]
        stats = [pr_stats(pr, clusters_of(ds, pr, members), size) for pr in ds.prs]
        print(f"  top-{size}: member  corroborated share  |  solo findings, judge-right share")
        for m, name in enumerate(members):
            found = sum(s.found[m] for s in stats)
            corr = sum(s.corroborated[m] for s in stats)
            solo = sum(s.solo[m][0] for s in stats)
            right = sum(s.solo[m][1] for s in stats)
            print(
                f"    {name:<11} {corr / found * 100:5.1f}% of {found:3}"
                f"   |  {solo:3}, {right / max(1, solo) * 100:5.1f}% right"
            )


def best_voter_set_rule(ds: Dataset, members: tuple[str, ...]) -> float:
    """The best fused F1 any rule deciding from *which members voted* can reach, the rule
    fitted to the judge's labels on these very pull requests (an upper bound for every
    weighting of members, learnt or not). Pools of up to three: every subset of voter sets;
    bigger: the best prefix of voter sets ordered by their own precision."""
    per_pr = [clusters_of(ds, pr, members) for pr in ds.prs]

    def f1(chosen: set[Voters]) -> float:
        total = Score(0, 0, 0)
        for pr, clusters in zip(ds.prs, per_pr, strict=True):
            shown = [c for c in clusters if frozenset(c.voters) in chosen]
            total = total + score(pr, shown, product_pick([], 0))
        return total.f1

    sets = sorted({frozenset(c.voters) for cl in per_pr for c in cl}, key=sorted)
    if len(members) <= 3:
        return max(f1(set(sub)) for k in range(len(sets) + 1) for sub in combinations(sets, k))

    def precision(v: Voters) -> float:
        total = Score(0, 0, 0)
        for pr, clusters in zip(ds.prs, per_pr, strict=True):
            shown = [c for c in clusters if frozenset(c.voters) == v]
            total = total + score(pr, shown, product_pick([], 0))
        return total.precision

    order = sorted(sets, key=lambda v: -precision(v))
    return max(f1(set(order[:k])) for k in range(len(order) + 1))


def bound_row(ds: Dataset, samples: int) -> str:
    tools = tool_scores(ds)
    cells = []
    for size in (3, 5):
        best = best_voter_set_rule(ds, choose_pools(tools, size, "top", 1, 0)[0])
        cells.append(f"top{size} {best * 100:5.1f}")
    results = [
        (best_voter_set_rule(ds, m), max(tools[t].f1 for t in m))
        for m in choose_pools(tools, 3, "random", samples, 0)
    ]
    med = statistics.median(f for f, _ in results) * 100
    beat = sum(f > b for f, b in results) / len(results) * 100
    cells.append(f"rand3 {med:5.1f} / {beat:5.1f}%")
    return "  ".join(cells)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = DEFAULT_DATASET
    parser.add_argument("dataset", nargs="?", type=Path, default=default)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--by-repo", action="store_true", help="also each repository alone")
    parser.add_argument("--only", default="", help="only variants whose name contains this")
    args = parser.parse_args(argv)
    args.dataset = dataset_or_exit(args.dataset)
    print("topN: fused F1; randN: median fused F1 / share of pools beating their best member")
    for judge in judges(args.dataset):
        ds = load_dataset(args.dataset, judge)
        print(f"\njudge {judge}")
        diagnose(ds)
        print(f"  bound, best voter-set rule fitted to labels: {bound_row(ds, args.samples)}")
        parts = [("all pull requests", ds)]
        if args.by_repo:
            repos = sorted({repo_of(pr) for pr in ds.prs})
            parts += [
                (
                    f"pull requests of {r}",
                    evolve(ds, prs=tuple(p for p in ds.prs if f"/{r}" in p.url)),
                )
                for r in repos
            ]
        for part, subset in parts:
            print(f" {part}")
            for name, (rule, mode, *pick) in VARIANTS.items():
                if args.only and args.only not in name and "product" not in name:
                    continue
                cells = row(subset, rule, mode, args.samples, *pick)
                print(f"  {name:<26} {cells}", flush=True)


if __name__ == "__main__":
    main()
