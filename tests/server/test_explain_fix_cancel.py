"""Explain (document + hover), fused fix (applyEdit), and cancellation by every route."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from tests.server.conftest import EVAL_LINE, Session, script, wait_for
from tests.server.test_review import selection


async def test_explain_opens_a_markdown_document_and_feeds_the_hover(lsp: Session) -> None:
    uri = lsp.open()
    result = await lsp.execute("fuse-ls.explain", {"uri": uri, "range": selection(3, 9)})
    assert result["cancelled"] is False
    shown = lsp.client.shown_documents
    assert [d.uri for d in shown] == [result["documentUri"]]
    path = Path(unquote(urlparse(result["documentUri"]).path))
    assert path.is_relative_to(lsp.data / "explanations") and path.suffix == ".md"
    # Editors title the tab with the file name: it says what is explained, not a hash.
    assert path.name == f"{Path(urlparse(uri).path).name} lines 4-9.md"
    assert await asyncio.to_thread(path.read_text) == result["markdown"]
    assert "It evaluates the text with eval()." in result["markdown"]

    asked = len(lsp.emulator.requests)
    hover = await lsp.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=EVAL_LINE, character=10),
        )
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert hover.contents.value == result["markdown"]
    outside = await lsp.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=0),
        )
    )
    assert outside is None
    assert len(lsp.emulator.requests) == asked  # hovers never call a model


@pytest.mark.parametrize("accept", [True, False])
async def test_fused_fix_goes_through_apply_edit_with_confirmation(
    lsp: Session, accept: bool
) -> None:
    lsp.recorder.apply = accept
    uri = lsp.open()
    result = await lsp.execute(
        "fuse-ls.fix", {"uri": uri, "range": selection(EVAL_LINE, EVAL_LINE + 1)}
    )
    assert result["applied"] is accept
    [params] = lsp.recorder.edits
    edit = params.edit
    if lsp.profile == "visual-studio-code":  # documentChanges + change annotations
        assert edit.document_changes is not None and edit.change_annotations is not None
        change = edit.document_changes[0]
        assert isinstance(change, types.TextDocumentEdit)
        assert change.text_document.version == 1
        text_edit = change.edits[0]
        assert isinstance(text_edit, types.AnnotatedTextEdit)
        annotation = edit.change_annotations[text_edit.annotation_id]
        assert annotation.needs_confirmation is True
    else:  # Neovim's capabilities take plain changes only
        assert edit.changes is not None
        text_edit = edit.changes[uri][0]
    assert text_edit.range.start.line == EVAL_LINE and text_edit.range.end.line == EVAL_LINE
    assert "literal_eval" in text_edit.new_text
    assert "\n" not in text_edit.new_text


async def test_cancel_request_stops_every_stream(lsp: Session) -> None:
    hang = [{"kind": "hang"}]
    lsp.emulator.set_script(script(faults={"emu/mid": hang, "emu/slow": hang}))
    uri = lsp.open()
    running = lsp.execute_async("fuse-ls.review", {"uri": uri}, msg_id="review-1")
    await wait_for(lambda: lsp.diagnostics(uri), what="the fast model's provisional findings")
    await wait_for(lambda: lsp.emulator.open_streams == 2, what="two hanging streams")
    lsp.client.cancel_request(types.CancelParams(id="review-1"))
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(running, 5)
    assert error.value.code == -32800
    await wait_for(lambda: lsp.emulator.open_streams == 0, within=2, what="streams closed")
    await wait_for(lambda: lsp.diagnostics(uri) == [], what="provisional findings withdrawn")
    await wait_for(
        lambda: any(s["state"] == "cancelled" for s in lsp.recorder.fusion_status),
        what="fusion cancelled",
    )
    # Still ready: a new review works.
    lsp.emulator.set_script(script())
    result = await lsp.execute("fuse-ls.review", {"uri": uri})
    assert result["cancelled"] is False and lsp.diagnostics(uri)


async def test_progress_cancel_stops_the_fusion(lsp: Session) -> None:
    hang = [{"kind": "hang"}]
    lsp.emulator.set_script(script(faults={m: hang for m in ("emu/fast", "emu/mid", "emu/slow")}))
    uri = lsp.open()
    running = lsp.execute_async("fuse-ls.review", {"uri": uri})
    await wait_for(lambda: lsp.emulator.open_streams == 3, what="three hanging streams")
    [token] = list(lsp.client.progress_reports)
    lsp.client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    result = await asyncio.wait_for(running, 5)
    assert result["cancelled"] is True
    await wait_for(lambda: lsp.emulator.open_streams == 0, within=2, what="streams closed")
    reports = lsp.client.progress_reports[token]
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)
    assert lsp.diagnostics(uri) == []


async def test_cancel_command_cancels_the_fusions_of_a_document(lsp: Session) -> None:
    hang = [{"kind": "hang"}]
    lsp.emulator.set_script(script(faults={m: hang for m in ("emu/fast", "emu/mid", "emu/slow")}))
    uri = lsp.open()
    running = lsp.execute_async("fuse-ls.explain", {"uri": uri})
    await wait_for(lambda: lsp.emulator.open_streams == 3, what="three hanging streams")
    assert await lsp.execute("fuse-ls.cancel", {"uri": uri}) == {"cancelled": 1}
    assert (await asyncio.wait_for(running, 5))["cancelled"] is True
    await wait_for(lambda: lsp.emulator.open_streams == 0, within=2, what="streams closed")
