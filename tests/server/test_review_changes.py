"""`fuse-ls.reviewChanges`: the language server reviews the workspace's git change."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import Repo
from tests.server.change_sample import A_BASE, A_NEW, B_BASE
from tests.server.conftest import Session, script, wait_for


def chat_calls(emu: Emulator) -> int:
    return sum(1 for r in emu.requests if r.path.endswith("/chat/completions"))


def security(s: Session, uri: str) -> list[types.Diagnostic]:
    return [d for d in s.diagnostics(uri) if d.code == "security"]


async def test_review_changes_publishes_every_changed_file_and_caches(
    session: tuple[Session, Repo],
) -> None:
    s, repo = session
    a_uri = s.open("a.py", A_NEW)  # open in the editor; b.py is not
    b_uri = (repo.root / "b.py").as_uri()
    result = await s.execute("fuse-ls.reviewChanges", {"scope": "uncommitted"})
    assert result["cancelled"] is False and result["units"] == 2 and result["cached"] == 0
    assert {f["uri"] for f in result["findings"]} == {a_uri, b_uri}
    assert all(len(f["fingerprint"]) == 16 for f in result["findings"])
    assert [d.range.start.line for d in security(s, a_uri)] == [4]
    assert [d.range.start.line for d in security(s, b_uri)] == [1]
    [token] = list(s.client.progress_reports)
    reports = s.client.progress_reports[token]
    assert isinstance(reports[0], types.WorkDoneProgressBegin) and reports[0].cancellable
    assert any("units 2/2" in (r.message or "") for r in reports[1:-1])
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)

    calls = chat_calls(s.emulator)
    again = await s.execute("fuse-ls.reviewChanges", {})
    assert again["cached"] == 2 and again["calls"] == 0 and chat_calls(s.emulator) == calls
    assert len(security(s, a_uri)) == 1  # replaced, not duplicated

    # Results follow edits as any review's do.
    s.edit(a_uri, (0, 0), (0, 0), "# a comment\n")
    await wait_for(lambda: [d.range.start.line for d in security(s, a_uri)] == [5])


async def test_findings_follow_edits_in_a_file_whose_uri_is_percent_encoded(
    session: tuple[Session, Repo],
) -> None:
    """The editor sends `my%20file.py` while pygls keys documents by the decoded URI:
    findings are published under the editor's URI and move with its edits."""
    s, repo = session
    repo.write("my file.py", A_BASE)
    repo.commit("spaced")
    repo.write("my file.py", A_NEW)
    uri = s.open("my file.py", A_NEW)
    assert "%20" in uri
    result = await s.execute("fuse-ls.reviewChanges", {"paths": ["my file.py"]})
    assert result["units"] == 1
    assert [d.range.start.line for d in security(s, uri)] == [4]
    s.edit(uri, (0, 0), (0, 0), "# a comment\n")
    await wait_for(lambda: [d.range.start.line for d in security(s, uri)] == [5])


async def test_dismissing_in_the_editor_is_remembered(session: tuple[Session, Repo]) -> None:
    s, repo = session
    b_uri = (repo.root / "b.py").as_uri()
    result = await s.execute("fuse-ls.reviewChanges", {"paths": ["b.py"]})
    assert result["units"] == 1
    [finding] = [f for f in result["findings"] if f["category"] == "security"]
    await s.execute(
        "fuse-ls.findingDecision",
        {"uri": b_uri, "findingId": finding["findingId"], "decision": "dismissed"},
    )
    after = await s.execute("fuse-ls.reviewChanges", {"paths": ["b.py"]})
    assert not [f for f in after["findings"] if f["category"] == "security"]
    assert security(s, b_uri) == []


async def test_cancel_stops_the_review_and_closes_streams(session: tuple[Session, Repo]) -> None:
    s, _ = session
    hang = [{"kind": "hang"}]
    s.emulator.set_script(script(faults={m: hang for m in ("emu/fast", "emu/mid", "emu/slow")}))
    running = s.execute_async("fuse-ls.reviewChanges", {})
    await wait_for(lambda: s.emulator.open_streams == 6, what="two units' streams")
    assert await s.execute("fuse-ls.cancel", {}) == {"cancelled": 1}
    result = await asyncio.wait_for(running, 5)
    assert result["cancelled"] is True
    await wait_for(lambda: s.emulator.open_streams == 0, within=3, what="streams closed")
    s.emulator.set_script(script())
    assert (await s.execute("fuse-ls.reviewChanges", {}))["units"] == 2  # still works


