"""Keys as the user wrote them: the one place that turns settings keys into snake_case and
back into the spelling of the layer they came from.

Settings are checked in snake_case, but a user looks for the key they wrote: a VS Code
user searches settings.json for `fuseLs.review.minVotesForWarning`, a shell user for the
variable `FUSE_LS_REVIEW__MIN_VOTES_FOR_WARNING`. `normalise` records each key's original
spelling while it converts; a layer's `Spelling` then names a snake_case path (and any
key it suggests) the way that layer writes keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

KeyPath = tuple[str | int, ...]
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


def normalise(value: Any, written: dict[KeyPath, str] | None = None, at: KeyPath = ()) -> Any:
    """camelCase (and kebab-case) keys to snake_case, recursively, in a copy. `written`
    receives, for each converted path, its last key as the source spelled it."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = snake(str(k))
            if written is not None and key != str(k):
                written[(*at, key)] = str(k)
            out[key] = normalise(v, written, (*at, key))
        return out
    if isinstance(value, list | tuple):
        return [normalise(v, written, (*at, i)) for i, v in enumerate(value)]
    return value


@frozen
class Spelling:
    """How one layer writes its keys.

    `written`: snake_case path -> that key as written (only the keys that differ).
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

    def is_camel(self, path: KeyPath) -> bool:
        """Whether the key at `path` was written in camelCase."""
        written = self.written.get(path, "")
        return written != written.lower()

    def known(self, key: str, camel: bool = False) -> str:
        """A known key (dotted snake_case, such as a suggestion) as this layer would write
        it: `camel` for a user who writes camelCase keys."""
        path = _parse(key)
        if self.variable:
            if any(isinstance(p, int) for p in path):
                return key  # list entries have no variable of their own
            return ENV_PREFIX + "__".join(str(p).upper() for p in path)
        # The part the user wrote keeps their spelling; the rest follows their style.
        parts = tuple(
            self.written.get(path[: i + 1], camel_case(p) if camel else p)
            for i, p in enumerate(path)
        )
        return self.prefix + dotted(parts)


def camel_case(part: str | int) -> str | int:
    """`min_responses` -> `minResponses`, the spelling of VS Code's setting ids."""
    return part if isinstance(part, int) else _SNAKE.sub(lambda m: m[1].upper(), part)
