"""Change-review benchmark: a generated 40-file, ~2,000-changed-line diff reviewed by a
3-model pool and a judge on the emulator.

Run: .venv/bin/python bench/bench_changes.py

Printed side by side, from one run:
- wall time / the critical path of the schedule the limits allow: in this process, and
  in fresh processes (as a CLI run pays it) for this code streaming units into the calls,
  this code planning every unit first, and the baseline commit's code (BASELINE, run
  from a temporary git worktree; `--against REV` for another), with CPU seconds; The emulated models
  answer after a fixed time (token_ms = 0), so every call's duration is known; the
  allowed schedule is simulated with zero overhead under the same global limit (judges
  first, then pool calls in unit order). Also shown against the plain lower bound
  max(total call time / limit, the longest unit).
- the rerun with nothing changed: model calls and wall time (git reading included);
- one edited line: how many units and calls were asked again;
- the same diff in files 10x larger: units, calls, cost and time, small vs large.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from emulator_process import EmulatorProcess

from fuse_ls.changes.cache import ReviewCache
from fuse_ls.changes.git import read_changes
from fuse_ls.changes.review import ChangeReview, ChangeReviewer, ReviewOptions, Target
from fuse_ls.config import ModelSpec, Settings, replace
from fuse_ls.context import language_for

POOL_MS = {"pool/a": 600.0, "pool/b": 800.0, "pool/c": 1000.0}
JUDGE, JUDGE_MS = "judge/j", 700.0
FILES, CHANGED_FUNCS, LINES_CHANGED_PER_FUNC = 40, 10, 4
LIMIT = 24
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "b@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "b@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def script() -> dict[str, Any]:
    finding = {
        "match": "eval(",
        "message": "eval of input",
        "severity": "error",
        "category": "security",
    }
    # One model also raises a minor point the others do not: the judge has work to do.
    minor = {
        "match": "limit:",
        "message": "limit is not validated",
        "severity": "info",
        "category": "validation",
    }
    models: dict[str, Any] = {
        m: {"ttft_ms": ms, "token_ms": 0, "findings": [finding] + ([minor] if i == 0 else [])}
        for i, (m, ms) in enumerate(POOL_MS.items())
    }
    models[JUDGE] = {"ttft_ms": JUDGE_MS, "token_ms": 0}
    return {"models": models, "strict_models": False}


def function(name: str, changed: bool) -> str:
    body = [f"def {name}(rows, limit):" if not changed else f"def {name}(rows, limit):  # limit:"]
    body += ["    total = 0", "    for row in rows:"]
    for i in range(LINES_CHANGED_PER_FUNC):
        op = "eval(row)" if changed and i == 0 else f"row * {i + 2}"
        body.append(
            f"        total += {op} if total < limit else {i}"
            if changed
            else f"        total += {op}"
        )
    body += ["    return total", "", ""]
    return "\n".join(body)


def source(changed: bool, scale: int, file: int) -> str:
    """CHANGED_FUNCS functions that the change touches, with (scale-1)x as much unchanged
    code before and after them. Names differ per file, so no file's planning (redaction,
    parsing) is a repeat of another's."""
    extra = (scale - 1) * CHANGED_FUNCS // 2
    parts = [function(f"head_{file}_{i}", False) for i in range(extra)]
    parts += [function(f"work_{file}_{i}", changed) for i in range(CHANGED_FUNCS)]
    parts += [function(f"tail_{file}_{i}", False) for i in range(extra)]
    return "import os\n\n\n" + "".join(parts)


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, check=True, capture_output=True
    )


def make_repo(root: Path, scale: int) -> None:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    for i in range(FILES):
        (root / f"pkg/mod_{i:02d}.py").parent.mkdir(exist_ok=True)
        (root / f"pkg/mod_{i:02d}.py").write_text(source(False, scale, i))
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    for i in range(FILES):
        (root / f"pkg/mod_{i:02d}.py").write_text(source(True, scale, i))


def targets(root: Path) -> tuple[list[Target], int]:
    os.environ.update(GIT_ENV)
    changes = read_changes(root, "uncommitted")
    files = changes.reviewable
    return [
        Target(f.path, root / f.path, language_for(Path(f.path)), f.text or "", f.changed)
        for f in files
    ], sum(len(f.changed) for f in files)