def progress_of(s: Session, title: str) -> list[object]:
    """The reports of the last work-done progress with this title."""
    found: list[object] = []
    for reports in s.client.progress_reports.values():
        begin = reports[0] if reports else None
        if isinstance(begin, types.WorkDoneProgressBegin) and begin.title == title:
            found = list(reports)
    return found


async def test_cancel_request_stops_that_review_alone_and_keeps_what_it_did_not_redo(
    session: tuple[Session, Repo],
) -> None:
    """What VS Code's "Fused review of changes" Cancel sends: `$/cancelRequest` for the
    review. A fusion in another file runs on; the progress ends; the files the cancelled
    review never reached keep the previous review's findings."""
    s, repo = session
    a_uri, b_uri = (repo.root / "a.py").as_uri(), (repo.root / "b.py").as_uri()
    both = {"paths": ["a.py", "b.py"]}
    assert (await s.execute("fuse-ls.reviewChanges", both))["units"] == 2
    assert security(s, a_uri) and security(s, b_uri)
    repo.write("a.py", A_NEW.replace("value = eval(text)", "value = eval(text.strip())"))
    hang = [{"kind": "hang"}]
    s.emulator.set_script(script(faults={m: hang for m in ("emu/fast", "emu/mid", "emu/slow")}))
    other = s.open("other.py")
    explaining = s.execute_async("fuse-ls.explain", {"uri": other}, msg_id="explain-1")
    await wait_for(lambda: s.emulator.open_streams == 3, what="the explanation's streams")
    running = s.execute_async("fuse-ls.reviewChanges", both, msg_id="changes-1")
    await wait_for(lambda: s.emulator.open_streams == 6, what="a.py's unit asking too")
    s.client.cancel_request(types.CancelParams(id="changes-1"))
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(running, 5)
    assert error.value.code == -32800
    await wait_for(lambda: s.emulator.open_streams == 3, what="the review's streams closed")
    await wait_for(
        lambda: isinstance(
            (progress_of(s, "Fused review of changes") or [None])[-1], types.WorkDoneProgressEnd
        ),
        what="the review's progress ended",
    )
    end = progress_of(s, "Fused review of changes")[-1]
    assert isinstance(end, types.WorkDoneProgressEnd) and end.message == "Cancelled"
    assert security(s, a_uri) and security(s, b_uri)  # nothing wiped by the cancel
    assert not explaining.done()  # the other file's fusion runs on
    assert await s.execute("fuse-ls.cancel", {"uri": other}) == {"cancelled": 1}
    assert (await asyncio.wait_for(explaining, 5))["cancelled"] is True


async def test_shutdown_during_a_change_review_ends_its_progress(
    session: tuple[Session, Repo],
) -> None:
    """`shutdown` while a change review runs is answered (it was an internal error: pygls
    cancels pending requests while iterating the dict their callbacks shrink), and the
    review ends its progress (the editor's notification goes away), not left spinning."""
    s, _ = session
    hang = [{"kind": "hang"}]
    s.emulator.set_script(script(faults={m: hang for m in ("emu/fast", "emu/mid", "emu/slow")}))
    s.execute_async("fuse-ls.reviewChanges", {})
    await wait_for(lambda: s.emulator.open_streams == 6, what="two units' streams")
    # shutdown, then exit: the server's answers (and its notifications before them) are in.
    await asyncio.wait_for(s.client.shutdown_session(), 10)
    s.client.capabilities = None  # the fixture's stop() need not shut it down again
    end = progress_of(s, "Fused review of changes")[-1]
    assert isinstance(end, types.WorkDoneProgressEnd) and end.message == "Cancelled"


