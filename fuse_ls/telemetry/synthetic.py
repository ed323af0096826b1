"""A generator of realistic session corpora, for the stats tests and `bench/bench_stats.py`.

Sessions are produced by driving the real `SessionRecorder` with real `FusionEvent`s and
a fake clock, so the corpus has exactly the shape production writes. The distributions
are chosen so every dashboard figure is non-trivial: models differ in latency, failure
rate and best-of wins; findings with more votes are applied more often; sessions with
early errors are abandoned more often.
"""

from __future__ import annotations

import math
import os
import random
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

from fuse_ls.config import TelemetrySettings
from fuse_ls.core import events as ev
from fuse_ls.core.types import (
    MODES,
    CandidateResult,
    FusedFinding,
    FusionRequest,
    FusionResult,
    JudgeResult,
    Task,
    Usage,
)
from fuse_ls.telemetry.recorder import Decision, ItemKind, SessionRecorder, Source

POOL: Final = ("anthropic/claude-sonnet-4.5", "openai/gpt-5", "google/gemini-2.5-pro")
JUDGE: Final = "openai/gpt-5-mini"
# model -> (median latency s, failure probability, best-of strength, $/M in, $/M out)
PROFILE: Final = {
    "anthropic/claude-sonnet-4.5": (6.0, 0.02, 1.4, 3.0, 15.0),
    "openai/gpt-5": (11.0, 0.04, 1.2, 1.25, 10.0),
    "google/gemini-2.5-pro": (8.0, 0.09, 0.8, 1.25, 10.0),
    JUDGE: (3.0, 0.01, 0.0, 0.25, 2.0),
}
WORKSPACES: Final = ("/home/dev/src/api", "/home/dev/src/web.app", "/home/dev/src/infra")
LANGS: Final = {"py": "python", "ts": "typescript", "go": "go", "rs": "rust"}
CODE: Final = "def f(x):\n    return x + 1\n"


def _usage(rng: random.Random, model: str, prompt: int) -> Usage:
    out = int(rng.lognormvariate(math.log(600), 0.5))
    cached = int(prompt * rng.choice((0.0, 0.0, 0.5, 0.8)))
    _, _, _, pin, pout = PROFILE[model]
    cost = ((prompt - cached) * pin + cached * pin * 0.1 + out * pout) / 1e6
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=out,
        cached_tokens=cached,
        reasoning_tokens=out // 3 if "gpt-5" in model else 0,
        cost_usd=round(cost, 6),
    )


def generate_session(
    rng: random.Random, settings: TelemetrySettings, start: float, *, version: str = "0.1.0"
) -> Path | None:
    now = [start]
    workspace = Path(rng.choice(WORKSPACES))
    source: Source = "cli" if rng.random() < 0.2 else "server"
    rec = SessionRecorder(
        settings,
        workspace,
        source=source,
        version=version,
        git_branch=rng.choice(("main", "main", "feature/x")),
        clock=lambda: now[0],
    )
    n_actions = 1 if source == "cli" else rng.choice((1, 1, 2, 2, 3, 4))
    early_errors = 0
    abandoned = False
    for a in range(n_actions):
        task: Task = rng.choices(("review", "fix", "explain"), (0.6, 0.25, 0.15))[0]
        mode = rng.choice(MODES)
        fid = f"f{rng.getrandbits(48):012x}"
        ext = rng.choice(tuple(LANGS))
        start_line = rng.randint(1, 400)
        code = CODE * rng.randint(1, 20)
        req = FusionRequest(
            task=task,
            path=str(workspace / "src" / f"mod{rng.randint(1, 30)}.{ext}"),
            language=LANGS[ext],
            code=code,
            start_line=start_line,
        )
        t0 = now[0]
        rec.observe(ev.FusionStarted(fusion_id=fid, request=req))
        prompt = 400 + len(code) // 3
        cands: list[CandidateResult] = []
        for i, model in enumerate(POOL):
            median, p_fail, _, _, _ = PROFILE[model]
            latency = rng.lognormvariate(math.log(median), 0.35)
            now[0] = t0 + latency
            if rng.random() < p_fail:
                cand = CandidateResult(
                    model=model,
                    index=i,
                    status="error",
                    latency_s=latency,
                    error="provider returned 429 Too Many Requests",
                    error_kind="rate_limited",
                    status_code=429,
                )
                if now[0] - start < 120:
                    early_errors += 1
                rec.observe(
                    ev.ModelFailed(
                        fusion_id=fid, elapsed_s=latency, model=model, index=i, candidate=cand
                    )
                )
            else:
                cand = CandidateResult(
                    model=model,
                    index=i,
                    status="ok",
                    text="x" * rng.randint(200, 3000),
                    latency_s=latency,
                    ttft_s=latency / 4,
                    usage=_usage(rng, model, prompt),
                )
                rec.observe(
                    ev.ModelFinished(
                        fusion_id=fid, elapsed_s=latency, model=model, index=i, candidate=cand
                    )
                )
            cands.append(cand)
        now[0] = t0 + max(c.latency_s or 0 for c in cands)
        answered = [c for c in cands if c.status == "ok"]
        if not answered:
            now[0] += 0.01
            rec.observe(ev.FusionFailed(fusion_id=fid, elapsed_s=now[0] - t0, message="all failed"))
            continue
        jl = rng.lognormvariate(math.log(PROFILE[JUDGE][0]), 0.3)
        now[0] += jl
        judge = JudgeResult(JUDGE, "ok", jl, _usage(rng, JUDGE, prompt * 3), "ok")
        rec.observe(
            ev.JudgeFinished(fusion_id=fid, elapsed_s=now[0] - t0, model=JUDGE, judge=judge)
        )
        winner = None
        if mode == "best-of":
            weights = [PROFILE[c.model][2] for c in answered]
            winner = rng.choices([c.model for c in answered], weights)[0]
        findings: list[FusedFinding] = []
        if task == "review":
            for n in range(rng.choice((0, 1, 2, 2, 3, 4))):
                votes = rng.randint(1, len(answered))
                findings.append(
                    FusedFinding(
                        start_line=start_line + n,
                        end_line=start_line + n,
                        severity=rng.choice(("error", "warning", "info")),
                        category="bug",
                        message="m",
                        votes=votes,
                        pool_size=len(answered),
                        models=tuple(c.model for c in answered[:votes]),
                        replacement="x" if rng.random() < 0.5 else None,
                        id=f"{fid}-{n}",
                    )
                )
        result = FusionResult(
            task=task,
            mode=mode,
            answer="done" if task != "review" else None,
            findings=tuple(findings),
            analysis=None,
            candidates=tuple(cands),
            judge=judge,
            winner=winner,
            total_cost_usd=sum((c.usage.cost_usd or 0) for c in cands)
            + (judge.usage.cost_usd or 0),
            wall_time_s=now[0] - t0,
            fusion_id=fid,
        )
        now[0] += 0.05
        rec.observe(ev.FusionFinished(fusion_id=fid, elapsed_s=now[0] - t0, result=result))
        last = a == n_actions - 1
        if source == "server" and task != "explain":
            p_leave = 0.55 if early_errors else 0.2
            if last and rng.random() < p_leave:
                abandoned = True
                break
            items: list[tuple[str, int | None, ItemKind]] = [
                (f.id, f.votes, "finding") for f in findings
            ]
            if task == "fix":
                items = [(fid, None, "fix")]
            for item, item_votes, kind in items:
                now[0] += rng.uniform(3, 40)
                p_apply = 0.5 if item_votes is None else 0.1 + 0.25 * item_votes
                if early_errors:
                    p_apply *= 0.6
                r = rng.random()
                decision: Decision = (
                    "applied" if r < p_apply else ("dismissed" if r < 0.85 else "left")
                )
                rec.record_decision(fid, item, decision, kind=kind)
        now[0] += rng.uniform(20, 900)
    if abandoned:
        now[0] += rng.uniform(1, 50)
    elif source == "server":
        now[0] += rng.uniform(70, 1200)
    path = rec.path
    rec.close()
    return path


