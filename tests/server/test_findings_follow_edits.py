"""Findings stay on their code while the user edits during and between reviews."""

from __future__ import annotations

import asyncio

from lsprotocol import types
from pygls.workspace import TextDocument

from tests.changes.gitrepo import Repo
from tests.server.change_sample import A_NEW, B_NEW
from tests.server.conftest import (
    EVAL_LINE,
    JUDGE,
    POOL,
    SOURCE,
    Session,
    script,
    wait_for,
)


def lines(s: Session, uri: str, code: str = "security") -> list[int]:
    return sorted(d.range.start.line for d in s.diagnostics(uri) if d.code == code)


def provisional(s: Session, uri: str) -> list[types.Diagnostic]:
    return [d for d in s.diagnostics(uri) if d.data and d.data.get("provisional")]


async def test_a_change_review_lands_on_code_moved_while_it_ran(
    session: tuple[Session, Repo],
) -> None:
    """Lines inserted above the change while its models think: the findings the review
    publishes afterwards (provisional and fused) are on the moved code, in both files."""
    s, _ = session
    a_uri = s.open("a.py", A_NEW)
    b_uri = s.open("b.py", B_NEW)
    s.emulator.hold("emu/mid", "emu/slow")
    running = s.execute_async("fuse-ls.reviewChanges", {"paths": ["a.py", "b.py"]})
    await wait_for(lambda: provisional(s, a_uri) and provisional(s, b_uri), what="provisional")
    s.edit(a_uri, (0, 0), (0, 0), "# one\n# two\n")  # eval(text): line 4 -> 6
    s.edit(b_uri, (0, 0), (0, 0), "import os\n")  # eval(path): line 1 -> 2
    await wait_for(lambda: lines(s, a_uri) == [6] and lines(s, b_uri) == [2], what="moved")
    s.emulator.release()
    result = await asyncio.wait_for(running, 15)
    assert result["units"] == 2
    assert lines(s, a_uri) == [6] and lines(s, b_uri) == [2]
    assert not provisional(s, a_uri) and not provisional(s, b_uri)
    by_uri = {f["uri"]: f["range"]["start"]["line"] for f in result["findings"]}
    assert by_uri == {a_uri: 6, b_uri: 2}
    # And they keep following the user's edits afterwards.
    s.edit(a_uri, (0, 0), (0, 0), "# three\n")
    await wait_for(lambda: lines(s, a_uri) == [7], what="moved again")


def replace_all(s: Session, uri: str, text: str) -> None:
    """A full-document change, as a client without incremental sync sends it."""
    s.versions[uri] += 1
    s.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=s.versions[uri]),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def test_a_change_finding_whose_code_was_rewritten_meanwhile_is_not_shown(
    session: tuple[Session, Repo],
) -> None:
    s, _ = session
    a_uri = s.open("a.py", A_NEW)
    b_uri = s.open("b.py", B_NEW)
    s.emulator.hold("emu/mid", "emu/slow")
    running = s.execute_async("fuse-ls.reviewChanges", {"paths": ["a.py", "b.py"]})
    await wait_for(lambda: provisional(s, a_uri), what="provisional")
    s.edit(a_uri, (4, 12), (4, 16), "safe_eval")  # the flagged call is rewritten
    await wait_for(lambda: not provisional(s, a_uri), what="provisional finding dropped")
    s.emulator.release()
    result = await asyncio.wait_for(running, 15)
    assert result["units"] == 2
    assert lines(s, a_uri) == [] and lines(s, b_uri) == [1]
    assert [f["uri"] for f in result["findings"]] == [b_uri]


async def test_a_whole_document_change_during_a_change_review_finds_the_code_again(
    session: tuple[Session, Repo],
) -> None:
    s, _ = session
    a_uri = s.open("a.py", A_NEW)
    s.emulator.hold("emu/mid", "emu/slow")
    running = s.execute_async("fuse-ls.reviewChanges", {"paths": ["a.py"]})
    await wait_for(lambda: provisional(s, a_uri), what="provisional")
    replace_all(s, a_uri, '"""Loading."""\n\n' + A_NEW)  # eval(text): line 4 -> 6
    await wait_for(lambda: lines(s, a_uri) == [6], what="provisional finding found again")
    s.emulator.release()
    assert (await asyncio.wait_for(running, 15))["units"] == 1
    assert lines(s, a_uri) == [6]


async def test_a_document_closed_during_a_change_review_gets_findings_where_its_file_has_them(
    session: tuple[Session, Repo],
) -> None:
    """The buffer had unsaved lines above the change when the review read it; the user
    closes it without saving: the findings go where the code is in the file."""
    s, _ = session
    a_uri = s.open("a.py", A_NEW)
    s.edit(a_uri, (0, 0), (0, 0), "# unsaved\n# lines\n# here\n")  # eval(text) on line 7
    s.emulator.hold("emu/mid", "emu/slow")
    running = s.execute_async("fuse-ls.reviewChanges", {"paths": ["a.py"]})
    await wait_for(lambda: lines(s, a_uri) == [7], what="provisional on the buffer")
    s.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=a_uri))
    )
    # Closing clears the document's diagnostics: the server has seen the close.
    await wait_for(lambda: lines(s, a_uri) == [], what="the close handled")
    s.emulator.release()
    result = await asyncio.wait_for(running, 15)
    assert result["units"] == 1
    assert lines(s, a_uri) == [4]  # where eval(text) is in a.py on disk
    assert [f["range"]["start"]["line"] for f in result["findings"]] == [4]
    # The server lives on: the file opens and is reviewed again.
    s.open("a.py", A_NEW)
    assert (await s.execute("fuse-ls.reviewChanges", {"paths": ["a.py"]}))["units"] == 1
    assert lines(s, a_uri) == [4]


