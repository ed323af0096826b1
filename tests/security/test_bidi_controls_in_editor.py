"""Trojan Source (CVE-2021-42574) through the language server: a model led by the code it
reads writes Unicode bidi controls into a finding, an explanation, a fix's explanation or
an error, and the editor displays those words reordered (a finding that reads as its
opposite). What the server shows a person (diagnostic messages, code action titles, the
fix preview's label and description, hovers, the explanation document, window/showMessage,
progress and model status) carries each control as `<U+202E>`, as the CLI prints it. The
code of a fix (the diagnostic's `data` and the WorkspaceEdit's text) stays exact: it is
what gets written, and the editor marks bidi controls in code itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lsprotocol import types

from fuse_ls.emulator import Emulator
from fuse_ls.safetext import BIDI_CONTROLS
from tests.lsp_sample import EVAL_LINE, JUDGE, POOL
from tests.security.counts import record
from tests.server.conftest import Session, only_edit, start_session, wait_for

RLO, LRI, PDI = "\u202e", "\u2066", "\u2069"
MESSAGE = f"eval runs any code {RLO}ton si siht{PDI} and \u200fmarks\u200e \u061cthis"
FIX_CODE = f"ast.literal_eval({RLO}"  # the quick fix's code: kept as written
EXPLANATION = f"It parses {RLO}ylno slaretil{PDI} with eval."
FIX_WORDS = f"Parse literals only{RLO} (no eval){PDI}."
FIXED = f'    value = ast.literal_eval(text)  # {LRI}"admin"{PDI}\n'
ERROR = f"upstream said {RLO}kO{PDI}"


def _bare(text: str) -> bool:
    return not any(char in text for char in BIDI_CONTROLS)


def _script() -> dict[str, Any]:
    finding = {
        "match": "eval(",
        "severity": "error",
        "category": "security",
        "message": MESSAGE,
        "replace": FIX_CODE,
    }
    model = {
        "findings": [finding],
        "text": EXPLANATION,
        "fix": {"replacement": FIXED, "explanation": FIX_WORDS},
    }
    models: dict[str, Any] = {m: dict(model) for m in POOL}
    # The slowest model's first call (the review) fails with a provider message.
    models[POOL[-1]]["faults"] = [{"kind": "http", "status": 500, "message": ERROR, "times": 1}]
    models[JUDGE] = {}
    return {"models": models, "judge": {"merge_answer": EXPLANATION}}


def _range(start: int, end: int) -> dict[str, Any]:
    return {"start": {"line": start, "character": 0}, "end": {"line": end, "character": 0}}


async def _exercise(session: Session) -> dict[str, Any]:
    uri = session.open()
    await session.execute("fuse-ls.review", {"uri": uri, "range": _range(3, 9)})
    diagnostic = next(d for d in session.diagnostics(uri) if d.code == "security")
    listed = await session.code_actions(
        uri, (EVAL_LINE, 0), (EVAL_LINE, 0), diagnostics=[diagnostic], only=["quickfix"]
    )
    resolved = await session.client.code_action_resolve_async(
        types.CodeAction(title=listed[0]["title"], diagnostics=[diagnostic], data=listed[0]["data"])
    )
    explained = await session.execute("fuse-ls.explain", {"uri": uri, "range": _range(3, 9)})
    hover = await session.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=EVAL_LINE, character=4),
        )
    )
    fixed = await session.execute(
        "fuse-ls.fix", {"uri": uri, "range": _range(EVAL_LINE, EVAL_LINE + 1)}
    )
    await wait_for(lambda: session.recorder.edits, what="the fix's workspace edit")
    return {
        "uri": uri,
        "diagnostic": diagnostic,
        "listed": listed,
        "resolved": resolved,
        "explained": explained,
        "hover": hover,
        "fixed": fixed,
    }


async def test_the_editor_shows_bidi_controls_and_applies_the_code_exactly(
    tmp_path: Path,
) -> None:
    with Emulator(_script()) as emu:
        session, stop = await start_session("visual-studio-code", emu, tmp_path)
        try:
            seen = await _exercise(session)
        finally:
            await stop()
    uri, diagnostic = seen["uri"], seen["diagnostic"]

    # The finding: its words marked, its fix exact.
    assert _bare(diagnostic.message), diagnostic.message
    assert "<U+202E>ton si siht<U+2069>" in diagnostic.message
    assert "<U+200F>marks<U+200E> <U+061C>this" in diagnostic.message
    assert diagnostic.data["fix"]["replacement"] == f"    value = {FIX_CODE}text)"
    title = seen["listed"][0]["title"]
    assert _bare(title) and "<U+202E>" in title, title
    assert only_edit(seen["resolved"], uri).new_text == f"    value = {FIX_CODE}text)"

    # The explanation: its result, the hover and the document read the same, marked.
    hover = seen["hover"]
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    path = Path(unquote(urlsplit(seen["explained"]["documentUri"]).path))
    on_disk = await asyncio.to_thread(path.read_text, encoding="utf-8")
    for markdown in (seen["explained"]["markdown"], hover.contents.value, on_disk):
        assert _bare(markdown), markdown
        assert "<U+202E>ylno slaretil<U+2069>" in markdown

    # The fused fix: the preview's words marked, the edit's code exact.
    assert seen["fixed"]["applied"] is True
    [params] = session.recorder.edits
    edit = params.edit
    assert edit.document_changes is not None and edit.change_annotations is not None
    change = edit.document_changes[0]
    assert isinstance(change, types.TextDocumentEdit)
    text_edit = change.edits[0]
    assert isinstance(text_edit, types.AnnotatedTextEdit)
    assert text_edit.new_text == FIXED.rstrip("\n")
    annotation = edit.change_annotations[text_edit.annotation_id]
    assert annotation.description is not None and _bare(annotation.description)
    assert "(no eval)<U+2069>" in annotation.description

    # The model's error: in window/showMessage, progress and the model status.
    messages = session.messages()
    assert any("upstream said <U+202E>kO<U+2069>" in m for m in messages), messages
    assert all(_bare(m) for m in messages), messages
    progress = [
        str(getattr(report, "message", "") or "")
        for reports in session.client.progress_reports.values()
        for report in reports
    ]
    assert any("<U+202E>kO" in m for m in progress), progress
    assert all(_bare(m) for m in progress), progress
    errors = [s["error"] for s in session.recorder.model_status if "error" in s]
    assert errors and all(_bare(e) and "<U+202E>kO" in e for e in errors), errors
    record("bidi controls shown, not obeyed", "language server")
