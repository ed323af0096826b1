"""Text that is safe to send, store, print and show, whatever an editor or a model gave us.

Python strings may hold lone UTF-16 surrogates (an editor sends `"\\ud800"` in JSON-RPC,
a model answers with one in a JSON escape); they cannot be encoded as UTF-8, so the
first HTTP body, file write or terminal print that meets one fails. They are replaced
with U+FFFD once, where text enters.
"""

from __future__ import annotations

import re

from fuse_ls.core.errors import visible as escaped


def clean(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (valid pairs are joined)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # UTF-16 with surrogatepass joins a high+low pair into one character and leaves
        # only the unpaired halves for "replace".
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


# C0 controls except tab, line feed, vertical tab, form feed and carriage return (code
# and line endings need those), DEL, and the C1 controls (U+009B is a CSI to some
# terminals).
_CONTROLS = dict.fromkeys([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0)])


def printable(text: str) -> str:
    """`clean(text)` without control characters: what a model or a server sends is printed
    in terminals, where ESC starts a command (clear the screen, retitle the window, write
    the clipboard with OSC 52, hide text), and shown in editors, SARIF viewers and logs."""
    return clean(text).translate(_CONTROLS)


def visible(text: str) -> str:
    """`text` for one line of a terminal, with every control character (newlines and tabs
    too) written as an escape: a file name is shown as it is, never run as a command."""
    return escaped(clean(text))


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")
_ACTIVE = re.compile(r"!\[|<(?=[A-Za-z/!?])")


def _inert_prose(text: str) -> str:
    return _ACTIVE.sub(lambda m: "!\\[" if m[0] == "![" else "&lt;", text)


def inert_markdown(text: str) -> str:
    """Markdown a model wrote, with nothing an editor would load by itself: an image
    (`![](https://host/?data)`) or raw HTML (`<img src=...>`) fetches from that host when
    the preview or hover shows it, so a prompt injection could make it a beacon carrying
    code. Both are shown as text; code spans and fenced blocks are left as they are."""
    out: list[str] = []
    fence = ""
    for line in text.splitlines(keepends=True):
        opened = _FENCE.match(line)
        if fence:
            closes = (
                opened is not None and opened[1][0] == fence[0] and len(opened[1]) >= len(fence)
            )
            if closes and not line.strip().strip(fence[0]):
                fence = ""
            out.append(line)
            continue
        if opened:
            fence = opened[1]
            out.append(line)
            continue
        parts, last = [], 0
        for span in _CODE_SPAN.finditer(line):
            parts += [_inert_prose(line[last : span.start()]), span[0]]
            last = span.end()
        out.append("".join([*parts, _inert_prose(line[last:])]))
    return "".join(out)


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + "…"


def error_text(exc: BaseException) -> str:
    """A description of an unexpected exception fit for a user-visible message.

    Never `repr(exc)` or its arguments: a UnicodeEncodeError carries the whole string it
    failed on (a prompt full of code), and other exceptions may carry code or answers.
    """
    return f"{type(exc).__name__} (details in the log)"
