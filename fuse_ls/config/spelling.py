"""Keys as the user wrote them: the one place that turns settings keys into snake_case and
back into the spelling of the layer they came from.

Settings are checked in snake_case, but a user looks for the key they wrote: a VS Code
user searches settings.json for `fuseLs.review.minVotesForWarning`, a shell user for the
variable `FUSE_LS_REVIEW__MIN_VOTES_FOR_WARNING`. `normalise` records each key's original
spelling while it converts; a layer's `Spelling` then names a snake_case path the way
that layer wrote it, and spells a key it suggests in the style of the key the user wrote
(`min-vote` gets `min-votes`, `minVote` gets `minVotes`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from attrs import field, frozen

KeyPath = tuple[str | int, ...]
Style = Literal["snake", "camel", "kebab"]
ENV_PREFIX = "FUSE_LS_"  # of the variables that set settings

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")
_SNAKE = re.compile(r"_([a-z0-9])")
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def snake(key: str) -> str:
    return _CAMEL.sub(r"_\1", key).replace("-", "_").lower()


def dotted(path: KeyPath) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def _parse(key: str) -> KeyPath:
    return tuple(int(i) if i else name for name, i in _PART.findall(key))


def style_of(key: str) -> Style | None:
    """The style a key is spelled in; None for one word (`mode`), which shows none."""
    if "-" in key:
        return "kebab"
    if _CAMEL.search(key):
        return "camel"
    return "snake" if "_" in key else None


def styled(part: str | int, style: Style) -> str | int:
    """A snake_case key part in `style`: `min_responses` -> `minResponses` (the spelling
    of VS Code's setting ids) or `min-responses`."""
    if isinstance(part, int) or style == "snake":
        return part
    return _SNAKE.sub(lambda m: m[1].upper(), part) if style == "camel" else part.replace("_", "-")


def normalise(value: Any, written: dict[KeyPath, str] | None = None, at: KeyPath = ()) -> Any:
    """camelCase (and kebab-case) keys to snake_case, recursively, in a copy. `written`
    receives, for each path, its last key as the source spelled it."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = snake(str(k))
            if written is not None:
                written[(*at, key)] = str(k)
            out[key] = normalise(v, written, (*at, key))
        return out
    if isinstance(value, list | tuple):
        return [normalise(v, written, (*at, i)) for i, v in enumerate(value)]
    return value


@frozen
class Spelling:
    """How one layer writes its keys.

    `written`: snake_case path -> that key as written (a path not in it is spelled so).
    `prefix`: what the user's setting ids start with, such as `fuseLs.` for the section an
    editor's settings live in. `variable`: the environment variable that is the whole layer,
    and `at` the settings path it sets.
    """

    written: Mapping[KeyPath, str] = field(factory=dict)
    prefix: str = ""
    variable: str = ""
    at: KeyPath = ()

    def key(self, path: KeyPath) -> str:
        """The key at `path` (snake_case) the way this layer wrote it."""
        if self.variable:
            # The value is the variable's; only an entry of a list has a finer name.
            rest = path[len(self.at) :] if path[: len(self.at)] == self.at else ()
            return self.variable + (f"[{rest[0]}]" if rest and isinstance(rest[0], int) else "")
        parts = tuple(self.written.get(path[: i + 1], p) for i, p in enumerate(path))
        return self.prefix + dotted(parts)

    def named(self, setting: str) -> str:
        """`key` for a dotted snake_case setting name such as `pool[0].base_url`."""
        return self.key(_parse(setting))

    def style(self, path: KeyPath) -> Style:
        """The style to suggest keys in to the user who wrote the key at `path`: that key's
        own, else (one word) the one style all of this layer's keys share, else snake_case,
        the documented spelling."""
        own = style_of(self.written.get(path, ""))
        if own is not None:
            return own
        layer = {s for k in self.written.values() if (s := style_of(k)) is not None}
        return layer.pop() if len(layer) == 1 else "snake"

    def known(self, key: str, style: Style = "snake") -> str:
        """A known key (dotted snake_case, such as a suggestion) as this layer would write
        it, in `style` (see `style`)."""
        path = _parse(key)
        if self.variable:
            if any(isinstance(p, int) for p in path):
                return key  # list entries have no variable of their own
            return ENV_PREFIX + "__".join(str(p).upper() for p in path)
        # A table the user wrote keeps their spelling; the rest follows their style.
        tables = tuple(
            self.written.get(path[: i + 1], styled(p, style)) for i, p in enumerate(path[:-1])
        )
        return self.prefix + dotted((*tables, *(styled(p, style) for p in path[-1:])))
