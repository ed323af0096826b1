"""Counts as the user reads them: "1 session", "2 sessions", never "1 sessions"."""

from __future__ import annotations


def noun_for(n: int, noun: str, plural: str | None = None) -> str:
    """`noun`, or its plural (`plural`, else noun + "s") unless `n` is one."""
    return noun if n == 1 else (plural or noun + "s")


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and its noun: "1 session", "0 sessions", "2 fixes" (with `plural="fixes"`)."""
    return f"{n} {noun_for(n, noun, plural)}"
