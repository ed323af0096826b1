"""Get a JSON object out of a model answer, even from servers that ignore response_format.

Local servers and some providers answer structured requests with prose around the
JSON, or a Markdown fence. We accept, in order: the whole text, a ```json fence, then the
first `{` from which a complete object decodes.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fuse_ls.core.errors import MalformedAnswer

_FENCE = re.compile(r"```[ \t]*(?:json|JSON|json5)?[ \t]*\r?\n(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()
_EXCERPT_CHARS = 80
# Objects tried inside prose: enough for any real answer, and no quadratic scan of a
# hostile one made of thousands of `{`.
_MAX_STARTS = 64


def parse_json_object(text: str, *, model: str = "") -> dict[str, Any]:
    """Return the first JSON object in `text`; raise MalformedAnswer when there is none."""
    stripped = text.strip().lstrip("\ufeff")
    found = _whole(stripped)
    if found is None:
        for match in _FENCE.finditer(stripped):
            found = _whole(match.group(1).strip()) or _embedded(match.group(1))
            if found is not None:
                break
    if found is None:
        found = _embedded(stripped)
    if found is None:
        raise MalformedAnswer(_message(text, model), model=model)
    return found


def _whole(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # deeply nested arrays exhaust the decoder's stack
        return None
    return value if isinstance(value, dict) else None


def _embedded(text: str) -> dict[str, Any] | None:
    # raw_decode stops at the end of the first complete value, so prose after the
    # object (or a second object) does not matter; braces inside strings are handled
    # by the real decoder rather than by counting.
    start = text.find("{")
    for _ in range(_MAX_STARTS):
        if start == -1:
            break
        try:
            value, _ = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    return None


def _message(text: str, model: str) -> str:
    flat = " ".join(text.split())
    if not flat:
        excerpt = "an empty answer"
    elif len(flat) > _EXCERPT_CHARS:
        excerpt = repr(flat[: _EXCERPT_CHARS - 3] + "...")
    else:
        excerpt = repr(flat)
    who = f"{model}: " if model else ""
    return (
        f"{who}expected a JSON object but got {excerpt}. The model or server may not "
        "support structured output; try another model."
    )
