"""SQL blast radius in a change review: one scan of the models per run vs one per file.

Run: .venv/bin/python bench/bench_sql_blast_radius.py [--against REV]

A generated Rocky/dbt-shaped project (tests/changes/sqlmodels.py: staging, intermediate
and mart models, CTEs, dbt ref(), Rocky DSL files, front matter) of N = 200 and 2,000
models, with 1 and 30 changed models. For each, printed side by side from one run:
- baseline: the baseline commit's `find_blast_radius` (BASELINE, `--against REV` for
  another) once per changed file, as a change review asked before (the file's
  fuse_ls/context.py loaded from git, sqlglot already imported);
- per file: this code's `find_blast_radius` once per changed file (one review in the
  editor asks this way);
- one scan: this code's `BlastRadii`, as a change review asks now;
and the baseline / one scan ratio. Best of a few runs each; every answer is checked
equal to the baseline's. A change review asks twice per file (its cost bound, then the
units) when a cost limit applies, so before this change it paid the baseline column
twice; the one-scan column is paid once either way.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).parent
REPO = HERE.parent
BASELINE = "a3fa7d7"
SIZES = (200, 2000)
CHANGED = (1, 30)


def baseline_context(rev: str, folder: Path) -> ModuleType:
    text = subprocess.run(
        ["git", "show", f"{rev}:fuse_ls/context.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = folder / "baseline_context.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("baseline_context", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def best(runs: int, work: Callable[[], list[str | None]]) -> tuple[float, list[str | None]]:
    times, answers = [], []
    for _ in range(runs):
        start = time.perf_counter()
        answers = work()
        times.append(time.perf_counter() - start)
    return min(times), answers


def measure(old: ModuleType, root: Path, files: list[Path], runs: int) -> tuple[float, ...]:
    """Seconds: the baseline per file, this code per file, this code's one scan."""
    from fuse_ls.context import BlastRadii, find_blast_radius

    def one_scan() -> list[str | None]:
        radii = BlastRadii(root)
        return [radii(f) for f in files]

    before, want = best(runs, lambda: [old.find_blast_radius(f, root) for f in files])
    per_file, got = best(runs, lambda: [find_blast_radius(f, root) for f in files])
    assert got == want, "per-file answers differ from the baseline's"
    after, got = best(runs, one_scan)
    assert got == want, "one-scan answers differ from the baseline's"
    return sum(a is not None for a in want), before, per_file, after


def main() -> int:
    sys.path.insert(0, str(REPO))
    from fuse_ls.context import find_blast_radius
    from tests.changes.sqlmodels import change_models, make_models

    against = sys.argv[sys.argv.index("--against") + 1] if "--against" in sys.argv else BASELINE
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old = baseline_context(against, Path(tmp))
        for size in SIZES:
            root = Path(tmp) / f"p{size}"
            paths = make_models(root, size)
            edited = change_models(paths, max(CHANGED))
            find_blast_radius(edited[0], root)  # imports sqlglot; warms the page cache
            runs = 3 if size < 1000 else 2
            for count in CHANGED:
                rows.append((size, count, *measure(old, root, edited[:count], runs)))
    print(f"SQL blast radius, change review lookups (baseline {against}; seconds, best of runs)")
    head = ("models", "changed", "w/ readers", "baseline", "per file", "one scan", "base/one")
    print("  ".join(f"{h:>10}" for h in head))
    for size, count, found, before, per_file, after in rows:
        cells = (size, count, found, f"{before:.3f}", f"{per_file:.3f}", f"{after:.3f}")
        print("  ".join(f"{c:>10}" for c in cells) + f"  {before / after:>9.1f}x")
    print("answers identical to the baseline's in every case")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
