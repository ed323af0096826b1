"""Ranges that stay true while the document changes under them.

A fusion is computed on one version of a document, but the user keeps typing while the
models think, and a published diagnostic lives on across later edits. Every range the
server hands out (diagnostics, fixes, explained ranges) is therefore kept as an
`Anchor`: the range plus the text it covered. Edits move an anchor when they happen
before it and drop it when they touch its text, so the server never points at the wrong
code. This module is pure: no LSP I/O, no server state.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence

from attrs import evolve, frozen
from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from fuse_ls.core.lines import split_keepends

Units = Callable[[str], int]
_NEWLINE = re.compile(r"\r\n|\r|\n")


@frozen
class Anchor:
    """A range plus the exact text it covered when the range was computed."""

    range: types.Range
    text: str


def pos(p: types.Position) -> tuple[int, int]:
    return (p.line, p.character)


def copy_range(r: types.Range) -> types.Range:
    # lsprotocol's classes are mutable and pygls' codec mutates positions it clamps;
    # copies keep a published range from changing behind the server's back.
    return types.Range(
        start=types.Position(line=r.start.line, character=r.start.character),
        end=types.Position(line=r.end.line, character=r.end.character),
    )


class Snapshot:
    """One immutable version of a document's text, with LSP position helpers.

    Offsets come from a table of line starts built once, because pygls' TextDocument
    re-splits the whole text on every position conversion.
    """

    def __init__(self, uri: str, text: str, version: int | None, codec: PositionCodec) -> None:
        self.uri = uri
        self.text = text
        self.version = version
        self.codec = codec
        # The editor's lines: a form feed or U+2028 inside a line starts no new one.
        self._with_ends: Sequence[str] = split_keepends(text)
        self.lines: Sequence[str] = [line.rstrip("\r\n") for line in self._with_ends]
        self._starts = [0]
        for line in self._with_ends:
            self._starts.append(self._starts[-1] + len(line))

    @property
    def line_count(self) -> int:
        return len(self.lines)

    def units(self, s: str) -> int:
        if s.isascii():  # one unit a character in every encoding; the codec counts slowly
            return len(s)
        return int(self.codec.client_num_units(s))

    def contains(self, r: types.Range) -> bool:
        """Whether both ends of `r` lie inside this text (the end may be one past the end)."""
        for p in (r.start, r.end):
            if p.line < 0 or p.character < 0:
                return False
            if p.line > self.line_count or (p.line == self.line_count and p.character > 0):
                return False
            if p.line < self.line_count and p.character > self.units(self.lines[p.line]):
                return False
        return pos(r.start) <= pos(r.end)

    def offset_at(self, p: types.Position) -> int:
        if p.line >= self.line_count:
            return len(self.text)
        line = self.lines[p.line]
        if line.isascii():
            return self._starts[p.line] + min(max(p.character, 0), len(line))
        # The codec clamps (and mutates) what it is given: hand it a copy.
        server = self.codec.position_from_client_units(
            [line], types.Position(line=0, character=p.character)
        )
        return self._starts[p.line] + int(server.character)

    def position_at(self, offset: int) -> types.Position:
        line = max(bisect.bisect_right(self._starts, offset) - 1, 0)
        if line >= self.line_count:
            return types.Position(line=self.line_count, character=0)
        column = offset - self._starts[line]
        return types.Position(line=line, character=self.units(self._with_ends[line][:column]))

    def text_in(self, r: types.Range) -> str:
        return self.text[self.offset_at(r.start) : self.offset_at(r.end)]

    def line_range(self, start_line: int, end_line: int) -> types.Range | None:
        """The LSP range of 1-based inclusive lines, clamped to the text; None if outside."""
        if self.line_count == 0 or start_line > self.line_count or end_line < 1:
            return None
        first = max(start_line, 1) - 1
        last = min(max(end_line, start_line), self.line_count) - 1
        return types.Range(
            start=types.Position(line=first, character=0),
            end=types.Position(line=last, character=self.units(self.lines[last])),
        )

    def anchor(self, r: types.Range) -> Anchor:
        return Anchor(range=copy_range(r), text=self.text_in(r))

    @property
    def whole(self) -> types.Range:
        return types.Range(
            start=types.Position(line=0, character=0), end=self.position_at(len(self.text))
        )


def _end_of_insert(start: types.Position, new_text: str, units: Units) -> tuple[int, int]:
    pieces = _NEWLINE.split(new_text)
    if len(pieces) == 1:
        return (start.line, start.character + units(pieces[0]))
    return (start.line + len(pieces) - 1, units(pieces[-1]))


def _shift(p: types.Position, old_end: types.Position, new_end: tuple[int, int]) -> types.Position:
    if p.line == old_end.line:
        return types.Position(
            line=new_end[0], character=new_end[1] + p.character - old_end.character
        )
    return types.Position(line=p.line + new_end[0] - old_end.line, character=p.character)


Pos = tuple[int, int]
# One change, worked out once for every anchor it moves: its start, its end, and where
# the text it inserted ends.
Step = tuple[Pos, Pos, Pos]


def _move(start: Pos, end: Pos, steps: Sequence[Step]) -> tuple[Pos, Pos] | None:
    """Where start..end is after the steps; None once one touched it.

    A change that ends where the range starts (typing just before it) moves the range;
    one that starts where it ends (typing just after it) leaves it alone.
    """
    for change_start, change_end, new_end in steps:
        if change_end <= start:
            # Written out (no helper call): this loop is the cost of placing findings.
            if change_end[0] == start[0]:
                start = (new_end[0], new_end[1] + start[1] - change_end[1])
            elif change_end[0] != new_end[0]:
                start = (start[0] + new_end[0] - change_end[0], start[1])
            if change_end[0] == end[0]:
                end = (new_end[0], new_end[1] + end[1] - change_end[1])
            elif change_end[0] != new_end[0]:
                end = (end[0] + new_end[0] - change_end[0], end[1])
        elif change_start < end:
            return None
    return start, end


def relocate(anchor: Anchor, now: Snapshot) -> Anchor | None:
    """Find the anchor's text in a wholly replaced document, nearest its old line."""
    if not anchor.text:
        return None
    best: tuple[int, int] | None = None  # (distance in lines, offset)
    start = now.text.find(anchor.text)
    while start != -1:
        line = now.text.count("\n", 0, start)
        distance = abs(line - anchor.range.start.line)
        if best is None or distance < best[0]:
            best = (distance, start)
        start = now.text.find(anchor.text, start + 1)
    if best is None:
        return None
    offset = best[1]
    moved = types.Range(
        start=now.position_at(offset), end=now.position_at(offset + len(anchor.text))
    )
    return evolve(anchor, range=moved)


