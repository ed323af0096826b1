"""Code actions, fused review diagnostics, provisional results, quick fixes."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from tests.server.conftest import EVAL_LINE, POOL, Session, wait_for


def selection(start: int, end: int) -> dict[str, Any]:
    return {"start": {"line": start, "character": 0}, "end": {"line": end, "character": 0}}


async def test_code_action_list_never_calls_a_model(lsp: Session) -> None:
    uri = lsp.open()
    listed = await lsp.code_actions(uri, (3, 0), (8, 0))
    by_title = {a["title"]: a for a in listed}
    assert set(by_title) == {
        "Fused review of selection",
        "Explain with consensus",
        "Fused fix of selection",
    }
    assert {a["kind"] for a in listed} == {
        "source.fuse-ls.review",
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
