"""Turning a FusionResult into JSON and SARIF for scripts and code-scanning tools."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from fuse_ls.core.checks import CheckReport
from fuse_ls.core.types import (
    SEVERITIES,
    CandidateResult,
    FusedFinding,
    FusionResult,
    Severity,
)
from fuse_ls.sarif import SarifEntry, file_artifact, sarif_log


def finding_json(f: FusedFinding, fingerprint: str | None = None) -> dict[str, Any]:
    """A finding in `--json`, keyed as in a change review by the `fingerprint` that
    `fuse-ls dismiss` takes (a review has one per finding). It also carried the fusion's
    own finding id as `id`: a second "id", not the one the table showed or dismiss took."""
    return {**({"fingerprint": fingerprint} if fingerprint else {}), **f.to_json()}


def candidate_json(c: CandidateResult) -> dict[str, Any]:
    return {
        "model": c.model,
        "index": c.index,
        "status": c.status,
        "latency_s": c.latency_s,
        "ttft_s": c.ttft_s,
        "prompt_tokens": c.usage.prompt_tokens,
        "completion_tokens": c.usage.completion_tokens,
        "cost_usd": c.cost_usd,
        "findings": len(c.findings),
        "error": c.error,
        "error_kind": c.error_kind,
        "confidence": c.confidence,
        "revised": c.revised,
    }


def check_json(report: CheckReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "passed": report.passed,
        "summary": report.summary(),
        "duration_s": round(report.duration_s, 3),
        "error": report.error,
        "skipped": report.skipped,
        "commands": [
            {
                "command": c.command,
                "exit_code": c.exit_code,
                "passed": c.passed,
                "timed_out": c.timed_out,
                "duration_s": round(c.duration_s, 3),
                "cut": c.cut,
                "output": c.output,
            }
            for c in report.commands
        ],
    }


def result_json(
    result: FusionResult,
    path: str,
    fingerprints: Sequence[str] = (),
    hidden: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """`fingerprints` (one per finding, what `fuse-ls dismiss` takes) and the findings
    `hidden` (why -> how many) come with a review; the keys are a change review's."""
    judge = result.judge
    prints: Sequence[str | None] = fingerprints or [None] * len(result.findings)
    findings = [finding_json(f, fp) for f, fp in zip(result.findings, prints, strict=True)]
    out: dict[str, Any] = {
        "fusion_id": result.fusion_id,
        "path": path,
        "task": result.task,
        "mode": result.mode,
        "findings": findings,
        "rejected": [finding_json(f) for f in result.rejected],
        "answer": result.answer,
        "explanation": result.explanation or None,
        "winner": result.winner,
        "scores": result.scores,
        "candidates": [candidate_json(c) for c in result.candidates],
        "judge": None
        if judge is None
        else {
            "model": judge.model,
            "status": judge.status,
            "latency_s": judge.latency_s,
            "cost_usd": judge.usage.cost_usd,
            "rationale": judge.rationale,
            "error": judge.error,
            "skipped_reason": judge.skipped_reason,
        },
        "estimated_cost_usd": result.estimated_cost_usd,
        "total_cost_usd": result.total_cost_usd,
        "wall_time_s": result.wall_time_s,
        "notes": list(result.notes),
    }
    if hidden is not None:
        out["hidden"] = dict(hidden)
    if result.answer_check is not None or result.checks:
        out["answer_check"] = check_json(result.answer_check)
        out["checks"] = [
            {"model": c.model, "index": c.index, **(check_json(c.report) or {})}
            for c in result.checks
        ]
    if result.analysis is not None:
        a = result.analysis
        out["analysis"] = {
            "consensus": list(a.consensus),
            "contradictions": [
                {
                    "topic": c.topic,
                    "stances": [{"model": s.model, "stance": s.stance} for s in c.stances],
                }
                for c in a.contradictions
            ],
            "unique_insights": [
                {"insight": i.insight, "model": i.model} for i in a.unique_insights
            ],
            "blind_spots": list(a.blind_spots),
        }
    return out


def sarif(result: FusionResult, path: Path, fingerprints: Sequence[str] = ()) -> dict[str, Any]:
    """SARIF 2.1.0 of a selection review: its findings, in the file at `path`, with the
    change review's `partialFingerprints` when `fingerprints` are given."""
    prints: Sequence[str | None] = fingerprints or [None] * len(result.findings)
    return sarif_log(
        SarifEntry(f, file_artifact(path), fingerprint=fp)
        for f, fp in zip(result.findings, prints, strict=True)
    )


def fails_on(result: FusionResult, threshold: Severity) -> bool:
    """True when a finding is at least as severe as `threshold` (error > ... > hint)."""
    limit = SEVERITIES.index(threshold)
    return any(SEVERITIES.index(f.severity) <= limit for f in result.findings)