def unknown(changes: Sequence[types.TextDocumentContentChangeEvent]) -> bool:
    """Whether `changes` say nothing usable about where old text went: a whole-document
    replacement, or a range whose end is before its start (which LSP does not define)."""
    return any(
        isinstance(c, types.TextDocumentContentChangeWholeDocument)
        or pos(c.range.end) < pos(c.range.start)
        for c in changes
    )


class Mover:
    """Moves anchors through `changes` (in order) that produced `now`.

    Each change's arithmetic is done once, and an anchor's way through them is plain
    tuple comparisons: placing a review's findings after the user typed through it costs
    (changes + findings x logged changes) steps of a few hundred nanoseconds.
    """

    def __init__(
        self, changes: Sequence[types.TextDocumentContentChangeEvent], now: Snapshot
    ) -> None:
        self.now = now
        self.relocating = unknown(changes)
        self.steps: list[Step] = []
        if not self.relocating:
            for c in changes:
                assert isinstance(c, types.TextDocumentContentChangePartial)
                start = c.range.start
                self.steps.append(
                    (pos(start), pos(c.range.end), _end_of_insert(start, c.text, now.units))
                )

    def __call__(self, anchor: Anchor) -> Anchor | None:
        """The anchor on `now`; None when its text is gone.

        Whatever the path, the result is checked against the current text, so a bug in
        the arithmetic can drop a diagnostic but never misplace one.
        """
        now = self.now
        moved: Anchor | None
        if self.relocating:
            moved = relocate(anchor, now)
        elif not self.steps:
            moved = anchor
        else:
            r = anchor.range
            ends = _move(pos(r.start), pos(r.end), self.steps)
            if ends is None:
                return None
            (sl, sc), (el, ec) = ends
            moved = evolve(
                anchor,
                range=types.Range(
                    start=types.Position(line=sl, character=sc),
                    end=types.Position(line=el, character=ec),
                ),
            )
        if (
            moved is None
            or not now.contains(moved.range)
            or now.text_in(moved.range) != anchor.text
        ):
            return None
        return moved