def settings(base_url: str, data_dir: Path) -> Settings:
    s = Settings()
    s = replace(s, {"provider.base_url": base_url})
    s = replace(s, {"provider.api_key_env": "FUSE_LS_BENCH_KEY"})
    s = replace(s, {"pool": [ModelSpec(m) for m in POOL_MS]})
    s = replace(s, {"judge": ModelSpec(JUDGE)})
    s = replace(s, {"mode": "merge"})
    s = replace(s, {"budget.max_usd_per_day": None})
    s = replace(s, {"budget.max_usd_per_request": None})
    s = replace(s, {"telemetry.data_dir": str(data_dir)})
    s = replace(s, {"telemetry.enabled": False})
    return s


def review(
    root: Path, s: Settings, cache: Path, *, stream: bool = True
) -> tuple[ChangeReview, float]:
    began = time.perf_counter()
    found, _ = targets(root)
    import attrs

    # `stream` is not an option of the baseline's code, which always planned first.
    streaming = {"stream": stream} if "stream" in attrs.fields_dict(ReviewOptions) else {}
    options = ReviewOptions(global_limit=LIMIT, per_endpoint=LIMIT, max_findings=None, **streaming)
    with ReviewCache(cache) as store:
        reviewer = ChangeReviewer(s, root, options, cache=store)
        result = asyncio.run(reviewer.run(found))
    return result, time.perf_counter() - began


def allowed_schedule(result: ChangeReview) -> tuple[float, float]:
    """(simulated makespan with zero overhead, lower bound), in seconds."""
    pool = [ms / 1000 for ms in POOL_MS.values()]
    judge_s = JUDGE_MS / 1000
    units = [o for o in result.outcomes if not o.cached]
    ready: list[tuple[int, int, float, int]] = []  # (priority, order, duration, unit)
    order = 0
    for u, _ in enumerate(units):
        for d in pool:
            ready.append((1, order, d, u))
            order += 1
    heapq.heapify(ready)
    left = {u: len(pool) for u in range(len(units))}
    running: list[tuple[float, int, int]] = []  # (end, unit, is_pool)
    now = 0.0
    while ready or running:
        while ready and len(running) < LIMIT:
            prio, _, d, u = heapq.heappop(ready)
            heapq.heappush(running, (now + d, u, prio))
        now, u, prio = heapq.heappop(running)
        if prio == 1:
            left[u] -= 1
            if left[u] == 0 and units[u].judge_called:
                heapq.heappush(ready, (0, order, judge_s, u))
                order += 1
    work = sum(sum(pool) + (judge_s if o.judge_called else 0) for o in units)
    chain = max(pool) + judge_s
    return now, max(work / LIMIT, chain)


async def bare_calls(result: ChangeReview, s: Settings) -> float:
    """The transport floor: the same calls under the same limits and priorities, with no
    engine, no planning and no cache: what this machine and the emulator cost by
    themselves right now."""
    from fuse_ls.changes.limits import LimitedChatClient
    from fuse_ls.core.types import ChatRequest, FusionRequest
    from fuse_ls.fusion import prompts

    client = LimitedChatClient(
        timeouts=s.timeouts, retries=s.retries, global_limit=LIMIT, per_endpoint=LIMIT
    )

    async def unit(code: str, judged: bool) -> None:
        request = FusionRequest(
            task="review", path="p.py", language="python", code=code, start_line=1
        )
        messages = prompts.pool_messages(request)
        await asyncio.gather(
            *(
                client.complete(
                    ChatRequest(
                        spec.id, messages, s.endpoint_for(spec), json_schema=prompts.REVIEW_SCHEMA
                    )
                )
                for spec in s.pool
            )
        )
        if judged:
            await client.complete(
                ChatRequest(
                    s.judge.id,
                    prompts.cluster_messages(request, []),
                    s.endpoint_for(s.judge),
                    json_schema=prompts.CLUSTER_SCHEMA,
                )
            )

    async with client:
        began = time.perf_counter()
        await asyncio.gather(
            *(unit(o.unit.code, o.judge_called) for o in result.outcomes if not o.cached)
        )
        return time.perf_counter() - began


