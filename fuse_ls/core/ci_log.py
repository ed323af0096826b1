"""What fuse-ls prints into a CI runner's log: text a pull request chose, never a command.

A GitHub Actions runner reads every line a step writes (stdout and stderr) for workflow
commands: `::name args::data` once leading whitespace is trimmed, and the legacy
`##[name args]data` anywhere in a line; Azure Pipelines reads `##vso[area.event ...]`
anywhere in a line. fuse-ls prints file names, findings the pull request's code steered
and fused code, so a pull request could mask log text, stop command processing, set
outputs or post annotations through it. See docs/security.md ("A CI log reads commands").

JSON never carries `##` (`ci_safe_json`, always on: the same data for every decoder).
Text gets a zero-width space where a runner would start a command (`CommandFilter`), and
only under a runner that reads them (`guard_ci_streams`): in a terminal or a plain pipe
the code `fuse-ls fix` prints stays exact.

Why the break goes right before the second colon or the bracket: the runner compares
culture-sensitively (`StartsWith("::")`, `IndexOf("##[")`), and with ICU a zero-width
space is ignorable there, so the prefix may still "match"; but it then cuts the command
name at a fixed offset from where the match began, which lands on the colon or bracket,
and no command is named `:error` or `[error`.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any, TextIO, cast

ZERO_WIDTH_SPACE = "\u200b"

# Where a runner's line ends (it reads lines with .NET's ReadLine: \r, \n, \r\n); the
# rest of Python's line breaks too, since ending a line early only breaks more.
_LINE_BREAK = re.compile(r"\r\n?|[\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
# A bracket that would complete `##[` or `##vso[` (Azure's prefix, any letter case).
_COMMAND_BRACKET = re.compile(r"(?<=##)\[|(?<=##[vV][sS][oO])\[")
_TAIL = len("##vso")

# Where the current line stands for the `::` form: only whitespace so far, whitespace
# and one colon, or anything else (nothing more to watch until the next line).
_BLANK, _ONE_COLON, _OTHER = 0, 1, 2


def ci_safe_json(value: object, **dumps_kwargs: Any) -> str:
    """`json.dumps(value, **dumps_kwargs)` with no `##` in it: each is written `#\\u0023`.

    Exact: outside strings JSON has no `#`, and a `\\u0023` escape decodes to the `#`
    it replaces, so every decoder reads the same data. No JSON line starts with `::`
    either (a line starts with indentation, then a quote, bracket, brace, digit or word).
    """
    return json.dumps(value, **dumps_kwargs).replace("##", "#\\u0023")


def reads_commands(env: Mapping[str, str]) -> bool:
    """Whether the process runs under a CI runner that reads commands in its output."""
    github = env.get("GITHUB_ACTIONS", "").strip().lower()
    return github not in ("", "false", "0") or bool(env.get("TF_BUILD", "").strip())


class CommandFilter:
    """Text for one output stream with a break inserted wherever a runner would read a
    command. Stateful: a write may end mid-line, between the two colons or the `##` and
    its bracket, so each write is read as the continuation of the ones before. It only
    inserts, and only right before the character that completes a prefix, so nothing is
    ever held back."""

    def __init__(self, mark: str = ZERO_WIDTH_SPACE) -> None:
        self.mark = mark
        self._tail = ""  # the last characters written, for a `##` split across writes
        self._line = _BLANK

    def feed(self, text: str) -> str:
        if not text:
            return text
        joined = self._tail + text
        cuts = [
            m.start() - len(self._tail) for m in _COMMAND_BRACKET.finditer(joined, len(self._tail))
        ]
        start = 0
        for brk in _LINE_BREAK.finditer(text):
            self._line_start_colons(text, start, brk.start(), cuts)
            self._line = _BLANK
            start = brk.end()
        self._line_start_colons(text, start, len(text), cuts)
        self._tail = joined[-_TAIL:]
        if not cuts:
            return text
        parts: list[str] = []
        last = 0
        for cut in sorted(cuts):
            parts += [text[last:cut], self.mark]
            last = cut
        parts.append(text[last:])
        return "".join(parts)

    def _line_start_colons(self, text: str, start: int, end: int, cuts: list[int]) -> None:
        """Note in `cuts` the second colon of a line that starts (after whitespace, which
        the runner trims: .NET's whitespace is within Python's) with `::`."""
        i = start
        if self._line == _BLANK:
            while i < end and text[i].isspace():
                i += 1
            if i == end:
                return
            if text[i] != ":":
                self._line = _OTHER
                return
            self._line = _ONE_COLON
            i += 1
        if self._line == _ONE_COLON and i < end:
            if text[i] == ":":
                cuts.append(i)
            self._line = _OTHER


def _mark_for(stream: TextIO) -> str:
    """A zero-width space, or a plain space where the stream's encoding (a Windows code
    page) has no zero-width space: writing one would raise."""
    try:
        ZERO_WIDTH_SPACE.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeError, LookupError):
        return " "
    return ZERO_WIDTH_SPACE


class GuardedStream:
    """`stream` with its text passed through a `CommandFilter`; every other attribute
    (fileno, isatty, encoding, flush...) is the stream's, so rich and logging see the
    terminal or pipe they would have seen."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.filter = CommandFilter(_mark_for(stream))
        # rich's live display writes from a thread of its own: the filter's state and
        # the order of the writes must stay one.
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self.stream.write(self.filter.feed(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def guard_ci_streams(env: Mapping[str, str] | None = None) -> bool:
    """Under a runner that reads commands, pass sys.stdout and sys.stderr through a
    `CommandFilter` for the rest of the process (an uncaught exception's traceback names
    files too). Consoles created with no file (rich) and print() look the stream up when
    they write, so installing this first covers them. Idempotent: an in-process caller may
    run the CLI many times."""
    if not reads_commands(os.environ if env is None else env):
        return False
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, GuardedStream):
            setattr(sys, name, cast(TextIO, GuardedStream(stream)))
    return True
