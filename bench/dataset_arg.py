"""The Code Review Bench copy the review-quality bench scripts read: its default place
and a clear stop when it is not there (a fresh clone has no `../shared` beside it)."""

from __future__ import annotations

import sys
from pathlib import Path

from fuse_ls.eval.dataset import judges

DEFAULT_DATASET = Path(__file__).resolve().parents[2] / "shared" / "data" / "code-review-bench"


def dataset_or_exit(path: Path) -> Path:
    """`path` when it holds at least one judge's labels; otherwise say where to get the
    data and exit 2 (an empty run would print headers and look like a result)."""
    if judges(path):
        return path
    script = Path(sys.argv[0]).name
    sys.stderr.write(
        f"{script}: {path} is no Code Review Bench copy (it needs golden_comments/ and"
        " results/<judge>/evaluations.json).\n"
        "Get the data from https://github.com/withmartian/code-review-benchmark"
        f" (its offline/ folder) and pass that folder: .venv/bin/python bench/{script} DATASET\n"
    )
    raise SystemExit(2)
