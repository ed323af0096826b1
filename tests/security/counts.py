"""Counts the security suite prints at the end of a run (see conftest.py)."""

from __future__ import annotations

COUNTS: dict[str, str] = {}


def record(name: str, value: object) -> None:
    COUNTS[name] = str(value)