def track(
    anchor: Anchor,
    changes: Sequence[types.TextDocumentContentChangeEvent],
    now: Snapshot,
) -> Anchor | None:
    """The anchor after `changes` (in order) produced `now`; None when its text is gone."""
    return Mover(changes, now)(anchor)


def _move_position(
    p: types.Position, change: types.Range, new_text: str, units: Units
) -> types.Position:
    if pos(p) <= pos(change.start):
        return p
    new_end = _end_of_insert(change.start, new_text, units)
    if pos(p) < pos(change.end):
        return types.Position(line=new_end[0], character=new_end[1])
    return _shift(p, change.end, new_end)


def track_span(
    span: types.Range,
    changes: Sequence[types.TextDocumentContentChangeEvent],
    now: Snapshot,
    then: Snapshot | None = None,
) -> types.Range:
    """Where a region is after `changes`, growing or shrinking with edits inside it.

    Unlike `track`, the region survives edits to its text: this is for "the lines that were
    reviewed", not for something that must still point at the same code. After a whole
    document replacement it is where its text (on `then`) is found again, else the whole.
    """
    if unknown(changes):
        found = relocate(then.anchor(span), now) if then is not None else None
        return now.whole if found is None else found.range
    start, end = span.start, span.end
    for change in changes:
        assert isinstance(change, types.TextDocumentContentChangePartial)
        start = _move_position(start, change.range, change.text, now.units)
        end = _move_position(end, change.range, change.text, now.units)
    return types.Range(start=start, end=end)


def _ascii_line(text: str) -> bool:
    # Where a column count is the same in every position encoding (and no line break).
    return text.isascii() and "\n" not in text and "\r" not in text


def _coalesced(
    last: types.TextDocumentContentChangePartial, new: types.TextDocumentContentChangePartial
) -> types.TextDocumentContentChangePartial | None:
    """One change doing what `last` then `new` do, for typing and backspacing at one place;
    None when they are not of that shape."""
    if not (_ascii_line(last.text) and _ascii_line(new.text)) or unknown([new]):
        return None
    start = last.range.start
    typed_end = (start.line, start.character + len(last.text))
    if pos(new.range.start) == typed_end and pos(new.range.end) == typed_end:
        return types.TextDocumentContentChangePartial(range=last.range, text=last.text + new.text)
    if new.text or pos(new.range.end) != typed_end or new.range.start.line != start.line:
        return None
    if new.range.start.character >= start.character:  # backspace inside what was typed
        kept = last.text[: new.range.start.character - start.character]
        return types.TextDocumentContentChangePartial(range=last.range, text=kept)
    # Backspace past it: the characters before it were there before `last` too.
    return types.TextDocumentContentChangePartial(
        range=types.Range(start=new.range.start, end=last.range.end), text=""
    )


def record(
    log: list[types.TextDocumentContentChangeEvent],
    changes: Sequence[types.TextDocumentContentChangeEvent],
) -> None:
    """Append `changes` to an edit log, merging keystrokes at one place into one change.

    Mapping a finding costs one step per logged change, so a review that ran while the
    user typed a paragraph maps through a handful of changes, not one per key.
    """
    for change in changes:
        if isinstance(change, types.TextDocumentContentChangeWholeDocument):
            # Nothing before it matters for where a text is found again in it.
            log[:] = [change]
            continue
        last = log[-1] if log else None
        merged = (
            _coalesced(last, change)
            if isinstance(last, types.TextDocumentContentChangePartial)
            else None
        )
        if merged is None:
            log.append(change)
        else:
            log[-1] = merged