async def test_git_problems_are_shown_not_fatal(session: tuple[Session, Repo]) -> None:
    s, _ = session
    result = await s.execute("fuse-ls.reviewChanges", {"scope": "diff", "base": "nope"})
    assert "Unknown revision 'nope'" in result["error"]
    await wait_for(lambda: any("nope" in m for m in s.messages(types.MessageType.Error)))
    with pytest.raises(JsonRpcInvalidParams, match="'scope' must be one of"):
        await s.execute("fuse-ls.reviewChanges", {"scope": "everything"})
    with pytest.raises(JsonRpcInvalidParams, match="holds a NUL character"):
        await s.execute("fuse-ls.reviewChanges", {"paths": ["src\u0000"]})
    assert (await s.execute("fuse-ls.reviewChanges", {}))["units"] == 2  # the server lives


async def test_cached_units_show_at_once_while_others_run(session: tuple[Session, Repo]) -> None:
    s, repo = session
    b_uri = (repo.root / "b.py").as_uri()
    await s.execute("fuse-ls.reviewChanges", {"paths": ["b.py"]})  # b.py is now cached
    s.client.diagnostics.clear()
    hang = [{"kind": "hang"}]
    s.emulator.set_script(script(faults={m: hang for m in ("emu/fast", "emu/mid", "emu/slow")}))
    running = s.execute_async("fuse-ls.reviewChanges", {})
    # a.py's unit hangs; b.py's cached findings are already published.
    await wait_for(lambda: s.emulator.open_streams == 3, what="a.py's unit asking")
    await wait_for(lambda: security(s, b_uri), what="b.py's cached findings")
    assert not running.done()
    await s.execute("fuse-ls.cancel", {})
    assert (await asyncio.wait_for(running, 5))["cancelled"] is True


async def test_provisional_answers_show_then_go_with_the_run(
    session: tuple[Session, Repo],
) -> None:
    s, repo = session
    b_uri = (repo.root / "b.py").as_uri()
    hang = [{"kind": "hang"}]
    s.emulator.set_script(script(faults={m: hang for m in ("emu/mid", "emu/slow")}))
    running = s.execute_async("fuse-ls.reviewChanges", {"paths": ["b.py"]})

    def provisional() -> list[types.Diagnostic]:
        return [
            d
            for d in security(s, b_uri)
            if isinstance(d.data, dict) and d.data.get("provisional") is True
        ]

    # emu/fast answered; the unit waits for the other two: its finding shows, provisional.
    found = await wait_for(provisional, what="a provisional finding")
    assert found[0].range.start.line == 1 and "1/3" in found[0].message + str(found[0].data)
    assert not running.done()
    await s.execute("fuse-ls.cancel", {})
    assert (await asyncio.wait_for(running, 5))["cancelled"] is True
    await wait_for(lambda: not provisional(), what="provisional findings withdrawn")


async def test_findings_in_an_unopened_file_saved_over_during_the_run_land_on_its_code(
    session: tuple[Session, Repo],
) -> None:
    """A file no editor has open is read when an answer or result is placed, and read
    again only once it changed on disk (saved from outside while the models think):
    every answer landed on its code before, the kept text must too."""
    s, repo = session
    b_uri = (repo.root / "b.py").as_uri()
    s.emulator.set_script(script(fast=20, mid=1500, slow=4000))
    running = s.execute_async("fuse-ls.reviewChanges", {"paths": ["b.py"]})

    def lines(provisional: bool) -> list[int]:
        return [
            d.range.start.line
            for d in security(s, b_uri)
            if isinstance(d.data, dict) and d.data.get("provisional") is provisional
        ]

    await wait_for(lambda: lines(True) == [1], what="emu/fast's finding on eval, line 1")
    b_saved = "# saved from outside\n# during the review\n" + (repo.root / "b.py").read_text()
    (repo.root / "b.py").write_text(b_saved)
    # emu/mid's answer is placed on the file as it is now: eval is on line 3.
    await wait_for(lambda: lines(True) == [3], within=30, what="the answers on the new text")
    result = await asyncio.wait_for(running, 30)
    assert result["units"] == 1 and not result["failedUnits"], result
    assert lines(False) == [3] and lines(True) == []