def selection(start: int, end: int) -> dict[str, object]:
    return {"start": {"line": start, "character": 0}, "end": {"line": end, "character": 0}}


ODD_EDITS = [
    ((40, 3), (90, 0), "# past the end\n"),
    ((2, 5), (1, 0), ""),  # its end before its start
    ((0, 0), (0, 0), "import ast\n"),
    ((3, 99), (3, 120), "  # past the line's end"),
]


async def test_odd_edits_during_a_review_never_misplace_a_finding(lsp: Session) -> None:
    """Changes past the end of the document or a line, and backwards ones, while a review
    runs: the server answers on, and what it publishes is on the code it is about (the
    text pygls, the server's document store, makes of these edits)."""
    uri = lsp.open()
    mirror = TextDocument(uri, SOURCE, version=1)
    lsp.emulator.hold("emu/mid", "emu/slow")
    running = lsp.execute_async("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    await wait_for(lambda: provisional(lsp, uri), what="provisional")
    for start, end, text in ODD_EDITS:
        lsp.edit(uri, start, end, text)
        mirror.apply_change(
            types.TextDocumentContentChangePartial(
                range=types.Range(
                    start=types.Position(line=start[0], character=start[1]),
                    end=types.Position(line=end[0], character=end[1]),
                ),
                text=text,
            )
        )
    eval_line = next(n for n, line in enumerate(mirror.lines) if "eval(" in line)
    assert eval_line == EVAL_LINE + 1
    # The provisional finding is moved: the server has the edits before any result.
    await wait_for(lambda: lines(lsp, uri) == [eval_line], what="the edits handled")
    lsp.emulator.release()
    result = await asyncio.wait_for(running, 15)
    assert result["cancelled"] is False
    assert result["findings"] and {f["range"]["start"]["line"] for f in result["findings"]} == {
        eval_line
    }
    assert lines(lsp, uri) == [eval_line]
    assert await lsp.code_actions(uri, (0, 0), (1, 0))  # still answering


EVAL_AGAIN = "Calling eval on the text executes arbitrary code: parse it with ast.literal_eval."
VAGUE_NAME = "The name `value` says nothing about what is parsed; call it `config`."


def reworded() -> dict[str, object]:
    """The pool again, every model wording the eval() finding its own way; emu/fast also
    raises a different finding on the same line."""
    again = script()
    models = again["models"]
    for name in POOL:
        models[name]["findings"] = [
            {"match": "eval(", "severity": "error", "category": "security", "message": EVAL_AGAIN}
        ]
    models["emu/fast"]["findings"].append(
        {"match": "value = eval", "severity": "info", "category": "naming", "message": VAGUE_NAME}
    )
    return again


async def test_a_finding_reworded_by_a_newer_review_shows_once(lsp: Session) -> None:
    """Reviewing again while the last review's finding is shown: the running review's
    answers that say the same in other words on the same line do not add a second
    diagnostic, a different finding on that line does; the finished review's wording
    then replaces the old one."""
    uri = lsp.open()
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    assert lines(lsp, uri) == [EVAL_LINE]
    lsp.emulator.set_script(reworded())
    lsp.emulator.hold("emu/mid", "emu/slow")
    running = lsp.execute_async("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    shown = await wait_for(
        lambda: provisional(lsp, uri) and lsp.diagnostics(uri), what="the rerun's answers"
    )
    lsp.emulator.release()
    on_eval = sorted((d.code, d.message) for d in shown if d.range.start.line == EVAL_LINE)
    assert [code for code, _ in on_eval] == ["naming", "security"]
    assert on_eval[1][1].endswith("(3/3 models)")  # the published one, not 1/3 so far
    await asyncio.wait_for(running, 15)
    [security] = [d for d in lsp.diagnostics(uri) if d.code == "security"]
    assert security.message.startswith(EVAL_AGAIN)


async def test_a_review_after_edits_replaces_the_findings_on_the_lines_it_reviewed(
    lsp: Session,
) -> None:
    """Lines inserted above between two reviews: the second review of the moved `== None`
    line replaces the finding there, and the eval() finding next to it stays."""
    # No judge: emu/slow's lone `== None` finding is published (as a hint).
    lsp.emulator.set_script(script(faults={JUDGE: [{"kind": "http", "status": 500}]}))
    uri = lsp.open()
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    assert lines(lsp, uri, "style") == [EVAL_LINE + 1]
    lsp.edit(uri, (0, 0), (0, 0), "import ast\nimport os\n")
    await wait_for(lambda: lines(lsp, uri, "style") == [EVAL_LINE + 3], what="moved")
    quiet = script()
    for name in POOL:
        quiet["models"][name]["findings"] = []
    lsp.emulator.set_script(quiet)
    none_line = EVAL_LINE + 3
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(none_line, none_line + 1)})
    assert lines(lsp, uri, "style") == []
    assert lines(lsp, uri) == [EVAL_LINE + 2]
