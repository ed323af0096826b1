"""The order in which a fusion's model-call lines reach the transcript (for Rudel).

The recorder holds a fusion's call lines until it ends, then writes them ordered so that
Rudel's analytics read the fusion right: Rudel takes "model used" from a session's last
assistant line, so failed and cancelled pool calls come first, then the pool's answers,
then the judge's lines. A fusion thus ends with the judge, or with an answer when no
judge was needed, never with a model that failed while the judge worked.

The last assistant line also states what the fusion cost as the provider reported it:
Rudel prices tokens only for models on its rate card, and this text is how the cost of
any other model reaches its session view.
"""

from __future__ import annotations

from typing import Any

from attrs import define

from fuse_ls.telemetry.transcript import text_block


@define
class PendingLine:
    """One model-call line held until its fusion ends."""

    role: str  # "pool" or "judge"
    line_type: str  # "assistant" or "user"
    message: dict[str, Any]
    facts: dict[str, Any]
    request_id: str | None
    at: float  # when it happened (epoch seconds)


def _rank(line: PendingLine) -> int:
    if line.role == "judge":
        return 2
    return 1 if line.facts.get("event") == "model_answer" else 0


def order_for_rudel(
    lines: list[PendingLine], action: str, session_cost_before: float
) -> tuple[list[PendingLine], float]:
    """(the lines in Rudel's order with the cost note added, the fusion's cost)."""
    ordered = sorted(lines, key=_rank)  # stable: arrival order within a rank
    cost = sum(float(p.facts.get("costUsd") or 0.0) for p in ordered)
    assistants = [i for i, p in enumerate(ordered) if p.line_type == "assistant"]
    if assistants:
        last = ordered[assistants[-1]]
        blocks = last.message["content"]
        note = text_block(
            f"[fuse-ls] this {action} cost ${cost:.4f} as reported by the provider; "
            f"this session so far ${session_cost_before + cost:.4f}"
        )
        # After the text of an answer; before the tool_use of a failed call.
        blocks.insert(len(blocks) if blocks and blocks[-1].get("type") == "text" else 0, note)
        last.facts["fusionCostUsd"] = round(cost, 6)
    return ordered, cost