def generate_corpus(
    data_dir: Path,
    sessions: int,
    *,
    unique: int | None = None,
    days: int = 60,
    seed: int = 7,
    end: float | None = None,
) -> list[Path]:
    """Write `sessions` sessions spread over the `days` before `end` into `data_dir`.

    With `unique` < `sessions`, only `unique` sessions are driven through the recorder
    and the rest are copies of them under fresh session ids, shifted to other days.
    That is ~20x faster (the recorder costs ~100 µs a line) and keeps every line in the
    recorder's exact shape; the bench and the 10k-session test use it.
    """
    rng = random.Random(seed)
    settings = TelemetrySettings(data_dir=str(data_dir), retention_days=0, max_total_mb=0)
    end = end if end is not None else 1_760_000_000.0
    paths: list[Path] = []
    n_real = sessions if unique is None else min(unique, sessions)
    for start in _starts(rng, n_real, days, end):
        path = generate_session(rng, settings, start)
        if path is not None:
            paths.append(path)
    originals = list(paths)
    for i in range(sessions - n_real):
        paths.append(_clone(originals[i % len(originals)], rng, days, end))
    return paths


_DATE = re.compile(r"(\d{4}-\d\d-\d\d)T\d\d:\d\d:\d\d\.\d{3}Z")


def _clone(path: Path, rng: random.Random, days: int, end: float) -> Path:
    text = path.read_text("utf-8")
    old_id = path.stem
    new_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    # Shift by whole days: only the date part of each timestamp changes, so a string
    # replacement per distinct date is enough (and keeps times, gaps and order intact).
    first_match = _DATE.search(text)
    last_match = _DATE.search(text, text.rfind('"timestamp":"'))
    assert first_match is not None and last_match is not None
    first = date.fromisoformat(first_match.group(1))
    last = date.fromisoformat(last_match.group(1))
    latest = datetime.fromtimestamp(end, tz=UTC).date() - timedelta(days=1)
    target_day = latest - timedelta(days=rng.randrange(max(days - 1, 1)))
    shift = target_day - first
    day = first
    while day <= last:  # lines are chronological: every date lies in [first, last]
        text = text.replace(f'"{day.isoformat()}T', f'"{(day + shift).isoformat()}T')
        day += timedelta(days=1)
    target = path.with_name(f"{new_id}.jsonl")
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text.replace(old_id, new_id))
    return target


def _starts(rng: random.Random, n: int, days: int, end: float) -> Iterator[float]:
    span = days * 86400.0
    for _ in range(n):
        yield end - span + rng.random() * (span - 4 * 3600)
