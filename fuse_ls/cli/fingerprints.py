"""Fingerprints for a review of one file (`fuse-ls review FILE[:A-B]`): the same ids a
change review prints, so `fuse-ls dismiss` hides a finding whichever review showed it;
and the same quieting: `# fuse-ls: ignore[...]` lines and dismissed findings are hidden.

A fingerprint is made of the path as the change review names it (relative to the git
repository of the current folder, as `fuse-ls dismiss` takes it), the category and the
flagged code (fuse_ls/changes/noise.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from attrs import evolve, frozen

from fuse_ls.core.types import FusedFinding, FusionResult

if TYPE_CHECKING:
    from fuse_ls.config import Settings


@frozen
class Marked:
    """The review's findings less the hidden ones, and their fingerprints."""

    result: FusionResult
    fingerprints: tuple[str, ...]  # one per `result.findings`, in order
    hidden: dict[str, int]  # why -> how many, a change review's reasons and words


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
        return Marked(result, (), {})
    root = repo_here()
    absolute = file.resolve()
    try:
        path = absolute.relative_to(root).as_posix()
    except ValueError:  # a file outside the repository: named as a change review names it
        path = absolute.as_posix()
    lines = text.splitlines()
    rules = noise.suppressions(text)
    from fuse_ls.changes.cache import ReviewCache, cache_path

    with ReviewCache(cache_path(settings)) as cache:
        dismissed = cache.dismissed(str(root))
        notes = tuple(cache.notes)
    kept: list[tuple[FusedFinding, str]] = []
    hidden: dict[str, int] = {}
    for f in result.findings:
        fp = noise.fingerprint(path, f, lines)
        # In the change review's order (fuse_ls/changes/review.py `shown`).
        why = (
            "suppressed"
            if noise.is_suppressed(f, rules)
            else "dismissed"
            if fp in dismissed
            else None
        )
        if why is None:
            kept.append((f, fp))
        else:
            hidden[why] = hidden.get(why, 0) + 1
    result = evolve(
        result,
        findings=tuple(f for f, _ in kept),
        notes=(*result.notes, *notes),
    )
    return Marked(result, tuple(fp for _, fp in kept), hidden)
