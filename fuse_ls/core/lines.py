"""The one line model of fuse-ls: the editor's.

LSP counts only `\\r\\n`, `\\r` and `\\n` as line breaks. `str.splitlines` also splits on
form feed, U+2028 and friends, so any code that numbers or slices lines with it drifts
from what the editor shows after such a character. Every line split in fuse-ls goes
through here.
"""

from __future__ import annotations

import re

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_BREAK = re.compile(r"\r\n|\r|\n")


def split_keepends(text: str) -> list[str]:
    """The lines of `text`, each with its own line break (the last may have none)."""
    return _LINE.findall(text)


def split_lines(text: str) -> list[str]:
    """The lines of `text` without their breaks; like `str.splitlines()` for LSP breaks."""
    if not text:
        return []
    parts = _BREAK.split(text)
    if parts[-1] == "":  # a final break ends the last line, it starts no new one
        parts.pop()
    return parts


def line_count(text: str) -> int:
    """How many lines `text` has (a final line break starts no new line)."""
    return len(split_keepends(text))
