"""The language server under bad input and a bad environment (issue 10 items 7 and 8).

A lone surrogate in a document, and a data directory that cannot be written: the fusion
still answers, and no message echoes prompts or code.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types

from fuse_ls.emulator import Emulator
from tests.server.conftest import Session, script, start_session

LONE = "\ud800"
SOURCE = (
    "import json\n"
    "\n"
    "\n"
    "def load(text):\n"
    "    value = eval(text)\n"
    f"    marker = 'SECRET-LOOKING-CODE-{LONE}-MARKER'\n"
    "    return value\n"
)


def _open(session: Session, text: str) -> str:
    """didOpen without writing the file: a lone surrogate cannot be written as UTF-8."""
    uri = (session.workspace / "app.py").as_uri()
    session.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )
    return uri


def _everything_shown(session: Session) -> list[str]:
    shown = [m.message for m in session.client.messages]
    for reports in session.client.progress_reports.values():
        for report in reports:
            message = getattr(report, "message", None)
            if message:
                shown.append(message)
    shown += [str(s) for s in session.recorder.fusion_status]
    return shown


@pytest_asyncio.fixture
async def fine(emulator_factory: Callable[..., Emulator], tmp_path: Path) -> AsyncIterator[Session]:
    session, stop = await start_session("visual-studio-code", emulator_factory(script()), tmp_path)
    yield session
    await stop()


@pytest.mark.parametrize("command", ["fuse-ls.review", "fuse-ls.explain", "fuse-ls.fix"])
async def test_a_lone_surrogate_in_the_document_is_sent_safely(fine: Session, command: str) -> None:
    uri = _open(fine, SOURCE)
    result = await fine.execute(command, {"uri": uri})
    assert "error" not in result, result
    sent = [r for r in fine.emulator.requests if r.model.startswith("emu/")]
    assert sent and all(r.status == 200 for r in sent)
    user = sent[0].body["messages"][-1]["content"]
    assert "SECRET-LOOKING-CODE-\ufffd-MARKER" in user
    for text in _everything_shown(fine):
        assert "SECRET-LOOKING-CODE" not in text and "def load" not in text, text


@pytest.mark.parametrize("where", ["a file", "under /sys"])
async def test_an_unwritable_data_dir_never_loses_a_paid_explanation(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, where: str
) -> None:
    if where == "a file":
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("a file where the data dir should be")
        data_dir = blocker / "data"  # NotADirectoryError
    else:
        if not sys.platform.startswith("linux"):
            pytest.skip("needs Linux sysfs, where nobody (root included) may create files")
        data_dir = Path("/sys/kernel/fuse-ls-test-data")  # PermissionError, even for root
    emu = emulator_factory(script())
    session, stop = await start_session("visual-studio-code", emu, tmp_path, data_dir=data_dir)
    try:
        uri = _open(session, SOURCE.replace(LONE, "x"))
        result = await session.execute("fuse-ls.explain", {"uri": uri})
        assert "error" not in result, result
        assert "It evaluates the text with eval()." in result["markdown"]
        assert result["documentUri"] is None
        assert any("could not be saved" in n for n in result["notes"])
        warnings = session.messages(types.MessageType.Warning)
        assert any("could not be saved" in w and "data_dir" in w for w in warnings), warnings
        # The hover still has it, and a review works too.
        hover = await session.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=4, character=10),
            )
        )
        assert hover is not None and "eval()" in str(hover.contents)
        review = await session.execute("fuse-ls.review", {"uri": uri})
        assert "error" not in review and review["findings"]
    finally:
        await stop()
