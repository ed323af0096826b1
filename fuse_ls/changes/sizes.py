"""Which changed files are too large to review, told from their sizes alone: a blob's
size from its header, a working-tree file's from lstat. git reads both sides of every file
it diffs whole, so the decision comes before any content is read."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from fuse_ls.changes.diffparse import RawEntry
from fuse_ls.changes.gitrun import run_git

MAX_FILE_BYTES = 2 * 1024 * 1024  # a changed file larger than this is generated, not written


def rough_size(size: int) -> str:
    """3.0 GB, 52.4 MB; exact bytes near the cap, where a rounded "2.0 MB" would read as
    under it."""
    if size >= 1024**3:
        return f"{size / 1024**3:.1f} GB"
    if size >= 10 * 1024**2:
        return f"{size / 1024**2:.1f} MB"
    return f"{size:,} bytes"


def too_large(size: int, before: bool = False) -> str:
    cap = MAX_FILE_BYTES // 1024 // 1024
    return f"larger than {cap} MB{' before this change' if before else ''} ({rough_size(size)})"


def blob_sizes(root: Path, ids: Sequence[str], env: Mapping[str, str]) -> dict[str, int]:
    """The size of each object, from its header only (one `cat-file --batch-check`)."""
    wanted = sorted({i for i in ids if i.strip("0")})
    if not wanted:
        return {}
    done = run_git(
        root, ["cat-file", "--batch-check"], env=env, stdin="\n".join(wanted).encode() + b"\n"
    )
    sizes: dict[str, int] = {}
    for line in done.stdout.decode("ascii", "replace").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] == "blob" and fields[2].isdigit():
            sizes[fields[0]] = int(fields[2])
    return sizes


def oversized(
    root: Path, staged: bool, entries: Sequence[RawEntry], env: Mapping[str, str]
) -> dict[int, str]:
    """The entries (by index) with a side over the per-file cap, and why they are skipped.

    Decided from sizes alone, before git diffs any content: git reads both sides of every
    file it diffs whole, and a sparse 3 GB file took it 30 s before the cap could apply.
    The old side and an index side are blobs (sizes from their headers); the working
    tree's side, which --raw leaves unhashed (all zeros), is what lstat says."""
    blobs = blob_sizes(
        root,
        [e.old_sha for e in entries if e.old_mode != "160000"]
        + [e.new_sha for e in entries if e.new_mode != "160000"],
        env,
    )
    found: dict[int, str] = {}
    for i, entry in enumerate(entries):
        new = blobs.get(entry.new_sha)
        if new is None and not staged and entry.new_mode not in ("000000", "160000"):
            try:
                new = (root / entry.path).lstat().st_size
            except OSError:
                new = None
        old = blobs.get(entry.old_sha) if entry.old_mode != "160000" else None
        if new is not None and new > MAX_FILE_BYTES:
            found[i] = too_large(new)
        elif old is not None and old > MAX_FILE_BYTES:
            found[i] = too_large(old, before=True)
    return found
