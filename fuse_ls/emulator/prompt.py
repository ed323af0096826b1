"""Read the delimited blocks of docs/prompt-format.md back out of a chat request."""

from __future__ import annotations

import json
import re
from typing import Any

from attrs import frozen

from fuse_ls.core.lines import split_lines

_ATTRS = re.compile(r'(\w+)="([^"]*)"')
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


def code_block(prompt: str) -> CodeBlock | None:
    match = _CODE.search(prompt)
    if match is None:
        return None
    attrs = dict(_ATTRS.findall(match.group(1)))
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
        Block(dict(_ATTRS.findall(m.group(1))), _decode_string(m.group(2)))
        for m in _RESPONSE.finditer(prompt)
    ]


def clusters(prompt: str) -> list[Block]:
    return [Block(dict(_ATTRS.findall(m.group(1))), m.group(2)) for m in _CLUSTER.finditer(prompt)]


def your_answer(prompt: str) -> str | None:
    match = _YOUR_ANSWER.search(prompt)
    return None if match is None else _decode_string(match.group(1))


def as_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None
