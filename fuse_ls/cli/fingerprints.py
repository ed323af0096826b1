"""Fingerprints for a review of one file (`fuse-ls review FILE[:A-B]`): the same ids a
change review prints, so `fuse-ls dismiss` hides a finding whichever review showed it.

A fingerprint is made of the path as the change review names it (relative to the git
repository of the current folder, as `fuse-ls dismiss` takes it), the category and the
flagged code (fuse_ls/changes/noise.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from attrs import evolve, frozen

from fuse_ls.core.types import FusionResult

if TYPE_CHECKING:
    from fuse_ls.config import Settings


@frozen
class Marked:
    """The review's findings less the dismissed ones, and their fingerprints."""

    result: FusionResult
    fingerprints: tuple[str, ...]  # one per `result.findings`, in order
    dismissed: int  # findings hidden because they were dismissed


def repo_here() -> Path:
    """The repository `fuse-ls dismiss` keeps dismissals for: the current folder's git
    repository, else the current folder."""
    from fuse_ls.changes.git import GitError, repo_root

    try:
        return repo_root(Path.cwd())
    except GitError:
        return Path.cwd().resolve()


def mark(result: FusionResult, file: Path, text: str, settings: Settings) -> Marked:
    from fuse_ls.changes import noise

    if not result.findings:
        return Marked(result, (), 0)
    root = repo_here()
    absolute = file.resolve()
    try:
        path = absolute.relative_to(root).as_posix()
    except ValueError:  # a file outside the repository: named as a change review names it
        path = absolute.as_posix()
    lines = text.splitlines()
    prints = [noise.fingerprint(path, f, lines) for f in result.findings]
    from fuse_ls.changes.cache import ReviewCache, cache_path

    with ReviewCache(cache_path(settings)) as cache:
        dismissed = cache.dismissed(str(root))
        notes = tuple(cache.notes)
    kept = [(f, fp) for f, fp in zip(result.findings, prints, strict=True) if fp not in dismissed]
    result = evolve(
        result,
        findings=tuple(f for f, _ in kept),
        notes=(*result.notes, *notes),
    )
    return Marked(result, tuple(fp for _, fp in kept), len(prints) - len(kept))
