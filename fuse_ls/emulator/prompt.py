"""Read the delimited blocks of docs/prompt-format.md back out of a chat request."""

from __future__ import annotations

import json
import re
from typing import Any

from attrs import frozen

from fuse_ls.core.lines import split_lines

# Attribute values are JSON strings (`path="a \\"b\\".py"`).
_ATTRS = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*")')
# The closing tag must start a line: code lines all start with `N| `, so a `</code>`
# inside the code cannot end the block early.
_CODE = re.compile(r"<code\b([^>]*)>\n?(.*?)^</code>", re.DOTALL | re.MULTILINE)
_NUMBERED = re.compile(r"^(\d+)\| ?(.*)$")
_RESPONSE = re.compile(r"<response\b([^>]*)>\s*(.*?)\s*</response>", re.DOTALL)
_CLUSTER = re.compile(r"<cluster\b([^>]*)>\s*(.*?)\s*</cluster>", re.DOTALL)
_YOUR_ANSWER = re.compile(r"<your_answer>\s*(.*?)\s*</your_answer>", re.DOTALL)


@frozen
class CodeBlock:
    path: str
    language: str
    lines: tuple[tuple[int, str], ...]  # (file line number, text without the `N| ` prefix)

    @property
    def text(self) -> str:
        return "\n".join(text for _, text in self.lines)

    @property
    def start_line(self) -> int:
        return self.lines[0][0] if self.lines else 1

    @property
    def end_line(self) -> int:
        return self.lines[-1][0] if self.lines else 1


@frozen
class Block:
    """A `<response>` or `<cluster>`: its attributes and its JSON-decoded body."""

    attrs: dict[str, str]
    body: str  # the decoded string (responses) or the raw JSON text (clusters)

    @property
    def id(self) -> str:
        return self.attrs.get("id", "")

    def int_attr(self, name: str, default: int = 0) -> int:
        try:
            return int(self.attrs.get(name, default))
        except ValueError:
            return default


def attributes(tag: str) -> dict[str, str]:
    out = {}
    for name, raw in _ATTRS.findall(tag):
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw.strip('"')
        out[name] = value if isinstance(value, str) else raw
    return out


def code_block(prompt: str) -> CodeBlock | None:
    match = _CODE.search(prompt)
    if match is None:
        return None
    attrs = attributes(match.group(1))
    lines = []
    for raw in split_lines(match.group(2)):
        numbered = _NUMBERED.match(raw)
        if numbered is not None:
            lines.append((int(numbered.group(1)), numbered.group(2)))
    return CodeBlock(
        path=attrs.get("path", "untitled"),
        language=attrs.get("language", ""),
        lines=tuple(lines),
    )


def _decode_string(body: str) -> str:
    try:
        value: Any = json.loads(body)
    except ValueError:
        return body
    return value if isinstance(value, str) else json.dumps(value)


def responses(prompt: str) -> list[Block]:
    return [
        Block(attributes(m.group(1)), _decode_string(m.group(2)))
        for m in _RESPONSE.finditer(prompt)
    ]


def clusters(prompt: str) -> list[Block]:
    return [Block(attributes(m.group(1)), m.group(2)) for m in _CLUSTER.finditer(prompt)]


def your_answer(prompt: str) -> str | None:
    match = _YOUR_ANSWER.search(prompt)
    return None if match is None else _decode_string(match.group(1))


def as_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


# --- what a naive model reads as instructions -------------------------------------------
#
# Code blocks end only at a closing tag that starts a line (every code line starts with
# `N| `). Every other block is read the way a careless model would: it ends at the first
# closing tag of its name, wherever that is, so a `</response>` smuggled inside an
# answer would end it early. The prompts must escape such tags for this to be safe.
_NUMBERED_BLOCKS = re.compile(
    r"<(code|context_before|context_after)\b[^>]*>.*?^</\1>", re.DOTALL | re.MULTILINE
)
_DATA_BLOCKS = re.compile(
    r"<(response|cluster|your_answer|intent|blast_radius|project_rules)\b[^>]*>.*?</\1>",
    re.DOTALL,
)
INJECTION = re.compile(r"(?i)instructions? to the (?:reviewer|judge|model|assistant)s?")


def outside_data(prompt: str) -> str:
    """The prompt without its data blocks: what a model may take as instructions."""
    return _DATA_BLOCKS.sub(" ", _NUMBERED_BLOCKS.sub(" ", prompt))


def injected(prompt: str) -> bool:
    return INJECTION.search(outside_data(prompt)) is not None
