"""Text that is safe to send, store, print and show, whatever an editor or a model gave us.

Python strings may hold lone UTF-16 surrogates (an editor sends `"\\ud800"` in JSON-RPC,
a model answers with one in a JSON escape); they cannot be encoded as UTF-8, so the
first HTTP body, file write or terminal print that meets one fails. They are replaced
with U+FFFD once, where text enters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

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


def visible_lines(text: str) -> str:
    """`visible` for each line of a message of several lines: its line breaks kept, every
    other control character (ESC, a bidi override) written as an escape."""
    return "\n".join(visible(line) for line in text.split("\n"))


# Unicode's bidirectional formatting characters (UAX #9): the embeddings and overrides
# U+202A-U+202E, the isolates U+2066-U+2069 and the marks U+200E, U+200F and U+061C.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_BIDI_SHOWN = {ord(char): f"<U+{ord(char):04X}>" for char in BIDI_CONTROLS}

T = TypeVar("T")


def bidi_shown(text: str) -> str:
    """`text` with every bidi control written as `<U+202E>`. Shown raw, they reorder what a
    terminal displays (Trojan Source, CVE-2021-42574): a fused fix whose code reads one
    way on screen and runs another, a finding that reads as its opposite. For people
    only: `--json` and the code a fix writes keep them as the model wrote them."""
    return text.translate(_BIDI_SHOWN)


def bidi_shown_in(value: T) -> T:
    """`value` (a result: attrs classes, tuples, lists, dicts of them) with `bidi_shown` on
    every string in it: what a terminal shows of it, never what is written or sent."""
    shown: Any = value
    if isinstance(shown, str):
        shown = bidi_shown(shown)
    elif attrs.has(type(shown)):
        changes = {
            field.alias: bidi_shown_in(getattr(shown, field.name))
            for field in attrs.fields(type(shown))
            if field.init
        }
        shown = attrs.evolve(shown, **changes)
    elif isinstance(shown, tuple | list):
        items = [bidi_shown_in(item) for item in shown]
        shown = type(shown)(*items) if hasattr(shown, "_fields") else type(shown)(items)
    elif isinstance(shown, dict):
        shown = {bidi_shown_in(k): bidi_shown_in(v) for k, v in shown.items()}
    return shown  # type: ignore[no-any-return]


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_BACKTICKS = re.compile(r"`+")
# What may follow the `<` of raw HTML or an autolink (`<https://...>`, an address
# `<1x@host>`); `a < b` stays as written.
_TAG_START = re.compile(r"[A-Za-z0-9/!?.#$%&'*+=^_`{|}~-]")


@functools.cache
def _markdown() -> MarkdownIt:
    """The parser of VS Code's Markdown preview, ported; built on first use: importing it
    costs ~40 ms, and most uses of this module (every review's text) never parse Markdown."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def _inert_prose(text: str, keep_links: bool) -> str:
    out: list[str] = []
    run = 0  # backslashes just before: an odd run escapes the next character already
    for at, char in enumerate(text):
        if char == "<" and run % 2 == 0 and _TAG_START.match(text, at + 1):
            char = "&lt;"
        elif char == "[" and run % 2 == 0 and (not keep_links or (out and out[-1] == "!")):
            char = "\\["
        out.append(char)
        run = run + 1 if char == "\\" else 0
    return "".join(out)


def _code_spans(line: str) -> list[tuple[int, int]]:
    """Where CommonMark sees code spans on this line: a backtick run opens one unless a
    backslash escapes its first backtick (`\\`x` is a backtick and prose), and only a run
    of the same length closes it."""
    spans, at = [], 0
    while (opening := _BACKTICKS.search(line, at)) is not None:
        before = line[: opening.start()]
        slashes = len(before) - len(before.rstrip("\\"))
        start = opening.start() + slashes % 2  # an escaped backtick is text
        width = opening.end() - start
        at = opening.end()
        if width == 0:
            continue
        closing = next((m for m in _BACKTICKS.finditer(line, at) if len(m[0]) == width), None)
        if closing is not None:
            spans.append((start, closing.end()))
            at = closing.end()
    return spans


def _inert_lines(text: str, keep_links: bool) -> str:
    return _prose_changed(text, lambda prose: _inert_prose(prose, keep_links))


def _prose_changed(text: str, change: Callable[[str], str]) -> str:
    """`text` with `change` applied to its prose: code spans and fenced blocks, as read
    line by line, left as written."""
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
        # A backtick in a backtick fence's info string makes the line prose (CommonMark).
        if opened and not (opened[1][0] == "`" and "`" in line[opened.end() :]):
            fence = opened[1]
            out.append(line)
            continue
        parts, last = [], 0
        for start, end in _code_spans(line):
            parts += [change(line[last:start]), line[start:end]]
            last = end
        out.append("".join([*parts, change(line[last:])]))
    return "".join(out)


def _loads_or_links(markdown: str, keep_links: bool) -> bool:
    """Whether a CommonMark renderer (markdown-it, as VS Code's preview) would make an
    image, raw HTML or (unless kept) a link of `markdown`."""
    active = {"image", "html_inline", "html_block"} | (set() if keep_links else {"link_open"})
    for token in _markdown().parse(markdown):
        if token.type in active or any(c.type in active for c in token.children or ()):
            return True
    return False


def inert_markdown(text: str, *, keep_links: bool = True) -> str:
    """Markdown a model wrote, with nothing an editor would load by itself: an image
    (`![](https://host/?data)`) or raw HTML (`<img src=...>`) fetches from that host when
    the preview or hover shows it, so a prompt injection could make it a beacon carrying
    code. Both are shown as text; code spans and fenced blocks are left as they are.

    Without `keep_links`, a link is shown as written, `[words](target)`, its whole target
    in sight: as a link, only its words show, and a click sends whatever the model (led by
    the code it read) put in the target.

    The line-by-line reading of code spans and fences is checked with a CommonMark parser;
    where the two disagree (a code span over several lines), every line is made inert,
    code included: a backslash too many in a code span, nothing loaded."""
    inert = _inert_lines(text, keep_links)
    if _loads_or_links(inert, keep_links):
        inert = "".join(_inert_prose(line, keep_links) for line in text.splitlines(True))
    return inert


# A GitHub @mention as its comment renderer finds one in the rendered text: `@login` or
# `@org/team` not right after a letter or digit (`a@b.com` is an address, not a ping).
# In the Markdown, an `@` may also be written as an entity (`&#64;`), and so may the
# login's first letter; an underscore before it may be emphasis (`_@login_`).
_MENTION = re.compile(r"(?<![A-Za-z0-9])(?:@|&#0*64;|&#[xX]0*40;|&commat;)(?=[A-Za-z0-9&])")


def _quiet_prose(text: str) -> str:
    return _MENTION.sub("@\u200b", text)


def _mentions_left(markdown: str) -> bool:
    """Whether GitHub would find a mention in the prose of `markdown` (code spans and
    blocks never ping), as a CommonMark parser reads it."""
    for token in _markdown().parse(markdown):
        if token.type == "inline":
            prose = "".join(c.content if c.type == "text" else "\0" for c in token.children or ())
            if _MENTION.search(prose):
                return True
    return False


def quiet_mentions(markdown: str) -> str:
    """`markdown` whose `@login` and `@org/team` mentions notify nobody when posted on
    GitHub: a zero-width space after the `@` (it reads the same). A model led by the code
    it reads could otherwise make a review bot ping anyone, over and over. Code spans and
    fences keep their `@`, and so do e-mail addresses. Where the line-by-line reading of
    code disagrees with the CommonMark parser (a code span over a line break), every `@`
    is quieted, code included."""
    quiet = _prose_changed(markdown, _quiet_prose)
    if _mentions_left(quiet):
        quiet = _quiet_prose(markdown)
    return quiet


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