# The last commit before streamed units, planning without redaction for cached units,
# the ledger off the event loop and kept-alive connections: its code runs in the same
# bench, from a temporary git worktree (`--against REV` picks another).
BASELINE = "a4f2324"
METHODS = {
    "baseline": False,  # the baseline's code (it plans every unit first)
    "plan first": False,  # this code, every unit planned before the first call
    "streamed": True,  # this code, a unit's calls start once its file is planned
}


def cold_run(base_url: str, root: Path, data: Path, method: str) -> None:
    """One first review in this (fresh) process, as a CLI run pays it: imports, the
    redaction rules, the HTTP client and git included. Prints one JSON line."""
    import resource

    s = settings(base_url, data)
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    result, wall = review(root, s, data / "cache.sqlite3", stream=METHODS[method])
    after = resource.getrusage(resource.RUSAGE_SELF)
    sim, _ = allowed_schedule(result)
    print(
        json.dumps(
            {
                "wall": wall,
                "sim": sim,
                "planning": result.planning_s,
                "run": result.wall_time_s,
                "cpu": after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime,
            }
        )
    )


def baseline_tree(base: Path, rev: str) -> Path | None:
    """A worktree of `rev` of this repository, or None (not a git checkout, no such
    commit) with the reason printed."""
    here = Path(__file__).resolve().parent.parent
    tree = base / f"baseline-{rev}"
    done = subprocess.run(
        ["git", "-C", str(here), "worktree", "add", "--detach", str(tree), rev],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        print(f"(no baseline: git worktree add {rev}: {done.stderr.strip()[-200:]})")
        return None
    return tree


def drop_tree(tree: Path) -> None:
    here = Path(__file__).resolve().parent.parent
    subprocess.run(
        ["git", "-C", str(here), "worktree", "remove", "--force", str(tree)],
        capture_output=True,
    )


def compare_methods(
    base_url: str, root: Path, base: Path, against: str, rounds: int = 3
) -> list[Row]:
    """Each method in fresh processes, in turn, so none inherits another's warm caches
    or a quieter moment of the machine; the median per method. CPU seconds of the run
    are shown too: unlike wall time, a busy machine barely moves them."""
    import statistics

    import fuse_ls

    tree = baseline_tree(base, against)
    methods = [m for m in METHODS if m != "baseline" or tree is not None]
    # As installed (pip compiles modules at install time): without this, a machine that
    # sets PYTHONDONTWRITEBYTECODE compiles every module in every fresh process.
    clean_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    packages = [Path(fuse_ls.__file__).parent] + ([tree / "fuse_ls"] if tree else [])
    for package in packages:
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(package)],
            check=True,
            env=clean_env,
            capture_output=True,
        )
    figures: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    try:
        for n in range(rounds):
            for method in methods:
                data = base / f"cold-{n}-{method.replace(' ', '-')}"
                env = dict(clean_env)
                if method == "baseline" and tree is not None:
                    env["PYTHONPATH"] = str(tree)  # its fuse_ls before the installed one
                out = subprocess.run(
                    [sys.executable, __file__, "--cold", method, base_url, str(root), str(data)],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=env,
                ).stdout
                figures[method].append(json.loads(out.strip().splitlines()[-1]))
    finally:
        if tree is not None:
            drop_tree(tree)
    rows: list[Row] = []
    for method, runs in figures.items():
        ratio = statistics.median(r["wall"] / r["sim"] for r in runs)
        first_call = statistics.median(r["planning"] + r["wall"] - r["run"] for r in runs)
        cpu = statistics.median(r["cpu"] for r in runs)
        label = f"baseline {against}" if method == "baseline" else method
        rows.append(
            (
                f"wall / allowed schedule, {label}",
                f"{ratio:.3f}",
                f"fresh process, median of {rounds}; first call after {first_call:.2f}s "
                f"(git, units, redaction, cache, prices); {cpu:.2f} CPU s",
            )
        )
    return rows


