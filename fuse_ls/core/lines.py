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


def keep_blank_edges(replacement: str, original: str) -> str:
    """`replacement` for the whole lines `original`, with the blank lines that open or
    close `original` put back where the replacement has fewer of them.

    Models trim the blank edges of code they rewrite, so a fix of a selection that takes
    in the blank line after a function (a paragraph selection) would delete the blank
    line between two definitions. A replacement that is blank itself (a deletion) is
    taken as it is. Keeps the convention of the callers: a final line break ends the
    replacement's last line.
    """
    old, new = split_lines(original), split_lines(replacement)
    if not any(line.strip() for line in old) or not any(line.strip() for line in new):
        return replacement
    head = max(0, _blank_run(old) - _blank_run(new))
    tail = max(0, _blank_run(old[::-1]) - _blank_run(new[::-1]))
    if not head and not tail:
        return replacement
    body = replacement if not tail or replacement.endswith(("\n", "\r")) else replacement + "\n"
    before = "".join(line + "\n" for line in old[:head])
    after = "".join(line + "\n" for line in old[len(old) - tail :]) if tail else ""
    return before + body + after


def _blank_run(lines: list[str]) -> int:
    """How many of `lines`, from the first, are blank."""
    return next((i for i, line in enumerate(lines) if line.strip()), len(lines))
