"""A `fuse-ls` process whose address space is capped, for the tests that give it a huge
(sparse, so free to make) repository file: a whole read of the file fails at once with a
MemoryError instead of taking gigabytes of the test machine."""

from __future__ import annotations

import resource
import subprocess
from pathlib import Path

from tests.pool_sample import run_cli

SPARSE_BYTES = 3 * 1024**3  # far above the cap
CAP_BYTES = 2 * 1024**3  # far above what a review needs


def make_sparse(path: Path, start: str) -> None:
    """`path` holding `start` followed by a hole up to SPARSE_BYTES (no disk used)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(start, encoding="utf-8")
    with path.open("r+b") as f:
        f.truncate(SPARSE_BYTES)


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP_BYTES, CAP_BYTES))


def run_capped(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(args, env, cwd, timeout=120, preexec_fn=_cap)
