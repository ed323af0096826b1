"""Quieting a review of one file or a selection as a change review is quieted: findings on
`# fuse-ls: ignore[...]` lines and findings the user dismissed (`fuse-ls dismiss`, or in
the editor) are hidden and counted, and the others get the fingerprints `fuse-ls dismiss`
takes. The one owner of that rule for the CLI's `fuse-ls review FILE[:A-B]` and the
editor's `fuse-ls.review`, so both hide the same findings of the same file.

A fingerprint is made of the path as the change review names it (relative to the git
repository, or the absolute path of a file outside it), the category and the flagged code
(noise.fingerprint)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import evolve, frozen

from fuse_ls.changes import noise
from fuse_ls.core.types import FusedFinding, FusionResult

if TYPE_CHECKING:
    from fuse_ls.config import Settings


@frozen
class Dismissed:
    """The findings dismissed in one repository, and the reviewed file's name there
    (None: a buffer with no file, which has no fingerprint and nothing dismissed)."""

    path: str | None
    fingerprints: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()  # the review cache's problems, for the result's notes
    root: str = ""  # the repository the dismissals are kept for


NO_FILE = Dismissed(None)


@frozen
class Marked:
    """The review's findings less the hidden ones, and their fingerprints."""

    result: FusionResult
    fingerprints: tuple[str, ...]  # one per `result.findings`, in order ("" with no file)
    hidden: dict[str, int]  # why -> how many, a change review's reasons and words


def repo_of(folder: Path) -> Path:
    """The repository dismissals are kept for: `folder`'s git repository, else `folder`."""
    from fuse_ls.changes.git import GitError, repo_root

    try:
        return repo_root(folder)
    except (GitError, OSError):  # no git, or a folder gone since
        return folder.resolve()


def dismissed_in(root: Path, file: Path, settings: Settings) -> Dismissed:
    """What was dismissed in `root` (reads the review cache), `file` named as there."""
    from fuse_ls.changes.cache import ReviewCache, cache_path

    absolute = file.resolve()
    try:
        path = absolute.relative_to(root).as_posix()
    except ValueError:  # a file outside the repository: named as a change review names it
        path = absolute.as_posix()
    with ReviewCache(cache_path(settings)) as cache:
        found = frozenset(cache.dismissed(str(root)))
        return Dismissed(path, found, tuple(cache.notes), str(root))


def sift(
    findings: Sequence[FusedFinding], text: str, known: Dismissed
) -> tuple[list[tuple[FusedFinding, str]], dict[str, int]]:
    """(finding, fingerprint) of those shown, and why -> how many were hidden."""
    lines = text.splitlines()
    rules = noise.suppressions(text)
    kept: list[tuple[FusedFinding, str]] = []
    hidden: dict[str, int] = {}
    for f in findings:
        fp = "" if known.path is None else noise.fingerprint(known.path, f, lines)
        # In the change review's order (fuse_ls/changes/review.py `shown`).
        why = (
            "suppressed"
            if noise.is_suppressed(f, rules)
            else "dismissed"
            if fp and fp in known.fingerprints
            else None
        )
        if why is None:
            kept.append((f, fp))
        else:
            hidden[why] = hidden.get(why, 0) + 1
    # One order whatever the findings' order, so the sentence is the same each time.
    return kept, {why: hidden[why] for why in ("suppressed", "dismissed") if why in hidden}


def mark(result: FusionResult, text: str, known: Dismissed) -> Marked:
    kept, hidden = sift(result.findings, text, known)
    result = evolve(
        result,
        findings=tuple(f for f, _ in kept),
        notes=(*result.notes, *known.notes),
    )
    return Marked(result, tuple(fp for _, fp in kept), hidden)


def hidden_text(hidden: Mapping[str, int]) -> str | None:
    """How the CLI and the editor say what was hidden ("not shown: 1 suppressed, ...")."""
    if not hidden:
        return None
    return "not shown: " + ", ".join(f"{n} {why}" for why, n in hidden.items())
