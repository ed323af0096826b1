"""git's plumbing output taken apart: `--raw -z` entries, `--numstat -z` binary flags and
the changed new-side lines of a `-U0` patch. The three come from the same diff queue, so
their lists line up one to one."""

from __future__ import annotations

import re

from attrs import frozen

HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def split_z(data: bytes) -> list[str]:
    parts = data.decode("utf-8", "surrogateescape").split("\0")
    return parts[:-1] if parts and parts[-1] == "" else parts


@frozen
class RawEntry:
    old_mode: str
    new_mode: str
    status: str
    path: str
    old_path: str | None
    old_sha: str = ""  # as --raw gives them: all zeros for a side git has not hashed
    new_sha: str = ""


def raw_entries(data: bytes) -> list[RawEntry]:
    parts = split_z(data)
    out: list[RawEntry] = []
    i = 0
    while i < len(parts):
        meta = parts[i].lstrip(":").split()
        status = meta[4] if len(meta) >= 5 else "M"
        if status[0] in "RC":
            out.append(
                RawEntry(meta[0], meta[1], status[0], parts[i + 2], parts[i + 1], *meta[2:4])
            )
            i += 3
        else:
            out.append(RawEntry(meta[0], meta[1], status[0], parts[i + 1], None, *meta[2:4]))
            i += 2
    return out


def numstat_binary(data: bytes) -> list[bool]:
    """One flag per entry: True when git counts it as binary ("-\t-")."""
    parts = split_z(data)
    flags: list[bool] = []
    i = 0
    while i < len(parts):
        fields = parts[i].split("\t")
        flags.append(fields[0] == "-" and fields[1] == "-")
        # A rename is "a\td\t" then the old and the new name as separate fields.
        i += 3 if len(fields) >= 3 and fields[2] == "" else 1
    return flags


def hunks(patch: bytes) -> list[frozenset[int]]:
    """Changed new-side lines per file section of a -U0 patch, in diff order."""
    sections: list[set[int]] = []
    for raw in patch.split(b"\n"):
        if raw.startswith(b"diff --git "):
            sections.append(set())
            continue
        if not sections or not raw.startswith(b"@@ "):
            continue
        match = HUNK.match(raw.decode("utf-8", "replace"))
        if match is None:
            continue
        start = int(match[1])
        count = int(match[2]) if match[2] is not None else 1
        if count == 0:
            # A pure deletion: mark the line after the cut so the reviewer sees where
            # code went missing (line 0 means "at the top").
            sections[-1].add(max(start, 1) if start else 1)
        else:
            sections[-1].update(range(start, start + count))
    return [frozenset(s) for s in sections]
