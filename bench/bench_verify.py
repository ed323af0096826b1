"""Verified-fix benchmark (issue 15): in a git repository of 2,000 files with uncommitted
work (and ignored .venv/ and node_modules/, which the copy links), how long from "the fix
is ready" to the first check command starting?

Run: .venv/bin/python bench/bench_verify.py

Printed side by side (median of 5 runs each, goal: within 1 s):
- cold: the isolated copy is made only when the fix is ready (worktree of HEAD, the
  working-tree diff applied, untracked files copied), then the fix is written and the
  first check starts;
- warm: the copy was started when the fusion began (as the CLI and the server do, while
  the models think), so only writing the fix remains;
- next candidate: the same fusion's second candidate (the copy is reset, not remade).
The check command itself is `true`: its own run time is the project's, not ours.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fuse_ls.verify import sandbox
from fuse_ls.verify.run import CheckCommand
from fuse_ls.verify.verifier import FixVerifier

FILES = 2000
IGNORED = 5000  # files under node_modules/ (ignored)
GOAL_S = 1.0
RUNS = 5
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env=GIT_ENV, check=True, capture_output=True)


def make_repo(root: Path) -> Path:
    """2,000 small Python files in 100 packages; a few uncommitted edits on top."""
    for i in range(FILES):
        pkg = root / f"pkg{i // 20:03d}"
        pkg.mkdir(parents=True, exist_ok=True)
        body = "".join(f"def f{j}(x):\n    return x + {j}\n\n\n" for j in range(8))
        (pkg / f"mod{i % 20:02d}.py").write_text(body)
    # Ignored environments, as in a real project: linked into the copy, never copied.
    (root / ".gitignore").write_text(".venv/\nnode_modules/\n__pycache__/\n")
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    for i in range(IGNORED):
        pkg = root / "node_modules" / f"dep{i // 50:03d}"
        pkg.mkdir(parents=True, exist_ok=True)
        (pkg / f"index{i % 50:02d}.js").write_text(f"module.exports = {i};\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "2,000 files")
    # Work in progress: two edited files, one staged; one untracked file.
    (root / "pkg000" / "mod01.py").write_text("def f0(x):\n    return x - 1\n")
    (root / "pkg001" / "mod02.py").write_text("def f0(x):\n    return x * 2\n")
    git(root, "add", "pkg001/mod02.py")
    (root / "pkg002" / "new.py").write_text("NEW = 1\n")
    return root / "pkg000" / "mod00.py"


def verifier(root: Path, target: Path, parent: Path) -> FixVerifier:
    return FixVerifier(
        root,
        target,
        target.read_text(),
        2,
        2,
        [CheckCommand("true", 30)],
        max_output_bytes=65536,
        parent=parent,
    )


async def one_run(root: Path, target: Path, parent: Path) -> tuple[float, float, float]:
    async with verifier(root, target, parent) as cold:
        await cold("    return x + 100")
        cold_s = cold.last_started_at - cold.last_ready_at
    async with verifier(root, target, parent) as warm:
        warm.start()
        assert warm._sandbox is not None
        await warm._sandbox  # the models are still thinking meanwhile
        await warm("    return x + 100")
        warm_s = warm.last_started_at - warm.last_ready_at
        await warm("    return x + 200")
        next_s = warm.last_started_at - warm.last_ready_at
    return cold_s, warm_s, next_s


async def linking_ms(root: Path, parent: Path) -> float:
    """What linking the ignored environments adds to a cold copy: listing the ignored
    folders (a git call that runs beside the other two) and making the links."""
    times = []
    for n in range(RUNS):
        tree = parent / f"links{n}"
        tree.mkdir()
        began = time.perf_counter()
        listing = await sandbox._git(
            root, "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"
        )
        folders = [f.rstrip("/") for f in sandbox._names(listing) if f.endswith("/")]
        linked = sandbox._link(root, tree, [f for f in folders if sandbox.is_environment(root / f)])
        times.append(time.perf_counter() - began)
        assert len(linked) == 2, linked
        shutil.rmtree(tree)
    return statistics.median(times) * 1000


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fuse-ls-bench-verify-") as tmp:
        root = Path(tmp) / "repo"
        parent = Path(tmp) / "copies"
        parent.mkdir()
        began = time.perf_counter()
        target = make_repo(root)
        print(
            f"repository: {FILES} files, {IGNORED} ignored under node_modules/, "
            f"made in {time.perf_counter() - began:.1f} s"
        )
        runs = [await one_run(root, target, parent) for _ in range(RUNS)]
        left = list(parent.iterdir())
        links = await linking_ms(root, parent)
    print(f"fix ready -> first check command started (median of {RUNS}; goal <= {GOAL_S:g} s)")
    print(f"{'':24}{'ms':>10}{'of goal':>10}")
    names = ("cold (copy made now)", "warm (copy made early)", "next candidate")
    for name, column in zip(names, zip(*runs, strict=True), strict=True):
        median = statistics.median(column)
        print(f"{name:24}{median * 1000:>10.1f}{median / GOAL_S:>10.0%}")
    print(f"{'of which linking .venv/node_modules':36}{links:>6.1f} ms (median)")
    print(f"copies left behind: {len(left)}")
    print(f"python {sys.version.split()[0]}, {GIT_VERSION}")


GIT_VERSION = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    asyncio.run(main())