async def test_the_review_reads_open_buffers_unsaved_edits_included(
    session: tuple[Session, Repo],
) -> None:
    """The editor's change review is of what the user sees: an open buffer's unsaved
    text stands in for the file, its changed lines are taken against the base again,
    and a file changed only in its buffer is part of the change."""
    s, repo = session
    repo.write("c.py", B_BASE)  # clean on disk; only its buffer will change
    repo.git("add", "c.py")
    repo.git("commit", "-q", "-m", "c")
    a_uri = s.open("a.py", A_NEW)
    s.edit(a_uri, (0, 0), (0, 0), "# unsaved header\n# second line\n")  # eval moves to 6
    c_uri = s.open("c.py", B_BASE)
    s.edit(c_uri, (1, 11), (1, 15), "eval(path)")  # `return eval(path)`, never saved
    result = await s.execute("fuse-ls.reviewChanges", {"paths": ["a.py", "c.py"]})
    assert result["units"] == 2 and not result["failedUnits"]
    assert [d.range.start.line for d in security(s, a_uri)] == [6]
    assert [d.range.start.line for d in security(s, c_uri)] == [1]
    sent = [str(r.body) for r in s.emulator.requests if r.path.endswith("/chat/completions")]
    assert any("# unsaved header" in body for body in sent)
    assert any("return eval(path)" in body and "c.py" in body for body in sent)
    assert (repo.root / "c.py").read_text() == B_BASE  # nothing was saved for the user
    # The findings are anchored on the buffer's version: they follow its next edit.
    s.edit(a_uri, (0, 0), (0, 0), "# third\n")
    await wait_for(lambda: [d.range.start.line for d in security(s, a_uri)] == [7])


async def test_a_change_finding_says_when_a_pool_member_did_not_answer(
    session: tuple[Session, Repo],
) -> None:
    s, _ = session
    s.emulator.set_script(script(faults={"emu/slow": [{"kind": "http", "status": 401}]}))
    uri = s.open("a.py", A_NEW)
    result = await s.execute("fuse-ls.reviewChanges", {"paths": ["a.py"]})
    assert result["units"] == 1
    [diag] = security(s, uri)
    # Both that answered agree; the third failed, which "2/2" alone would hide.
    assert diag.message.endswith("(2/2 models; 1 of 3 did not answer)")
    assert (diag.data["votes"], diag.data["poolSize"], diag.data["didNotAnswer"]) == (2, 2, 1)


C_BASE = "def old(t):\n    return eval(t)\n\n\ndef load(text):\n    return text\n"
C_NEW = C_BASE.replace("    return text\n", "    value = eval(text)\n    return value\n")


def lines_and_reviews(s: Session, uri: str) -> list[tuple[int, str]]:
    """(line, which review) per security diagnostic published for the file."""
    return sorted(
        (d.range.start.line, "changes" if d.data["fusionId"].startswith("changes-") else "review")
        for d in security(s, uri)
    )


async def test_a_change_review_after_a_file_review_shows_each_finding_once(
    session: tuple[Session, Repo],
) -> None:
    """Review a file, then review its change: the change review's findings replace the
    file review's on the lines it covers (the changed function); the file review's
    findings elsewhere stay. Neovim showed both reviews' finding on the changed line."""
    s, repo = session
    repo.write("c.py", C_BASE)
    repo.commit("c")
    uri = s.open("c.py", C_NEW)
    await s.execute("fuse-ls.review", {"uri": uri})
    assert lines_and_reviews(s, uri) == [(1, "review"), (5, "review")]

    result = await s.execute("fuse-ls.reviewChanges", {"paths": ["c.py"]})
    assert result["units"] == 1
    assert lines_and_reviews(s, uri) == [(1, "review"), (5, "changes")]
    diagnostics = s.diagnostics(uri)
    shown = [(d.range.start.line, d.range.end.line, d.message) for d in diagnostics]
    assert len(shown) == len(set(shown))

    # And the other way round: a review of the changed function replaces the change
    # review's finding there.
    selected = {"start": {"line": 4, "character": 0}, "end": {"line": 7, "character": 0}}
    await s.execute("fuse-ls.review", {"uri": uri, "range": selected})
    assert lines_and_reviews(s, uri) == [(1, "review"), (5, "review")]
