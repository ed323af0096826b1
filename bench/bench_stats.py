"""How long `fuse-ls stats` takes over a generated corpus (default: 10,000 sessions).

    .venv/bin/python bench/bench_stats.py [--sessions 10000] [--unique 1000] [--dir DIR]

The corpus is written by driving the real SessionRecorder (`--unique` sessions) and
copying those under fresh ids and dates up to `--sessions` (see
fuse_ls/telemetry/synthetic.py). A benchmark, not a test: it prints timings and exits 0.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from rich.console import Console

from fuse_ls.telemetry import store
from fuse_ls.telemetry.html import render_html
from fuse_ls.telemetry.report import print_report
from fuse_ls.telemetry.stats import compute_stats, load_sessions
from fuse_ls.telemetry.synthetic import generate_corpus


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=10_000)
    p.add_argument("--unique", type=int, default=1_000, help="sessions driven through the recorder")
    p.add_argument("--dir", help="reuse / keep the corpus here (default: a temporary folder)")
    p.add_argument("--repeat", type=int, default=3, help="timed stats runs (best is reported)")
    args = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="fuse-ls-bench-") as tmp:
        root = Path(args.dir) if args.dir else Path(tmp) / "data"
        if not store.list_session_files(root):
            t = time.perf_counter()
            generate_corpus(root, args.sessions, unique=min(args.unique, args.sessions))
            print(f"generated {args.sessions:,} sessions in {time.perf_counter() - t:.2f} s")
        files = store.list_session_files(root)
        size = sum(f.stat().st_size for f in files)
        print(f"corpus: {len(files):,} files, {size / 1e6:.1f} MB in {root}")

        best_load = best_compute = float("inf")
        for _ in range(max(args.repeat, 1)):
            t0 = time.perf_counter()
            sessions = load_sessions(root)
            t1 = time.perf_counter()
            stats = compute_stats(sessions)
            t2 = time.perf_counter()
            best_load = min(best_load, t1 - t0)
            best_compute = min(best_compute, t2 - t1)
        t = time.perf_counter()
        html = render_html(stats)
        t_html = time.perf_counter() - t
        t = time.perf_counter()
        print_report(stats, Console(file=io.StringIO(), width=100))
        t_term = time.perf_counter() - t
        lines = stats["totals"]["actions"]
        print(f"sessions: {stats['totals']['sessions']:,}, actions: {lines:,}")
        print(f"read + decode : {best_load:6.2f} s")
        print(f"aggregate     : {best_compute:6.2f} s")
        print(f"stats total   : {best_load + best_compute:6.2f} s  (best of {args.repeat})")
        print(f"html render   : {t_html:6.2f} s  ({len(html) / 1e3:.0f} kB)")
        print(f"terminal      : {t_term:6.2f} s")


if __name__ == "__main__":
    main()
