"""Realistic FusionEvents for driving the recorder in tests, a transcript validator, and
one fusion by the real engine (against the emulator) for the tests that observe one."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from fuse_ls.config import Settings
from fuse_ls.core import events as ev
from fuse_ls.core.events import FusionEvent
from fuse_ls.core.types import (
    CandidateResult,
    Finding,
    FusedFinding,
    FusionRequest,
    FusionResult,
    JudgeResult,
    Usage,
)
from fuse_ls.fusion.engine import FusionEngine
from fuse_ls.telemetry.models import vendor_model_id
from fuse_ls.telemetry.recorder import SessionRecorder
from tests.pool_sample import JUDGE, POOL  # the telemetry tests import them from here too

CODE = 'def handler(event):\n    conn = connect("db")\n    return conn.query(event["sql"])\n'


async def run_engine(
    settings: Settings,
    code: str,
    observe: Callable[[FusionEvent], None],
    task: str = "review",
    instruction: str | None = None,
) -> FusionResult:
    """One fusion of `code` (as /repo/app/load.py) by the real engine, seeded."""
    req = FusionRequest(
        task=task,  # type: ignore[arg-type]
        path="/repo/app/load.py",
        language="python",
        code=code,
        start_line=1,
        instruction=instruction,
    )
    async with FusionEngine(settings, rng=random.Random(3)) as engine:
        return await engine.run(req, observe)


class Clock:
    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def usage(
    prompt: int = 1200, completion: int = 400, cached: int = 200, cost: float = 0.01
) -> Usage:
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached,
        cache_write_tokens=50,
        reasoning_tokens=100,
        cost_usd=cost,
    )


def ok(model: str, index: int, latency: float = 2.5, text: str = "Looks fine.") -> CandidateResult:
    return CandidateResult(
        model=model,
        index=index,
        status="ok",
        text=text,
        findings=(Finding(2, 2, "warning", "sql", "unparameterised query"),),
        latency_s=latency,
        ttft_s=latency / 3,
        usage=usage(),
    )


def failed(model: str, index: int, kind: str = "rate_limited", code: int = 429) -> CandidateResult:
    return CandidateResult(
        model=model,
        index=index,
        status="error",
        latency_s=0.8,
        error="Rate limited by the provider; retry later",
        error_kind=kind,
        status_code=code,
    )


def finding(fid: str, n: int, votes: int, pool: int) -> FusedFinding:
    return FusedFinding(
        start_line=2 + n,
        end_line=2 + n,
        severity="warning",
        category="sql",
        message="Query built from input",
        votes=votes,
        pool_size=pool,
        models=POOL[:votes],
        replacement="    return conn.query(SQL, event)\n" if n == 0 else None,
        confirmed=True,
        id=f"{fid}-{n}",
    )


def run_fusion(
    rec: SessionRecorder | Callable[[FusionEvent], None],
    clock: Clock | None,
    fid: str,
    *,
    task: str = "review",
    mode: str = "merge",
    results: tuple[CandidateResult, ...] | None = None,
    findings: tuple[FusedFinding, ...] | None = None,
    winner: str | None = None,
    code: str = CODE,
    path: str = "/work/ws/src/app.py",
    judge_ok: bool = True,
) -> FusionResult:
    """Emit a full fusion's event sequence, as the engine would."""
    observe = rec.observe if isinstance(rec, SessionRecorder) else rec

    def tick(seconds: float) -> None:
        if clock is not None:
            clock.advance(seconds)

    req = FusionRequest(
        task=task,  # type: ignore[arg-type]
        path=path,
        language="python",
        code=code,
        start_line=10,
        instruction="focus on SQL",
    )
    observe(ev.FusionStarted(fusion_id=fid, request=req))
    results = results if results is not None else tuple(ok(m, i) for i, m in enumerate(POOL))
    for c in results:
        observe(ev.ModelStarted(fusion_id=fid, model=c.model, index=c.index))
        tick(c.latency_s or 1.0)
        kind = ev.ModelFinished if c.status == "ok" else ev.ModelFailed
        observe(kind(fusion_id=fid, elapsed_s=1.0, model=c.model, index=c.index, candidate=c))
    observe(ev.JudgeStarted(fusion_id=fid, elapsed_s=3.0, model=JUDGE))
    tick(1.5)
    judge = (
        JudgeResult(JUDGE, "ok", 1.5, usage(3000, 500, 0, 0.002), "Model A is right.")
        if judge_ok
        else JudgeResult(JUDGE, "error", 1.5, Usage(), error="judge timed out")
    )
    judged = ev.JudgeFinished if judge_ok else ev.JudgeFailed
    observe(judged(fusion_id=fid, elapsed_s=4.5, model=JUDGE, judge=judge))
    if findings is None:
        findings = (finding(fid, 0, 3, 3), finding(fid, 1, 1, 3)) if task == "review" else ()
    result = FusionResult(
        task=task,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        answer=None if task == "review" else "fused answer",
        findings=findings,
        analysis=None,
        candidates=results,
        judge=judge,
        winner=winner,
        total_cost_usd=0.032,
        wall_time_s=4.6,
        fusion_id=fid,
    )
    tick(0.1)
    observe(ev.FusionFinished(fusion_id=fid, elapsed_s=4.6, result=result))
    return result


