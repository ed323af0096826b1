"""Cost and time limits (issue 10 items 12, 13) and the messages that report them (16)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.config import ModelSpec, replace
from fuse_ls.core.errors import AllModelsFailed
from fuse_ls.emulator import Emulator
from fuse_ls.fusion.engine import DEFAULT_MAX_TOKENS, FusionEngine
from fuse_ls.server.progress import end_message, failure_summary
from tests.robustness.support import JUDGE, POOL, A, B, C, request, script, settings_for

HANG = {"kind": "hang"}


def _run(settings: Any, task: str = "review", **kw: Any) -> Any:
    async def go() -> Any:
        async with FusionEngine(settings) as engine:
            return await engine.run(request(task), **kw)

    return asyncio.run(go())


# --- item 12: output caps -------------------------------------------------------------


def test_every_call_is_capped_by_default(emulator_factory: Any, tmp_path: Path) -> None:
    emu: Emulator = emulator_factory(script())
    settings = settings_for(emu, tmp_path, "debate")
    settings.pool[0] = ModelSpec(A, max_tokens=900)
    _run(settings, "explain")
    calls = [r for r in emu.requests if r.path.endswith("/chat/completions")]
    assert {r.model for r in calls} == {*POOL, JUDGE}
    for r in calls:
        assert r.body["max_tokens"] == (900 if r.model == A else DEFAULT_MAX_TOKENS), r.model


def test_a_runaway_answer_is_cut_before_the_judge_sees_it(
    emulator_factory: Any, tmp_path: Path
) -> None:
    """A local server that ignores max_tokens sends 200,000 characters."""
    raw = script()
    raw["models"][B] = {**raw["models"][B], "text": "Rows. " * 34_000, "honour_max_tokens": False}
    emu: Emulator = emulator_factory(raw)
    result = _run(settings_for(emu, tmp_path, "merge"), "explain")
    assert result.answer == "It loads rows with eval()."
    [judged] = [r for r in emu.requests if r.model == JUDGE]
    judge_prompt = judged.body["messages"][-1]["content"]
    assert len(judge_prompt) < 3 * DEFAULT_MAX_TOKENS * 3 + 5_000
    assert any(n.startswith(f"{B}: the answer was cut from") for n in result.notes)


@pytest.mark.parametrize("mode", ["merge", "debate"])
def test_the_budget_estimate_covers_answers_at_their_caps(
    emulator_factory: Any, tmp_path: Path, mode: str
) -> None:
    """Every model talks until its cap: the worst case the estimate must cover."""
    raw = script()
    for model in POOL:
        raw["models"][model]["text"] = "This code loads rows. " * 5_000
    raw["judge"]["merge_answer"] = "Fused explanation. " * 5_000
    emu: Emulator = emulator_factory(raw)
    settings = settings_for(emu, tmp_path, mode)
    settings = replace(settings, {"budget.max_usd_per_request": 100.0})
    result = _run(settings, "explain")
    assert result.estimated_cost_usd is not None
    assert result.total_cost_usd > 0
    assert result.estimated_cost_usd >= result.total_cost_usd


# --- item 13: one deadline per fusion -------------------------------------------------


def test_one_deadline_bounds_a_whole_debate_and_names_who_was_cut(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu: Emulator = emulator_factory(
        script(
            **{
                B: [{"kind": "hang", "schemas": ["debate_revision"]}],
                JUDGE: [{"kind": "hang", "schemas": ["merge_result"]}],
            }
        )
    )
    settings = settings_for(emu, tmp_path, "debate")
    settings = replace(settings, {"quorum.deadline_s": 6})
    settings = replace(settings, {"timeouts.request_s": 30})
    result = _run(settings, "explain")
    # Hanging calls never end by themselves: the fusion returned because the deadline cut
    # them, well before any per-call timeout.
    assert result.wall_time_s < 6 + 10
    assert result.answer  # the vote-based fallback
    cut = f"the 6s fusion deadline (quorum.deadline_s) cut: {B} (debate round 1), {JUDGE} (judge)"
    assert cut in result.notes
    assert any(
        n.startswith(f"{B} kept its first answer (debate round 1 failed: no ") for n in result.notes
    )
    assert result.judge is not None and result.judge.status == "error"
    assert emu.wait_until(lambda: emu.open_streams == 0)


def test_a_caller_deadline_holds_for_change_reviews(emulator_factory: Any, tmp_path: Path) -> None:
    emu: Emulator = emulator_factory(script(**{C: [HANG]}))
    settings = settings_for(emu, tmp_path, "merge")
    settings = replace(settings, {"quorum.deadline_s": 600})

    async def go() -> Any:
        async with FusionEngine(settings) as engine:
            loop = asyncio.get_running_loop()
            return await engine.run(request("review"), deadline_at=loop.time() + 4)

    result = asyncio.run(go())
    assert result.wall_time_s < 4 + 10
    [cut] = [c for c in result.candidates if c.model == C]
    assert cut.status == "cancelled" and cut.error_kind == "deadline"
    assert cut.error is not None and cut.error.startswith(f"{C}: no answer after ")
    assert any(n.endswith(f"cut: {C} (pool)") for n in result.notes)


# --- item 16: messages ----------------------------------------------------------------


def test_a_failed_model_is_named_once(emulator_factory: Any, tmp_path: Path) -> None:
    emu: Emulator = emulator_factory(script(**{B: [{"kind": "http", "status": 503}]}))
    settings = settings_for(emu, tmp_path, "merge")
    settings = replace(settings, {"retries.max_attempts": 1})
    result = _run(settings)
    [note] = [n for n in result.notes if n.startswith("2/3 models answered")]
    assert note.count(B) == 1, note
    assert f"{B}: {B}" not in failure_summary(result.failed)
    assert end_message(result, "2 findings").count(B) == 1


def test_the_timeout_message_reads_well(emulator_factory: Any, tmp_path: Path) -> None:
    raw = script(**{B: [HANG]})
    raw["models"][B]["keepalive_ms"] = 50
    emu: Emulator = emulator_factory(raw)
    settings = settings_for(emu, tmp_path, "merge")
    settings = replace(settings, {"timeouts.request_s": 3})
    settings = replace(settings, {"retries.max_attempts": 1})
    result = _run(settings)
    [b] = [c for c in result.candidates if c.model == B]
    assert b.error is not None
    assert "no a " not in b.error
    assert f"{B}: no complete answer within 3s (timeouts.request_s)" in b.error


def test_a_deadline_cut_names_the_model_in_the_warning(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu: Emulator = emulator_factory(script(**{B: [HANG]}))
    settings = settings_for(emu, tmp_path, "merge")
    settings = replace(settings, {"quorum.deadline_s": 4})
    result = _run(settings)
    warning = failure_summary(result.failed)
    assert warning.startswith(f"{B}: no answer after") and warning.count(B) == 1


def test_all_models_failed_names_each_model_once(emulator_factory: Any, tmp_path: Path) -> None:
    fault = [{"kind": "http", "status": 500}]
    emu: Emulator = emulator_factory(script(**{A: fault, B: fault, C: fault}))
    settings = settings_for(emu, tmp_path, "merge")
    settings = replace(settings, {"retries.max_attempts": 1})
    with pytest.raises(AllModelsFailed) as failed:
        _run(settings)
    for model in POOL:
        assert str(failed.value).count(model) == 1
