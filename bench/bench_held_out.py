"""Review quality on pull requests no policy choice was measured on (issue 9, held out).
Run: .venv/bin/python bench/bench_held_out.py DATASET [--samples 200] [--seed 0]

DATASET is upstream's whole `offline/` folder of withmartian/code-review-benchmark (50 pull
requests). The README's figures and every clustering and vote-policy choice used its 30
pull requests of sentry, grafana and cal.com (the copy in ../shared); the 20 of discourse
and keycloak were never looked at. For each judge's labels this prints, on those 20 and
on the 30 side by side: fused F1 of the top-3 and top-5 tools (by their F1 on that part)
against the best member, seeded random pools of 3 and 5 (median fused F1 / share beating
their best member) and clustering merge precision / recall on the random pools of 5.
No model call: the product's clustering, votes and policy over the recorded comments.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from attrs import evolve
from dataset_arg import DEFAULT_DATASET, dataset_or_exit

from fuse_ls.eval.dataset import Dataset, judges, load_dataset
from fuse_ls.eval.replay import Replay, replay

HELD_OUT = ("discourse", "keycloak")  # repositories absent from the 30 tuned on


def split(ds: Dataset) -> dict[str, Dataset]:
    held = tuple(pr for pr in ds.prs if any(name in pr.url for name in HELD_OUT))
    seen = tuple(pr for pr in ds.prs if pr not in held)
    return {"held out": evolve(ds, prs=held), "tuned on": evolve(ds, prs=seen)}


def pct(x: float) -> str:
    return f"{100 * x:5.1f}"


def row(ds: Dataset, samples: int, seed: int) -> str:
    top: dict[int, Replay] = {n: replay(ds, n, "top", 1, seed) for n in (3, 5)}
    rand: dict[int, Replay] = {n: replay(ds, n, "random", samples, seed) for n in (3, 5)}
    cells = []
    for n in (3, 5):
        pool = top[n].pools[0]
        cells.append(f"top{n} {pct(pool.fused.f1)} vs {pct(pool.best_member_f1)}")
    for n in (3, 5):
        cells.append(f"rand{n} {pct(rand[n].median_fused_f1)} / {pct(rand[n].beat_share)}%")
    pairs = [p.pairs for p in rand[5].pools]
    same = sum(p.merged_same for p in pairs)
    wrong = sum(p.merged_different for p in pairs)
    split_same = sum(p.split_same for p in pairs)
    precision = same / (same + wrong) if same + wrong else 0.0
    recall = same / (same + split_same) if same + split_same else 0.0
    cells.append(f"merge P {pct(precision)} R {pct(recall)}")
    return "  ".join(cells)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset", nargs="?", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.dataset = dataset_or_exit(args.dataset)
    print("fused F1 vs best member; random pools: median fused F1 / share beating their best")
    for judge in judges(args.dataset):
        parts = split(load_dataset(args.dataset, judge))
        print(f"\njudge {judge}")
        for name, part in parts.items():
            if not part.prs:
                print(f"  {name:<9} no pull requests (is DATASET the whole upstream offline/?)")
                continue
            size = f"{len(part.prs):>2} PRs {part.golden_total:>3} golden"
            print(f"  {name:<9} {size}  {row(part, args.samples, args.seed)}")


if __name__ == "__main__":
    main()