# --- validation -----------------------------------------------------------------------------

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
COMMON = {
    "type": str,
    "uuid": str,
    "timestamp": str,
    "sessionId": str,
    "cwd": str,
    "gitBranch": str,
    "version": str,
    "isSidechain": bool,
    "userType": str,
}


def outside_strings(line: str) -> Iterator[str]:
    """The characters of a JSON text that are not inside string literals."""
    in_str = False
    escaped = False
    for ch in line:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
            continue
        yield ch


def validate_transcript(path: Path, *, allow_torn_tail: bool = False) -> list[dict[str, Any]]:
    """Assert every line of a session file conforms; returns the parsed lines."""
    data = path.read_text("utf-8")
    raw_lines = data.split("\n")
    tail = raw_lines.pop()  # after the final newline: "" for a clean file
    if tail:
        assert allow_torn_tail, f"unterminated last line in {path}"
    lines: list[dict[str, Any]] = []
    uuids: set[str] = set()
    tool_uses: set[str] = set()
    prev_uuid: str | None = None
    prev_ts = ""
    session_id = path.stem
    for n, raw in enumerate(raw_lines):
        assert raw, f"empty line {n}"
        # compact separators: no whitespace at all outside string values
        structure = "".join(outside_strings(raw))
        assert not re.search(r"\s", structure), f"whitespace outside strings on line {n}: {raw}"
        obj = json.loads(raw)
        assert json.dumps(obj, separators=(",", ":"), ensure_ascii=False) == raw
        for key, typ in COMMON.items():
            assert isinstance(obj.get(key), typ), f"line {n}: {key} missing or not {typ.__name__}"
        assert obj["type"] in ("user", "assistant", "system")
        assert obj["isSidechain"] is False and obj["userType"] == "external"
        assert obj["entrypoint"] == "fuse-ls"
        assert obj["sessionId"] == session_id
        assert ISO.match(obj["timestamp"]), obj["timestamp"]
        datetime.fromisoformat(obj["timestamp"].replace("Z", "+00:00"))
        assert obj["timestamp"] >= prev_ts, "timestamps go backwards"
        prev_ts = obj["timestamp"]
        assert obj["uuid"] not in uuids, "duplicate uuid"
        uuids.add(obj["uuid"])
        assert obj["parentUuid"] == prev_uuid, f"line {n}: parentUuid chain broken"
        prev_uuid = obj["uuid"]
        assert list(obj)[-1] == "fuseLs" and isinstance(obj["fuseLs"], dict)
        if obj["type"] == "assistant":
            msg = obj["message"]
            assert isinstance(obj["requestId"], str) and obj["requestId"].startswith("req_")
            assert msg["role"] == "assistant" and msg["id"].startswith("msg_")
            # The vendor's own id (what Rudel's rate card matches); the routed id is ours.
            routed = obj["fuseLs"]["model"]
            assert msg["model"] == vendor_model_id(routed) and " " not in msg["model"]
            u = msg["usage"]
            for key in (
                "input_tokens",
                "output_tokens",
                "cache_read_input_tokens",
                "cache_creation_input_tokens",
            ):
                assert isinstance(u[key], int) and u[key] >= 0, key
            assert set(u["cache_creation"]) == {
                "ephemeral_5m_input_tokens",
                "ephemeral_1h_input_tokens",
            }
            assert isinstance(msg["content"], list) and msg["content"]
            for block in msg["content"]:
                assert block["type"] in ("text", "thinking", "tool_use")
                if block["type"] == "tool_use":
                    assert isinstance(block["input"], dict)
                    tool_uses.add(block["id"])
        elif obj["type"] == "user":
            msg = obj["message"]
            assert msg["role"] == "user"
            content = msg["content"]
            assert isinstance(content, str | list)
            if isinstance(content, list):
                for block in content:
                    assert block["type"] in ("text", "tool_result")
                    if block["type"] == "tool_result":
                        assert block["tool_use_id"] in tool_uses, "tool_result without tool_use"
                        assert isinstance(block["content"], str)
                        assert block.get("is_error", True) is True
        else:
            assert isinstance(obj["subtype"], str) and isinstance(obj["content"], str)
        lines.append(obj)
    return lines


def session_files(root: Path) -> list[Path]:
    return sorted((root / "sessions").glob("*/*.jsonl"))