Row = tuple[str, str, str]


def main() -> int:
    if sys.argv[1:2] == ["--cold"]:
        method, base_url, root, data = sys.argv[2:6]
        cold_run(base_url, Path(root), Path(data), method)
        return 0
    against = sys.argv[sys.argv.index("--against") + 1] if "--against" in sys.argv else BASELINE
    emulator = EmulatorProcess(script())
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            rows: list[tuple[str, str, str]] = []
            results = {}
            for scale in (1, 10):
                root = base / f"repo-x{scale}"
                make_repo(root, scale)
                s = settings(emulator.base_url, base / f"data-x{scale}")
                cache = base / f"data-x{scale}" / "cache.sqlite3"
                first, wall = review(root, s, cache)
                results[scale] = (first, wall)
                if scale == 1:
                    changed = targets(root)[1]
                    sim, bound = allowed_schedule(first)
                    print(
                        f"diff: {FILES} files, {changed} changed lines, "
                        f"{len(first.outcomes)} units, pool {len(POOL_MS)} + judge, "
                        f"global limit {LIMIT}"
                    )
                    rows.append(
                        (
                            "first run wall",
                            f"{wall:.2f}s",
                            f"{first.calls} calls, peak {first.peak_calls} in flight",
                        )
                    )
                    rows.append(
                        (
                            "allowed schedule (zero overhead)",
                            f"{sim:.2f}s",
                            f"lower bound {bound:.2f}s",
                        )
                    )
                    rows.append(
                        (
                            "wall / allowed schedule",
                            f"{wall / sim:.3f}",
                            f"target <= 1.10; vs lower bound {wall / bound:.3f}",
                        )
                    )
                    calls_s = first.wall_time_s - first.planning_s
                    rows.append(
                        (
                            "calls phase / allowed schedule",
                            f"{calls_s / sim:.3f}",
                            f"planning before the first call {first.planning_s:.2f}s, "
                            f"git {wall - first.wall_time_s:.2f}s",
                        )
                    )
                    rows.extend(compare_methods(emulator.base_url, root, base, against))
                    floor = asyncio.run(bare_calls(first, s))
                    rows.append(
                        (
                            "calls phase / bare calls",
                            f"{calls_s / floor:.3f}",
                            f"the same calls without the engine: {floor:.2f}s "
                            f"({floor / sim:.3f} x the allowed schedule: machine load)",
                        )
                    )
                    again, wall2 = review(root, s, cache)
                    rows.append(
                        (
                            "rerun, nothing changed",
                            f"{wall2:.2f}s",
                            f"{again.calls} model calls (target 0, < 1 s)",
                        )
                    )
                    mod = root / "pkg/mod_07.py"
                    mod.write_text(mod.read_text().replace("row * 3 if", "row * 30 if", 1))
                    third, wall3 = review(root, s, cache)
                    asked = [o for o in third.outcomes if not o.cached]
                    rows.append(
                        (
                            "one line edited",
                            f"{len(asked)} unit(s)",
                            f"{third.calls} model calls, {wall3:.2f}s",
                        )
                    )
            small, large = results[1], results[10]
            for label, a, b in (
                ("units", len(small[0].outcomes), len(large[0].outcomes)),
                ("model calls", small[0].calls, large[0].calls),
            ):
                rows.append((f"{label}: 1x vs 10x files", f"{a} vs {b}", f"ratio {b / a:.2f}"))
            rows.append(
                (
                    "cost: 1x vs 10x files",
                    f"${small[0].total_cost_usd:.4f} vs ${large[0].total_cost_usd:.4f}",
                    f"ratio {large[0].total_cost_usd / small[0].total_cost_usd:.2f}",
                )
            )
            rows.append(
                (
                    "time: 1x vs 10x files",
                    f"{small[1]:.2f}s vs {large[1]:.2f}s",
                    f"ratio {large[1] / small[1]:.2f}",
                )
            )
            width = max(len(r[0]) for r in rows)
            for name, value, note in rows:
                print(f"{name:<{width}}  {value:>16}  {note}")
    finally:
        emulator.close()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    raise SystemExit(main())
