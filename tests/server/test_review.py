"""Code actions, fused review diagnostics, provisional results, quick fixes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lsprotocol import types

from fuse_ls.emulator import Emulator
from tests.server.conftest import (
    EVAL_LINE,
    JUDGE,
    NONE_LINE,
    POOL,
    Session,
    init_options,
    only_edit,
    script,
    start_session,
    wait_for,
)


def selection(start: int, end: int) -> dict[str, Any]:
    return {"start": {"line": start, "character": 0}, "end": {"line": end, "character": 0}}


async def test_code_action_list_never_calls_a_model(lsp: Session) -> None:
    uri = lsp.open()
    listed = await lsp.code_actions(uri, (3, 0), (8, 0))
    by_title = {a["title"]: a for a in listed}
    assert set(by_title) == {
        "Fused review of selection",
        "Fused review (best-of)",
        "Fused review (merge)",
        "Fused review (debate)",
        "Explain with consensus",
        "Fused fix of selection",
    }
    assert {a["kind"] for a in listed} == {
        "source.fuse-ls.review",
        "source.fuse-ls.review.best-of",
        "source.fuse-ls.review.merge",
        "source.fuse-ls.review.debate",
        "source.fuse-ls.explain",
        "refactor.rewrite.fuse-ls.fix",
    }
    review = by_title["Fused review of selection"]["command"]
    assert review["command"] == "fuse-ls.review"
    assert review["arguments"] == [{"uri": uri, "range": selection(3, 8)}]

    only = await lsp.code_actions(uri, (3, 0), (8, 0), only=["refactor"])
    assert [a["title"] for a in only] == ["Fused fix of selection"]
    # An empty selection means the whole document: no range argument.
    cursor = await lsp.code_actions(uri, (4, 2), (4, 2), only=["source.fuse-ls.review"])
    assert cursor[0]["command"]["arguments"] == [{"uri": uri}]
    assert lsp.emulator.requests == []


async def test_one_review_action_per_mode_runs_that_mode(lsp: Session) -> None:
    uri = lsp.open()
    listed = await lsp.code_actions(uri, (3, 0), (9, 0), only=["source.fuse-ls.review"])
    by_title = {a["title"]: a["command"] for a in listed}
    for mode in ("best-of", "merge", "debate"):
        command = by_title[f"Fused review ({mode})"]
        assert command["command"] == "fuse-ls.review"
        assert command["arguments"] == [{"uri": uri, "range": selection(3, 9), "mode": mode}]
    # The default action leaves the mode to the settings (merge here): no revision round.
    await lsp.execute("fuse-ls.review", *by_title["Fused review of selection"]["arguments"])
    assert not [r for r in lsp.emulator.requests if r.schema == "debate_revision"]
    debate = by_title["Fused review (debate)"]
    result = await lsp.execute(debate["command"], *debate["arguments"])
    assert result["cancelled"] is False
    revisions = [r.model for r in lsp.emulator.requests if r.schema == "debate_revision"]
    assert sorted(revisions) == sorted(POOL)  # every model revised once: a debate ran
    assert any(d.code == "security" for d in lsp.diagnostics(uri))


async def test_review_publishes_fused_diagnostics_with_votes(lsp: Session) -> None:
    uri = lsp.open()
    result = await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    assert result["cancelled"] is False
    diagnostics = lsp.diagnostics(uri)
    eval_diag = next(d for d in diagnostics if d.code == "security")
    assert eval_diag.source == "fuse-ls"
    assert eval_diag.range.start.line == EVAL_LINE
    assert eval_diag.message.endswith("(3/3 models)")
    assert eval_diag.severity == types.DiagnosticSeverity.Error
    data = eval_diag.data
    assert data["votes"] == 3 and data["poolSize"] == 3
    assert sorted(data["models"]) == sorted(POOL)
    assert data["provisional"] is False
    assert data["fix"]["replacement"].strip() == "value = ast.literal_eval(text)"
    assert result["findings"][0]["findingId"] == data["findingId"]


async def test_provisional_results_then_the_fused_result(lsp: Session) -> None:
    # The slower models are held until the provisional result is seen: ordered by state,
    # not by latencies that a loaded machine can swap.
    lsp.emulator.hold("emu/mid", "emu/slow")
    uri = lsp.open()
    running = lsp.execute_async("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    first = await wait_for(lambda: lsp.diagnostics(uri), what="provisional diagnostics")
    assert not running.done()
    lsp.emulator.release()
    assert first[0].message.endswith("(1/3 models so far)")
    assert first[0].data["provisional"] is True
    # A single model is a minority: a hint until enough models agree.
    assert first[0].severity == types.DiagnosticSeverity.Hint
    await asyncio.wait_for(running, 10)
    final = lsp.diagnostics(uri)
    assert [d.message.endswith("(3/3 models)") for d in final if d.code == "security"] == [True]
    assert all(not d.data["provisional"] for d in final)


async def test_a_rerun_shows_a_finding_it_repeats_once(lsp: Session) -> None:
    """Reviewing the same lines again: while the new review's first answers come in, a
    finding they repeat is shown once (the fused one), not also as a provisional copy."""
    uri = lsp.open()
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    assert [d.code for d in lsp.diagnostics(uri)].count("security") == 1
    again = script()
    again["models"]["emu/fast"]["findings"] = [
        *again["models"]["emu/fast"]["findings"],
        {"match": "return {}", "severity": "info", "category": "style", "message": "Say why."},
    ]
    lsp.emulator.set_script(again)
    lsp.emulator.hold("emu/mid", "emu/slow")
    running = lsp.execute_async("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    shown = await wait_for(
        lambda: [d for d in lsp.diagnostics(uri) if d.data["provisional"]] and lsp.diagnostics(uri),
        what="the rerun's provisional diagnostics",
    )
    lsp.emulator.release()
    security = [d for d in shown if d.code == "security"]
    assert [d.message.endswith("(3/3 models)") for d in security] == [True]
    await asyncio.wait_for(running, 10)
    assert [d.code for d in lsp.diagnostics(uri)].count("security") == 1


async def test_unconfirmed_minority_finding_is_a_hint(lsp: Session) -> None:
    # The judge fails, so no finding is confirmed: only agreement decides severity.
    lsp.emulator.set_script(script(faults={JUDGE: [{"kind": "http", "status": 500}]}))
    uri = lsp.open()
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    by_code = {d.code: d for d in lsp.diagnostics(uri)}
    assert by_code["security"].severity == types.DiagnosticSeverity.Error
    style = by_code["style"]
    assert style.range.start.line == NONE_LINE
    assert style.data["votes"] == 1 and style.data["confirmed"] is None
    assert style.severity == types.DiagnosticSeverity.Hint


async def test_a_finding_says_when_a_pool_member_did_not_answer(lsp: Session) -> None:
    uri = lsp.open()
    lsp.emulator.set_script(script(faults={"emu/slow": [{"kind": "http", "status": 401}]}))
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    eval_diag = next(d for d in lsp.diagnostics(uri) if d.code == "security")
    # Two of the two that answered agree; the third failed, which "2/2" alone would hide.
    assert eval_diag.message.endswith("(2/2 models; 1 of 3 did not answer)")
    assert eval_diag.data["votes"] == 2 and eval_diag.data["poolSize"] == 2


async def test_a_member_the_quorum_made_unnecessary_is_not_said_to_have_failed(
    emu: Emulator, tmp_path: Path
) -> None:
    emu.set_script(script(slow=60_000))
    options = init_options(quorum={"minResponses": 2})
    lsp, stop = await start_session("visual-studio-code", emu, tmp_path, options)
    try:
        uri = lsp.open()
        await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
        eval_diag = next(d for d in lsp.diagnostics(uri) if d.code == "security")
        assert eval_diag.message.endswith("(2/2 models; 1 of 3 not waited for)")
        assert (eval_diag.data["didNotAnswer"], eval_diag.data["notWaitedFor"]) == (0, 1)
    finally:
        await stop()


async def test_the_result_says_whether_the_judge_failed(lsp: Session) -> None:
    uri = lsp.open()
    judged = await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    assert judged["judge"] == {"model": JUDGE, "status": "ok", "error": None}
    lsp.emulator.set_script(script(faults={JUDGE: [{"kind": "http", "status": 500}]}))
    fallback = await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    assert fallback["judge"]["status"] == "error" and fallback["judge"]["model"] == JUDGE
    assert "500" in fallback["judge"]["error"]
    assert any("judge failed" in note for note in fallback["notes"]), fallback["notes"]


async def test_quick_fix_is_resolved_lazily_from_the_diagnostic(lsp: Session) -> None:
    uri = lsp.open()
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    diagnostic = next(d for d in lsp.diagnostics(uri) if d.code == "security")
    before = len(lsp.emulator.requests)
    listed = await lsp.code_actions(
        uri, (EVAL_LINE, 0), (EVAL_LINE, 0), diagnostics=[diagnostic], only=["quickfix"]
    )
    assert len(listed) == 1
    quick_fix = listed[0]
    assert quick_fix["kind"] == "quickfix"
    assert quick_fix["title"].startswith("Apply fused fix: ")
    assert "edit" not in quick_fix  # resolved lazily
    resolved = await lsp.client.code_action_resolve_async(
        types.CodeAction(
            title=quick_fix["title"],
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            data=quick_fix["data"],
        )
    )
    edit = only_edit(resolved, uri)
    assert edit.range.start.line == EVAL_LINE
    assert edit.new_text == "    value = ast.literal_eval(text)"
    assert resolved.command is not None
    assert resolved.command.command == "fuse-ls.findingDecision"
    assert await lsp.execute(*_command_call(resolved.command)) == {}
    assert len(lsp.emulator.requests) == before  # nothing here called a model


def _command_call(command: types.Command) -> list[Any]:
    return [command.command, *(command.arguments or [])]


async def test_edits_during_a_review_move_or_drop_its_findings(lsp: Session) -> None:
    lsp.emulator.set_script(script(fast=300, mid=320, slow=340))
    uri = lsp.open()
    running = lsp.execute_async("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    await wait_for(lambda: lsp.emulator.open_streams >= 3, what="models asked")
    lsp.edit(uri, (0, 0), (0, 0), "# header\n# more\n")  # two lines above everything
    lsp.edit(uri, (NONE_LINE + 2, 0), (NONE_LINE + 3, 0), "")  # delete `if value == None:`
    result = await asyncio.wait_for(running, 10)
    diagnostics = lsp.diagnostics(uri)
    security = [d for d in diagnostics if d.code == "security"]
    assert [d.range.start.line for d in security] == [EVAL_LINE + 2]
    assert not [d for d in diagnostics if d.code == "style"]
    assert result["findings"][0]["range"]["start"]["line"] == EVAL_LINE + 2

    # After publishing, edits keep moving them; editing their text drops them.
    lsp.edit(uri, (0, 0), (0, 0), "\n")
    await wait_for(
        lambda: [d.range.start.line for d in lsp.diagnostics(uri)] == [EVAL_LINE + 3],
        what="diagnostic moved by the edit",
    )
    lsp.edit(uri, (EVAL_LINE + 3, 12), (EVAL_LINE + 3, 16), "safe_eval")
    await wait_for(lambda: lsp.diagnostics(uri) == [], what="diagnostic dropped")


async def test_new_review_of_a_document_cancels_the_previous_one(lsp: Session) -> None:
    lsp.emulator.set_script(script(fast=300, mid=300, slow=300))
    uri = lsp.open()
    other = lsp.open("other.py")
    first = lsp.execute_async("fuse-ls.review", {"uri": uri})
    side = lsp.execute_async("fuse-ls.review", {"uri": other})
    await wait_for(lambda: lsp.emulator.open_streams >= 6, what="both reviews streaming")
    # The server stays responsive while reviews stream.
    started = asyncio.get_running_loop().time()
    await lsp.code_actions(uri, (0, 0), (1, 0))
    assert asyncio.get_running_loop().time() - started < 0.5
    second = lsp.execute_async("fuse-ls.review", {"uri": uri})
    assert (await asyncio.wait_for(first, 5))["cancelled"] is True
    done = await asyncio.wait_for(second, 10)
    beside = await asyncio.wait_for(side, 10)
    assert done["cancelled"] is False and beside["cancelled"] is False
    assert any(d.code == "security" for d in lsp.diagnostics(other))


async def test_progress_and_status_notifications(lsp: Session) -> None:
    lsp.emulator.set_script(script(faults={"emu/slow": [{"kind": "http", "status": 402}]}))
    uri = lsp.open()
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    lsp.emulator.set_script(script())  # now the judge has a disagreement to settle
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    tokens = list(lsp.client.progress_reports)
    assert len(tokens) == 2 and tokens[0] != tokens[1]  # a fresh token per fusion
    reports = lsp.client.progress_reports[tokens[0]]
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    assert reports[0].cancellable is True
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)
    middle = [r.message or "" for r in reports[1:-1]]
    assert sum("answered in" in m for m in middle) == 2
    assert any("emu/slow failed" in m and "402" in m for m in middle)
    assert "failed" in (reports[-1].message or "")
    judged = [r.message or "" for r in lsp.client.progress_reports[tokens[1]]]
    assert any(m.startswith("judge") for m in judged)

    await wait_for(lambda: len(lsp.recorder.fusion_status) >= 4, what="fusion status")
    states = [s["state"] for s in lsp.recorder.fusion_status]
    assert states[0] == "started" and "finished" in states and "judging" in states
    # Reviews here run one after another: one in flight while running, none once it ended.
    assert lsp.recorder.fusion_status[0]["inFlight"] == 1
    ends = [s for s in lsp.recorder.fusion_status if s["state"] in ("finished", "failed")]
    assert ends and all(s["inFlight"] == 0 for s in ends)
    models = {(s["model"], s["state"]) for s in lsp.recorder.model_status}
    assert {("emu/fast", "finished"), ("emu/mid", "finished"), ("emu/slow", "failed")} <= models
    finished = next(s for s in lsp.recorder.model_status if s["state"] == "finished")
    assert finished["latencyMs"] > 0 and finished["uri"] == uri

    stats = await lsp.execute("fuse-ls.stats", {})
    assert stats["fusions"] == 2
    assert stats["models"]["emu/fast"]["calls"] == 2
    assert stats["models"]["emu/slow"]["failures"] == 1


async def test_a_quick_fix_keeps_a_secret_the_models_only_saw_redacted(lsp: Session) -> None:
    key = "sk-" + "proj-4f9Q2xLmN8vR7tY1wZ3aB6cD9eF0gH2jK5"
    uri = lsp.open("conf.py", f'def load(text):\n    value = eval(text) or "{key}"\n')
    await lsp.execute("fuse-ls.review", {"uri": uri})
    diagnostic = next(d for d in lsp.diagnostics(uri) if d.code == "security")
    listed = await lsp.code_actions(
        uri, (1, 0), (1, 0), diagnostics=[diagnostic], only=["quickfix"]
    )
    resolved = await lsp.client.code_action_resolve_async(
        types.CodeAction(
            title=listed[0]["title"],
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            data=listed[0]["data"],
        )
    )
    edit = only_edit(resolved, uri)
    # The models saw `[REDACTED:…]` where the key is; the edit puts the key back.
    assert all(key not in str(r.body) for r in lsp.emulator.requests)
    assert edit.new_text == f'    value = ast.literal_eval(text) or "{key}"'
