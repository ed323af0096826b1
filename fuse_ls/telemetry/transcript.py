"""Claude-Code-shaped transcript lines (what Rudel ingests) plus our own `fuseLs` payload.

Every line carries the envelope Rudel and Claude Code tools expect (`type`, `uuid`,
`parentUuid`, `timestamp`, `sessionId`, `cwd`, `gitBranch`, `version`, `isSidechain`,
`userType`) and, as its **last** key, a `fuseLs` object with the typed facts the local
dashboard needs. Keeping `fuseLs` last lets `fuse-ls stats` decode only that small object
instead of whole lines (see `stats.py`): the byte sequence `"fuseLs":` cannot occur
inside a JSON string value (its quotes would be escaped), so finding it is unambiguous.

Event kinds in `fuseLs.event`:

==================  ==========  ==============================================================
event               line type   meaning
==================  ==========  ==============================================================
session_start       system      first line of every file (rotation links files together)
action              user        a review / explain / fix was started
model_answer        assistant   a pool model (role=pool) or the judge (role=judge) answered
model_call          assistant   tool_use that a failed / cancelled call's tool_result answers
model_failed        user        tool_result, `"is_error":true` for failures
fusion_finished     system      outcome: mode, winner, findings with ids and votes, cost
fusion_failed       system      the fusion as a whole failed (budget, every model failed)
decision            user        the user applied / dismissed / left a finding or fix
session_end         system      the session was closed or rotated
==================  ==========  ==============================================================
"""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Final, Literal

from fuse_ls.core.counts import counted
from fuse_ls.core.types import FusedFinding, FusionResult, Usage, agreement_text
from fuse_ls.telemetry.models import vendor_model_id

SCHEMA_VERSION: Final = 1
FUSE_KEY: Final = "fuseLs"
FUSE_MARKER: Final = b'"fuseLs":'

LineType = Literal["user", "assistant", "system"]


def iso_timestamp(epoch_s: float | None = None) -> str:
    """`2025-06-01T12:34:56.789Z`, the form Claude Code writes."""
    t = time.time() if epoch_s is None else epoch_s
    dt = datetime.fromtimestamp(t, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> float:
    """Epoch seconds of an ISO 8601 timestamp (with `Z` or an offset)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def new_uuid() -> str:
    return str(uuid.uuid4())


def stable_id(prefix: str, *parts: object) -> str:
    """A deterministic id (`msg_…`, `req_…`, `toolu_…`) for one model answer, so the same
    answer always gets the same `message.id` and Rudel's de-duplication holds."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:24]
    return f"{prefix}_{digest}"


def usage_block(usage: Usage) -> dict[str, Any]:
    """Anthropic-style usage from our OpenAI-style counts.

    OpenAI/OpenRouter's `prompt_tokens` include cached and cache-written tokens, while
    Anthropic's (and so Claude Code's and Rudel's) `input_tokens` exclude them and Rudel
    adds the cache fields back. Subtracting here avoids counting cached tokens twice.
    """
    cache_read = max(usage.cached_tokens, 0)
    cache_write = max(usage.cache_write_tokens, 0)
    return {
        "input_tokens": max(usage.prompt_tokens - cache_read - cache_write, 0),
        "output_tokens": max(usage.completion_tokens, 0),
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
        "cache_creation": {
            # Providers do not tell us the TTL; 5 minutes is the default prompt cache.
            "ephemeral_5m_input_tokens": cache_write,
            "ephemeral_1h_input_tokens": 0,
        },
        "service_tier": "standard",
    }


def usage_facts(usage: Usage) -> dict[str, Any]:
    """The compact usage copy in `fuseLs` (what the dashboard sums)."""
    return {
        "in": usage.prompt_tokens,
        "out": usage.completion_tokens,
        "cacheRead": usage.cached_tokens,
        "cacheWrite": usage.cache_write_tokens,
        "reasoning": usage.reasoning_tokens,
    }


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def answer_message(msg_id: str, model: str, text: str, usage: Usage) -> dict[str, Any]:
    """An answer in Claude Code's form; `model` is written as the vendor's id."""
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": vendor_model_id(model),
        "content": [text_block(text)],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage_block(usage),
    }


def call_message(
    msg_id: str, tool_id: str, model: str, role: str, index: int, usage: Usage
) -> dict[str, Any]:
    """A model call as a `tool_use` turn, which the failed call's `tool_result` answers
    (Rudel counts failures only as `tool_result` blocks)."""
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": vendor_model_id(model),
        "content": [
            {
                "type": "tool_use",
                "id": tool_id,
                "name": "fuse_ls_model_call",
                "input": {"model": model, "role": role, "index": index},
            }
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": usage_block(usage),
    }


def finished_facts(fusion_id: str, result: FusionResult) -> dict[str, Any]:
    """The `fuseLs` facts of a `fusion_finished` line."""
    return {
        "event": "fusion_finished",
        "fusionId": fusion_id,
        "action": result.task,
        "mode": result.mode,
        "winner": result.winner,
        "scores": dict(result.scores) or None,
        "findings": [
            {
                "id": f.id,
                "votes": f.votes,
                "poolSize": f.pool_size,
                "didNotAnswer": f.did_not_answer,
                "notWaitedFor": f.not_waited_for,
                "severity": f.severity,
                "confirmed": f.confirmed,
                "fix": f.replacement is not None,
            }
            for f in result.findings
        ],
        "rejected": len(result.rejected),
        "answered": len(result.answered),
        "failed": len(result.failed),
        "judge": result.judge.status if result.judge is not None else None,
        "hasAnswer": bool(result.answer),
        "costUsd": result.total_cost_usd,
        "wallTimeS": round(result.wall_time_s, 3),
        "notes": len(result.notes),
    }


def finished_summary(result: FusionResult) -> str:
    parts = [f"fuse-ls {result.task} ({result.mode}) finished"]
    if result.task == "review":
        parts.append(counted(len(result.findings), "finding"))
    if result.winner:
        parts.append(f"winner {result.winner}")
    parts.append(f"{len(result.answered)}/{len(result.candidates)} models answered")
    parts.append(f"${result.total_cost_usd:.4f}")
    return ", ".join(parts)


def agreement_facts(
    known: FusedFinding | None,
    votes: int | None,
    pool_size: int | None,
    did_not_answer: int | None,
    not_waited_for: int | None,
) -> dict[str, int | None]:
    """A decision's agreement facts: what the caller gives (the server passes what it
    published), the rest from the finding of a recorded fusion (`known`), else None."""
    given = {
        "votes": votes,
        "poolSize": pool_size,
        "didNotAnswer": did_not_answer,
        "notWaitedFor": not_waited_for,
    }
    if known is None:
        return given
    theirs = (known.votes, known.pool_size, known.did_not_answer, known.not_waited_for)
    return {k: t if v is None else v for (k, v), t in zip(given.items(), theirs, strict=True)}


def decision_text(kind: str, decision: str, facts: dict[str, int | None]) -> str:
    """A decision line's text, with the agreement worded as every output words it:
    "[fuse-ls] finding applied (2/2 models; 1 of 3 did not answer)"."""
    votes, pool_size = facts["votes"], facts["poolSize"]
    if votes is None or pool_size is None:
        return f"[fuse-ls] {kind} {decision}"
    silent, unneeded = facts["didNotAnswer"] or 0, facts["notWaitedFor"] or 0
    return f"[fuse-ls] {kind} {decision} ({agreement_text(votes, pool_size, silent, unneeded)})"
