"""Fusion engine benchmark: overhead over the ideal critical path, quorum, and scale.

Run: .venv/bin/python bench/bench_engine.py [--quick]

The emulator runs in its own process so its CPU does not count against the engine. Each
model's emulated latency is a fixed time to first token (token_ms = 0), so the ideal
critical path of a fusion is known exactly: the slowest pool member (or the k-th fastest
under a quorum), plus each debate round's slowest member, plus the judge when it runs.
The figure printed is wall time / ideal; the engine's own overhead is what exceeds 1.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
from typing import Any

from emulator_process import EmulatorProcess

from fuse_ls.config import ModelSpec, Settings, replace
from fuse_ls.core.types import ChatRequest, FusionRequest
from fuse_ls.fusion import prompts
from fuse_ls.fusion.engine import FusionEngine

CODE = """\
def load(user_input, rows=[]):
    value = eval(user_input)
    try:
        rows.append(value)
    except:
        pass
    query = "SELECT * FROM t WHERE id = " + user_input
    return rows, query
"""
JUDGE = "judge/model"
# Real model calls take seconds; these latencies are at the fast end of real ones, so the
# engine's fixed per-call costs are not diluted by unrealistically slow models either.
JUDGE_MS = 800.0


def pool_script(
    n: int, spread: tuple[float, float] = (200.0, 900.0)
) -> tuple[dict[str, Any], list[float]]:
    lo, hi = spread
    latencies = [lo + (hi - lo) * i / max(n - 1, 1) for i in range(n)]
    findings = [
        {
            "match": "eval(",
            "message": "eval of user input",
            "severity": "error",
            "category": "security",
        },
        {
            "match": "SELECT",
            "message": "SQL injection",
            "severity": "error",
            "category": "security",
        },
        {"match": "except:", "message": "bare except", "severity": "warning", "category": "errors"},
    ]
    models: dict[str, Any] = {}
    for i, ms in enumerate(latencies):
        # Different subsets and texts per model, so the judge always has work to do.
        models[f"pool/m{i}"] = {
            "ttft_ms": ms,
            "token_ms": 0,
            "findings": findings[: 1 + i % 3],
            "text": f"Explanation number {i}: it loads rows and evaluates input.",
            "fix": {"find": "eval(", "replace": "ast.literal_eval(" if i % 2 else "safe_eval("},
        }
    models[JUDGE] = {"ttft_ms": JUDGE_MS, "token_ms": 0}
    return {"models": models, "strict_models": False}, latencies


def settings(base_url: str, n: int, mode: str, data_dir: str) -> Settings:
    s = Settings()
    s = replace(s, {"provider.base_url": base_url})
    s = replace(s, {"provider.api_key_env": "FUSE_LS_BENCH_KEY"})
    s = replace(s, {"pool": [ModelSpec(f"pool/m{i}") for i in range(n)]})
    s = replace(s, {"judge": ModelSpec(JUDGE)})
    s = replace(s, {"mode": mode})
    s = replace(s, {"budget.max_usd_per_day": None})
    s = replace(s, {"budget.max_usd_per_request": None})
    s = replace(s, {"review.redact_secrets": True})
    s = replace(s, {"telemetry.data_dir": data_dir})
    return s


def request(task: str = "review") -> FusionRequest:
    return FusionRequest(task=task, path="bench.py", language="python", code=CODE, start_line=1)  # type: ignore[arg-type]


def ideal_s(result: Any, latencies: list[float], mode: str, k: int | None = None) -> float:
    ordered = sorted(latencies)
    first = ordered[(k or len(ordered)) - 1] / 1000
    rounds = 1 if mode == "debate" else 0
    judge = (
        JUDGE_MS / 1000 if result.judge is not None and result.judge.status != "skipped" else 0.0
    )
    return first + rounds * ordered[-1] / 1000 + judge


async def bare_fusion(engine: FusionEngine, task: str, stages: int, judge: bool) -> float:
    """The transport floor: the same HTTP calls in the same order, with no engine logic."""
    s = engine.settings
    messages = prompts.pool_messages(request(task))
    started = time.perf_counter()
    for _ in range(stages):
        await asyncio.gather(
            *(
                engine.client.complete(ChatRequest(spec.id, messages, s.endpoint_for(spec)))
                for spec in s.pool
            )
        )
    if judge:
        await engine.client.complete(ChatRequest(s.judge.id, messages, s.endpoint_for(s.judge)))
    return time.perf_counter() - started


async def overhead(
    base_url: str, latencies: list[float], n: int, mode: str, task: str, repeats: int, data_dir: str
) -> tuple[float, float]:
    """Medians of wall / nominal critical path and of wall / the bare calls, interleaved."""
    nominal, floor = [], []
    async with FusionEngine(settings(base_url, n, mode, data_dir)) as engine:
        await engine.run(request(task))  # warm the connection pool and the price cache
        for _ in range(repeats):
            started = time.perf_counter()
            result = await engine.run(request(task))
            wall = time.perf_counter() - started
            nominal.append(wall / ideal_s(result, latencies, mode))
            judged = result.judge is not None and result.judge.status != "skipped"
            stages = 2 if mode == "debate" else 1
            floor.append(wall / await bare_fusion(engine, task, stages, judged))
    return statistics.median(nominal), statistics.median(floor)


async def quorum(
    base_url: str, latencies: list[float], n: int, k: int, repeats: int, data_dir: str
) -> float:
    s = settings(base_url, n, "merge", data_dir)
    s = replace(s, {"quorum.min_responses": k})
    ratios = []
    async with FusionEngine(s) as engine:
        await engine.estimate_cost(request())
        for _ in range(repeats):
            started = time.perf_counter()
            result = await engine.run(request())
            wall = time.perf_counter() - started
            ratios.append(wall / ideal_s(result, latencies, "merge", k))
    return statistics.median(ratios)


async def scale(base_url: str, fusions: int, data_dir: str) -> dict[str, float]:
    s = settings(base_url, 5, "merge", data_dir)
    s = replace(s, {"timeouts.request_s": 120})
    s = replace(s, {"quorum.deadline_s": 120})
    async with FusionEngine(s) as engine:
        await engine.run(request())
        cpu0 = time.process_time()
        started = time.perf_counter()
        results = await asyncio.gather(
            *(engine.run(request()) for _ in range(fusions)), return_exceptions=True
        )
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu0
    errors = [r for r in results if isinstance(r, BaseException)]
    failed_models = sum(len(r.failed) for r in results if not isinstance(r, BaseException))
    return {
        "fusions": fusions,
        "errors": len(errors) + failed_models,
        "wall_s": wall,
        "cpu_ms_per_fusion": 1000 * cpu / fusions,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer repeats (for a smoke run)")
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    data_dir = tempfile.mkdtemp(prefix="fuse-ls-bench-")
    worst = worst_bare = 0.0
    print("engine overhead (median): wall time / ideal critical path implied by the emulator's")
    print("latencies (bound 1.03), and wall time / the same HTTP calls made bare, side by side")
    print(f"{'pool':>4} {'mode':>8} {'task':>8} {'ideal':>7} {'bare':>7}")
    for n in (3, 5, 8):
        script, latencies = pool_script(n)
        emu = EmulatorProcess(script)
        try:
            for mode in ("best-of", "merge", "debate"):
                for task in ("review", "explain"):
                    ratio, bare = asyncio.run(
                        overhead(emu.base_url, latencies, n, mode, task, repeats, data_dir)
                    )
                    worst = max(worst, ratio)
                    worst_bare = max(worst_bare, bare)
                    print(f"{n:>4} {mode:>8} {task:>8} {ratio:>7.3f} {bare:>7.3f}")
            if n == 5:
                print("quorum: wall time / (k-th fastest + judge), bound 1.03")
                for k in (2, 3, 4):
                    ratio = asyncio.run(quorum(emu.base_url, latencies, n, k, repeats, data_dir))
                    worst = max(worst, ratio)
                    print(f"  k={k} of 5: {ratio:.3f}")
        finally:
            emu.close()
    print(
        f"worst overhead ratio: {worst:.3f} ({'within' if worst <= 1.03 else 'OVER'} 1.03); "
        f"worst against the bare calls: {worst_bare:.3f}"
    )
    script, _ = pool_script(5, (300.0, 600.0))
    emu = EmulatorProcess(script)
    try:
        fusions = 50 if args.quick else 200
        figures = asyncio.run(scale(emu.base_url, fusions, data_dir))
    finally:
        emu.close()
    print(
        f"scale: {figures['fusions']:.0f} concurrent fusions x 5 models: "
        f"errors {figures['errors']:.0f}, "
        f"wall {figures['wall_s']:.2f}s, engine CPU {figures['cpu_ms_per_fusion']:.1f} ms/fusion, "
        f"peak RSS {figures['peak_rss_mb']:.0f} MB"
    )
    return 0 if worst <= 1.03 and figures["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
