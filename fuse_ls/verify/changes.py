"""The fixes a change review proposed, across several files, tried together.

Every reported finding that carries a replacement becomes an edit of the file the review
read. The edits of all files go into one isolated copy at once, the checks run once, and
only then (when they passed, or the user overrides) are the same edits written to the
real files, and only to files still exactly as the review read them: a file edited since
the review refuses the whole promotion, so no fix lands on lines that moved.
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from attrs import frozen

from fuse_ls.core.checks import CheckReport
from fuse_ls.core.errors import FuseError
from fuse_ls.core.lines import line_count
from fuse_ls.core.types import FusedFinding
from fuse_ls.verify.run import CheckCommand, run_checks
from fuse_ls.verify.sandbox import open_sandbox
from fuse_ls.verify.verifier import splice


@frozen
class FileFix:
    """One file's fixes: the text the review read and the text with every fix in it."""

    path: str  # as the review shows it (relative to the repository)
    file: Path  # on disk
    base: str
    fixed: str
    lines: tuple[tuple[int, int], ...]  # the line ranges (1-based, inclusive) that change


@frozen
class ReviewFixes:
    files: tuple[FileFix, ...]
    skipped: tuple[tuple[str, str], ...]  # ("path:line", why) for fixes left out

    @property
    def count(self) -> int:
        return sum(len(f.lines) for f in self.files)

    def diff(self) -> str:
        """One unified diff over every file, as `git diff` would show it."""
        return "".join(line for f in self.files for line in diff_lines(f.path, f.base, f.fixed))


def diff_lines(path: str, base: str, fixed: str) -> list[str]:
    """The unified diff of one file as `git diff` shows it, line by line (each ends in a
    newline): a last line without one is followed by git's marker, so the text applies
    with `git apply` / `patch` and the file's end stays as it is."""
    lines: list[str] = []
    for line in difflib.unified_diff(
        base.splitlines(keepends=True), fixed.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    ):
        if line.endswith("\n"):
            lines.append(line)
        else:
            lines += [line + "\n", "\\ No newline at end of file\n"]
    return lines


class StaleFiles(FuseError):
    """Files changed on disk since the review read them; nothing was written."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = tuple(paths)
        super().__init__(
            f"{', '.join(paths)} changed since the review read "
            f"{'it' if len(paths) == 1 else 'them'}: no fix was applied to any file. "
            "Run the review again to get fixes for the code as it is now."
        )


def plan_fixes(findings: Iterable[tuple[str, Path, str, FusedFinding]]) -> ReviewFixes:
    """The edits of (path, file, text the review read, finding) in the order given (most
    important first): a fix overlapping one already taken in the same file is left out,
    and so is one whose lines are not in the file or that changes nothing."""
    taken: dict[str, list[tuple[int, int, str]]] = {}
    where: dict[str, tuple[Path, str]] = {}
    skipped: list[tuple[str, str]] = []
    for path, file, text, finding in findings:
        if finding.replacement is None:
            continue
        start, end = finding.start_line, finding.end_line
        at = f"{path}:{start}"
        if start < 1 or end < start or end > line_count(text):
            skipped.append((at, f"lines {start}-{end} are not in the file"))
            continue
        try:
            # Also puts back secrets the models saw redacted (RedactedFix when it cannot).
            if splice(text, start, end, finding.replacement) == text:
                skipped.append((at, "the fix changes nothing"))
                continue
        except FuseError as exc:
            skipped.append((at, str(exc)))
            continue
        mine = taken.setdefault(path, [])
        if any(start <= e and s <= end for s, e, _ in mine):
            skipped.append((at, "overlaps another fix in the same lines"))
            continue
        mine.append((start, end, finding.replacement))
        where[path] = (file, text)
    files = []
    for path, edits in taken.items():
        if not edits:
            continue
        file, text = where[path]
        fixed = text
        # Bottom up, so earlier lines keep their numbers while later ones are replaced.
        for start, end, replacement in sorted(edits, reverse=True):
            fixed = splice(fixed, start, end, replacement)
        lines = tuple(sorted((s, e) for s, e, _ in edits))
        files.append(FileFix(path, file, text, fixed, lines))
    return ReviewFixes(tuple(files), tuple(skipped))


def _on_disk(file: Path) -> tuple[bytes | None, str | None]:
    try:
        raw = file.read_bytes()
    except OSError:
        return None, None
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw, None


def _newline(raw: bytes, base: str) -> str:
    """How to write the fixed text: as it is, unless the review read a CRLF file through
    universal newlines (file targets), in which case the file keeps its CRLF."""
    return "\r\n" if b"\r\n" in raw and "\r\n" not in base else ""


def _unchanged(file: Path, base: str) -> bool:
    raw, text = _on_disk(file)
    if raw is None or text is None:
        return False
    return text == base or text.replace("\r\n", "\n") == base


def stale_files(fixes: ReviewFixes) -> list[str]:
    """The files whose bytes on disk are no longer the text the review read."""
    return [f.path for f in fixes.files if not _unchanged(f.file, f.base)]


class FixesNotWritten(FuseError):
    """A file could not be written; the files written before it were put back."""


def apply_fixes(fixes: ReviewFixes) -> None:
    """Write every file's fixed text, after checking that none changed since the review
    (StaleFiles: nothing written). All or nothing: when a write fails, the files already
    written get their old bytes back (FixesNotWritten)."""
    stale = stale_files(fixes)
    if stale:
        raise StaleFiles(stale)
    written: list[tuple[Path, bytes]] = []
    for f in fixes.files:
        raw, _ = _on_disk(f.file)
        try:
            with f.file.open("w", encoding="utf-8", newline=_newline(raw or b"", f.base)) as fh:
                fh.write(f.fixed)
        except OSError as exc:
            for file, old in [*written, (f.file, raw or b"")]:
                try:
                    file.write_bytes(old)
                except OSError:
                    # Say so: this one keeps whatever the failed write left.
                    raise FixesNotWritten(
                        f"could not write {f.path} ({exc}) nor restore {file}"
                    ) from exc
            raise FixesNotWritten(
                f"could not write {f.path} ({exc.strerror or exc}); no fix was applied to any file"
            ) from exc
        written.append((f.file, raw or b""))


async def verify_fixes(
    fixes: ReviewFixes,
    workspace: Path,
    commands: Sequence[CheckCommand],
    *,
    max_output_bytes: int,
    parent: Path | None = None,
) -> CheckReport:
    """Every file's fixes in one isolated copy of `workspace`, the checks run once there.
    The copy goes afterwards, also when cancelled; the real files are only read."""
    began = time.perf_counter()
    stale = stale_files(fixes)
    if stale:
        # The copy is made from the files as they are now: fixes meant for other text
        # would be checked against code they were not written for.
        return CheckReport((), time.perf_counter() - began, error=str(StaleFiles(stale)))
    try:
        sandbox = await open_sandbox(workspace, parent)
    except (FuseError, OSError) as exc:
        return CheckReport((), time.perf_counter() - began, error=str(exc))
    try:
        try:
            for f in fixes.files:
                sandbox.write(f.file, f.fixed)
        except (FuseError, OSError) as exc:
            return CheckReport((), time.perf_counter() - began, error=str(exc))
        report = await run_checks(commands, sandbox.workspace, max_output_bytes)
    finally:
        await sandbox.close()
    return report
