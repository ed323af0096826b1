"""Where a change review's findings go: the reviewed text of a file, mapped onto the file
as it is when a result arrives.

A change review reads every changed file at its start and takes minutes; meanwhile the
user edits. The review logs the edits of the open documents it read (`EditLogs`), and
each result is placed through them (`Placing`), so a finding lands on its code or, when
that code was rewritten, not at all. Where the edits in between are unknown (a file
opened, closed or saved over while the review ran, or the index's text under review),
one whole-document change stands for them: findings are found again by their text.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Sequence
from pathlib import Path

from attrs import frozen
from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec

from fuse_ls.server.anchors import Snapshot, record
from fuse_ls.server.base import Change, ServerBase, doc_key


class EditLogs:
    """The edits of some open documents since their texts were read."""

    def __init__(self) -> None:
        self._logs: dict[str, tuple[str, list[Change]]] = {}  # doc key -> (text read, edits)

    def start(self, key: str, text: str) -> None:
        self._logs[key] = (text, [])

    def keep(self, keys: Collection[str]) -> None:
        """Stop logging documents other than these."""
        self._logs = {k: v for k, v in self._logs.items() if k in keys}

    def changed(self, key: str, changes: Sequence[Change]) -> None:
        logged = self._logs.get(key)
        if logged is not None:
            record(logged[1], changes)

    def closed(self, key: str) -> None:
        # Its edits from now on are the file's business: findings are placed by its text.
        self._logs.pop(key, None)

    def since(self, key: str, text: str) -> Sequence[Change] | None:
        """The edits since the document read as `text`; None when not known."""
        logged = self._logs.get(key)
        return logged[1] if logged is not None and logged[0] == text else None


class FileTexts:
    """The texts a change review places its findings on, kept for the run: the reviewed
    text of each file, and a file's on disk when no editor has it open. Each unit's
    result and each model's answer is placed; reading and splitting the file each time
    cost a disk read on the event loop per answer. A file is read again only when it
    changed on disk since (saved from outside while the review ran)."""

    def __init__(self) -> None:
        self._reviewed: dict[str, Snapshot] = {}  # doc key -> the text reviewed
        self._disk: dict[Path, tuple[tuple[int, ...], Snapshot | None]] = {}

    def reviewed(self, key: str, text: str, codec: PositionCodec) -> Snapshot:
        then = self._reviewed.get(key)
        if then is None or then.text is not text:
            then = self._reviewed[key] = Snapshot(key, text, None, codec)
        return then

    def on_disk(self, key: str, path: Path, codec: PositionCodec) -> Snapshot | None:
        """The file's text now, or None when it is gone, unreadable, not a regular file or
        far larger than any file a change review reads."""
        try:
            st = path.stat()
        except OSError:
            self._disk.pop(path, None)
            return None
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        kept = self._disk.get(path)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        text = _read(path)
        now = None if text is None else Snapshot(key, text, None, codec)
        self._disk[path] = (stamp, now)
        return now


@frozen
class Placing:
    """How a reviewed file's lines map onto its text now: the edits from `then` to `now`."""

    then: Snapshot
    now: Snapshot
    edits: Sequence[Change]


def place(
    server: ServerBase, uri: str, path: Path, text: str, logs: EditLogs, texts: FileTexts
) -> Placing | None:
    """Where `text`, reviewed as the content of `uri`, is now; None when the file is gone."""
    key = doc_key(uri)
    codec = server.workspace.position_codec
    then = texts.reviewed(key, text, codec)
    if server.document(key) is not None:
        now = server.snapshot(key)
        edits = logs.since(key, text)
        if edits is not None:
            return Placing(then, now, edits)
    else:
        on_disk = texts.on_disk(key, path, codec)
        if on_disk is None:
            return None
        now = on_disk
    if now.text == text:
        return Placing(then, now, ())
    return Placing(then, now, (types.TextDocumentContentChangeWholeDocument(text=now.text),))


# A change review reads no changed file over 2 MB (changes/git.py); twice that is surely
# not the file it reviewed. A file swapped in while the models think was read whole on
# the event loop: a sparse multi-gigabyte one (free to make) took gigabytes of memory.
MAX_PLACED_BYTES = 4 * 1024 * 1024


def _read(path: Path) -> str | None:
    """A file's text as the change reader takes it (line breaks as they are), or None when
    it is not a regular file of at most MAX_PLACED_BYTES (or not UTF-8, or unreadable)."""
    try:
        # Non-blocking: opening a FIFO to read waits for a writer, and this runs on the
        # server's event loop. What was opened is what is checked (no race with a swap).
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            raw = handle.read(MAX_PLACED_BYTES + 1)
        if len(raw) > MAX_PLACED_BYTES:
            return None
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
