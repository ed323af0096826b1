"""The edit log a review keeps while it runs (anchors.record): keystrokes at one place
merge into one change, and findings map through the merged log exactly as through the
keystrokes."""

from __future__ import annotations

import random

from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from fuse_ls.server.anchors import Snapshot, record, track
from tests.lsp_sample import SOURCE

Change = types.TextDocumentContentChangeEvent


def change(sl: int, sc: int, el: int, ec: int, text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(
        range=types.Range(
            start=types.Position(line=sl, character=sc), end=types.Position(line=el, character=ec)
        ),
        text=text,
    )


def session(seed: int) -> list[Change]:
    """A user typing: runs of keys and backspaces at a cursor, newlines now and then, and
    the cursor jumping elsewhere between runs."""
    rng = random.Random(seed)
    doc = TextDocument("file:///a.py", SOURCE)
    out: list[Change] = []
    for _ in range(40):
        line = rng.randrange(len(doc.lines))
        col = rng.randrange(len(doc.lines[line].rstrip("\n")) + 1)
        typed = 0
        for _ in range(rng.randrange(1, 12)):
            roll = rng.random()
            if roll < 0.6:
                c = change(line, col, line, col, rng.choice("abc xyz_()"))
                col, typed = col + 1, typed + 1
            elif roll < 0.85 and col > 0:
                c = change(line, col - 1, line, col, "")
                col, typed = col - 1, typed - 1
            elif roll < 0.9:
                c = change(line, col, line, col, "\n")
                line, col = line + 1, 0
            else:
                c = change(line, col, line, col, "é")  # not merged: width depends on encoding
                col += 1
            doc.apply_change(c)
            out.append(c)
    return out


def applied(changes: list[Change]) -> str:
    doc = TextDocument("file:///a.py", SOURCE)
    for c in changes:
        doc.apply_change(c)
    return doc.source


def test_merged_keystrokes_make_the_same_text_and_move_findings_the_same() -> None:
    codec = PositionCodec()
    then = Snapshot("a", SOURCE, 1, codec)
    anchors = [
        then.anchor(r) for n in range(then.line_count) if (r := then.line_range(n + 1, n + 1))
    ]
    for seed in range(30):
        keys = session(seed)
        log: list[Change] = []
        for c in keys:
            record(log, [c])
        assert len(log) < len(keys)
        assert applied(log) == applied(keys)
        now = Snapshot("a", applied(keys), 2, codec)
        assert [track(a, log, now) for a in anchors] == [track(a, keys, now) for a in anchors]


def test_typing_a_paragraph_is_one_change() -> None:
    log: list[Change] = []
    for n, ch in enumerate("a docstring, typed and partly fixed"):
        record(log, [change(2, n, 2, n, ch)])
    record(log, [change(2, 34, 2, 35, "")])  # backspace
    assert len(log) == 1
    assert applied(log).splitlines()[2] == "a docstring, typed and partly fixe"
