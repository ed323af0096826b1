"""`fuse-ls review --diff/--staged/--uncommitted/FILE[:RANGE]...`, `fuse-ls cache` and
`fuse-ls dismiss`: the command-line side of change review (fuse_ls/changes)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fuse_ls.core.ci_log import ci_safe_json
from fuse_ls.core.vocab import Severity

# Every `fuse-ls` command builds the parser with `add_change_options`, so what only a
# change review runs (git, the cache, the engine and its HTTP stack, rich) is imported
# by the functions that run it.
if TYPE_CHECKING:
    from rich.console import Console

    from fuse_ls.changes.git import ChangedFile
    from fuse_ls.changes.review import ChangeReview, Target
    from fuse_ls.config import Settings
    from fuse_ls.core.events import FusionEvent


class _SessionOnFirstEvent:
    """The run's telemetry session, opened at the engine's first event. A rerun answered
    from the cache has nothing to record (a session writes nothing until then anyway),
    and opening one costs the telemetry imports and the installed-version lookup."""

    def __init__(self, settings: Settings, root: Path) -> None:
        self.settings = settings
        self.root = root
        self.session: Any = None
        self.opened = False

    def observe(self, event: FusionEvent) -> None:
        if not self.opened:
            from fuse_ls.cli import _recorder

            self.opened = True
            self.session = _recorder(self.settings, self.root)
        if self.session is not None:
            self.session.observe(event)

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


def _error(err: Console, message: str) -> None:
    from rich.text import Text

    # Text, not markup: paths and git's messages may contain [brackets].
    err.print(Text("error: ", style="red") + Text(message))


_CHANGE_ONLY = (
    "all_lines",
    "no_cache",
    "min_severity",
    "max_cost",
    "max_findings",  # `0` (show all) is what a one-file review does anyway
    *("fix", "verify", "apply", "apply_anyway"),  # fixes across files: fuse_ls/cli/verify.py
)


def wants_change_review(args: argparse.Namespace) -> bool:
    """Change review for git scopes, several targets, an empty file, or options only it
    has."""
    if args.diff is not None or args.staged or args.uncommitted:
        return True
    if len(args.targets) != 1 or args.format == "rdjson":
        return True
    if _a_whole_empty_file(args.targets[0]):
        return True
    return any(getattr(args, name, None) for name in _CHANGE_ONLY)


def _a_whole_empty_file(spec: str) -> bool:
    """An empty file named without a range. The change review skips it ("empty file",
    exit 0) as it skips one among others or in a git change; the review of that file alone
    was an error (exit 2), failing a CI step that a second file would have passed."""
    from fuse_ls.cli import parse_target
    from fuse_ls.core.errors import FuseError

    try:
        path, start, _ = parse_target(spec)
        if not path.is_file() and Path(spec).is_file():
            path, start = Path(spec), None
        return start is None and path.is_file() and path.stat().st_size == 0
    except (FuseError, OSError):
        return False


def _targets_from_files(
    specs: list[str], root: Path, err: Console
) -> tuple[list[Target], list[tuple[str, str]]] | None:
    """The targets to review, and the files skipped (an empty one: no model call for it,
    as an empty new file in a git change is skipped)."""
    from fuse_ls.changes.review import Target
    from fuse_ls.cli import not_a_file, parse_target, target_lines
    from fuse_ls.context import language_for
    from fuse_ls.core.errors import FuseError

    targets: list[Target] = []
    skipped: list[tuple[str, str]] = []
    for spec in specs:
        path, start, end = parse_target(spec)
        if not path.is_file() and Path(spec).is_file():
            path, start, end = Path(spec), None, None
        if not path.is_file():
            _error(err, not_a_file(spec, path))
            return None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _error(err, f"cannot read {path}: {exc}")
            return None
        absolute = path.resolve()
        try:
            shown = absolute.relative_to(root).as_posix()
        except ValueError:
            shown = absolute.as_posix()
        if start is None and not text:
            skipped.append((shown, "empty file"))
            continue
        try:
            first, last = target_lines(spec, path, text, start, end)
        except FuseError as exc:
            _error(err, str(exc))
            return None
        targets.append(
            Target(shown, absolute, language_for(path), text, frozenset(range(first, last + 1)))
        )
    return targets, skipped


def _targets_from_git(
    args: argparse.Namespace, err: Console
) -> tuple[Path, str, list[Target], list[tuple[str, str]]] | None:
    from fuse_ls.changes.git import GitError, Scope, read_changes
    from fuse_ls.changes.review import Target
    from fuse_ls.cli import _shown
    from fuse_ls.context import language_for

    scope: Scope = "diff" if args.diff is not None else "staged" if args.staged else "uncommitted"
    for spec in args.targets:
        if not Path(spec).exists() and ":" in spec:
            _error(
                err,
                f"{spec}: line ranges cannot be combined with --{scope}; "
                "give paths to limit the change, or ranges without a git option.",
            )
            return None
    try:
        changes = read_changes(
            Path.cwd(), scope, args.diff or None, [os.path.abspath(t) for t in args.targets]
        )
    except GitError as exc:
        _error(err, str(exc))
        return None
    for spec in args.targets:
        # A mistyped path limits the change to nothing: "Nothing to review", exit 0, and
        # a CI gate passed. One that exists, or names a changed (deleted) file, is fine.
        if not os.path.lexists(spec) and not _names_a_change(spec, changes.root, changes.files):
            _error(err, f"{_shown(spec)}: no such file or folder, and no changed file there.")
            return None
    targets = [
        Target(f.path, changes.root / f.path, language_for(Path(f.path)), f.text, f.changed)
        for f in changes.reviewable
        if f.text is not None
    ]
    skipped = [(f.path, f.skipped) for f in changes.files if f.skipped]
    return changes.root, changes.description, targets, skipped


def _names_a_change(spec: str, root: Path, files: Sequence[ChangedFile]) -> bool:
    try:
        where = Path(os.path.abspath(spec)).relative_to(root.resolve()).as_posix()
    except ValueError:
        return False
    return any(f.path == where or f.path.startswith(where.rstrip("/") + "/") for f in files)


def cmd_review_changes(args: argparse.Namespace) -> int:
    import asyncio

    from rich.text import Text

    from fuse_ls.changes import output
    from fuse_ls.changes.cache import ReviewCache, cache_path
    from fuse_ls.changes.git import GitError, repo_root
    from fuse_ls.changes.review import ChangeReviewer, ReviewOptions
    from fuse_ls.cli import (
        BadFlag,
        _console,
        _report_problems,
        apply_overrides,
        bad_usage,
        missing_key_message,
    )
    from fuse_ls.config import load_settings
    from fuse_ls.core.errors import FuseError

    out, err = _console(), _console(stderr=True)
    fmt = args.format or ("sarif" if args.sarif else "json" if args.json else "text")
    if args.diff is not None or args.staged or args.uncommitted:
        found = _targets_from_git(args, err)
        if found is None:
            return 2
        root, description, targets, skipped = found
    else:
        if not args.targets:
            _error(
                err,
                "nothing to review: give FILE[:START-END] targets, or "
                "--diff [BASE], --staged or --uncommitted inside a git repository.",
            )
            return 2
        try:
            root = repo_root(Path.cwd())
        except GitError:
            root = Path.cwd().resolve()
        picked = _targets_from_files(args.targets, root, err)
        if picked is None:
            return 2
        targets, skipped = picked
        description = f"review of {len(args.targets)} file target(s)"
    loaded = load_settings(root, trusted=bool(getattr(args, "trust", False)))
    _report_problems(loaded, err)
    settings = loaded.settings
    try:
        settings = apply_overrides(loaded, args)
    except BadFlag as exc:
        bad_usage(args, exc)
    except FuseError as exc:
        _error(err, str(exc))
        return 2
    message = missing_key_message(settings, os.environ)
    if message and targets:
        _error(err, message)
        return 2
    from fuse_ls.cli import verify as fixes

    if fixes.wants_checks(args) and not settings.verify.commands:
        _error(err, fixes.NO_COMMANDS)
        return 2
    options = ReviewOptions(
        all_lines=args.all_lines,
        min_severity=args.min_severity or "hint",
        max_findings=50 if args.max_findings is None else args.max_findings or None,
        use_cache=not args.no_cache,
        max_cost_usd=args.max_cost,
        global_limit=args.concurrency,
        per_endpoint=args.per_endpoint,
        unit_token_budget=args.unit_tokens,
        deadline_s=args.deadline,
    )
    recorder = _SessionOnFirstEvent(settings, root)
    progress = None if fmt != "text" or args.quiet else output.RunProgress(err)
    cache = ReviewCache(cache_path(settings))
    reviewer = ChangeReviewer(
        settings,
        root,
        options,
        cache=cache,
        on_update=progress,
        observer=recorder.observe,
        description=description,
        skipped_files=skipped,
    )
    try:
        if progress is not None:
            with progress:
                review = asyncio.run(reviewer.run(targets))
        else:
            review = asyncio.run(reviewer.run(targets))
    except KeyboardInterrupt:
        err.print(Text("cancelled", style="yellow"))
        return 130
    except FuseError as exc:
        _error(err, str(exc))
        return 2
    finally:
        cache.close()
        recorder.close()
    outcome = None
    if fixes.wants_fixes(args):
        by_path = {t.path: t for t in targets}
        try:
            outcome = fixes.review_fixes(
                args,
                [
                    (r.path, by_path[r.path].file, by_path[r.path].text, r.finding)
                    for r in review.findings
                    if r.path in by_path
                ],
                root,
                settings,
                err,
            )
        except KeyboardInterrupt:
            err.print(Text("cancelled: no fix was applied", style="yellow"))
            return 130
    if fmt == "json":
        data = output.review_json(review)
        if outcome is not None:
            data["fixes"] = outcome.to_json()
        print(ci_safe_json(data, indent=2))
    elif fmt == "sarif":
        print(ci_safe_json(output.sarif(review), indent=2))
    elif fmt == "rdjson":
        print(ci_safe_json(output.rdjson(review), indent=2))
    else:
        output.print_review(out, review)
        if outcome is not None and fmt == "text":
            outcome.print(out)
    if outcome is not None and outcome.exit_code is not None:
        return outcome.exit_code
    code = _exit_code(review, args.fail_on)
    if code == NOTHING_REVIEWED and fmt != "text":
        # The text output says so; a SARIF or JSON file read by a machine does not.
        _error(err, f"nothing was reviewed: {review.stopped} (exit {NOTHING_REVIEWED})")
    return code


# The run stopped (a deadline, a cost limit or budget) before any unit was reviewed:
# not a pass, which would let a CI gate through on code no model saw, nor "every model
# failed" (3). A change with nothing to review is a pass (0).
NOTHING_REVIEWED = 4


def _exit_code(review: ChangeReview, fail_on: Severity | None) -> int:
    from fuse_ls.changes import output

    asked = [o for o in review.outcomes if not o.cached and not o.skipped]
    if asked and all(o.error for o in asked):
        return 3
    if review.outcomes and all(o.skipped for o in review.outcomes):
        return NOTHING_REVIEWED
    if fail_on and output.fails_on(review, fail_on):
        return 1
    return 0


def _settings_here() -> tuple[Settings, Path]:
    from fuse_ls.changes.git import GitError, repo_root
    from fuse_ls.config import load_settings

    try:
        root = repo_root(Path.cwd())
    except GitError:
        root = Path.cwd().resolve()
    return load_settings(root).settings, root


def cache_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fuse-ls cache",
        # The action is required; nargs="?" (to show this help without one) would mark it optional.
        usage="%(prog)s [-h] [--json] {stats,clear}",
        description="Show or clear the review cache of `fuse-ls review` (dismissed findings "
        "are kept by clear).",
    )
    parser.add_argument(
        "action",
        nargs="?",
        choices=("stats", "clear"),
        help="stats: entries, size, hits, dismissed findings; clear: forget cached units",
    )
    parser.add_argument("--json", action="store_true", help="print the stats as JSON")
    args = parser.parse_args(argv)
    if args.action is None:
        # As `fuse-ls eval` with no action: the actions and what they do, not argparse's
        # "the following arguments are required: action", which named neither.
        parser.print_help()
        return 2
    from fuse_ls.changes.cache import ReviewCache, cache_path

    settings, _ = _settings_here()
    with ReviewCache(cache_path(settings)) as cache:
        if args.action == "clear":
            count = cache.clear()
            print(f"removed {count} cached review unit(s) from {cache.path}")
            return 0
        stats = cache.stats()
        for note in cache.notes:
            print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(
            ci_safe_json(
                {
                    "path": stats.path,
                    "entries": stats.entries,
                    "size_bytes": stats.size_bytes,
                    "hits": stats.hits,
                    "dismissed": stats.dismissed,
                    "max_bytes": stats.max_bytes,
                }
            )
        )
    else:
        print(
            f"{stats.path}\n{stats.entries} cached unit(s), {stats.size_bytes / 1024:.1f} KiB "
            f"of {stats.max_bytes // (1024 * 1024)} MiB, {stats.hits} hit(s); "
            f"{stats.dismissed} dismissed finding(s)"
        )
    return 0


def _fingerprint(text: str) -> str:
    """An argparse type: 16 hex digits. A shorter or longer one was stored as given and
    matched no finding: "dismissed", yet the finding was still shown."""
    fp = text.strip().lower()
    if len(fp) != 16 or any(c not in "0123456789abcdef" for c in fp):
        raise argparse.ArgumentTypeError(
            f"expected a finding's fingerprint, 16 hex digits such as 3f9a0c1d2b4e5f60, "
            f"got {text!r}"
        )
    return fp


def dismiss_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="fuse-ls dismiss",
        description="Never show these findings again in this repository while their code "
        "is unchanged.",
    )
    parser.add_argument(
        "fingerprints",
        nargs="+",
        type=_fingerprint,
        metavar="FINGERPRINT",
        help="a finding's fingerprint: the fingerprint column of `fuse-ls review` (and "
        "`fuse-ls demo`), `fingerprint` in --json",
    )
    parser.add_argument("--undo", action="store_true", help="show them again")
    parser.add_argument("--note", default="", help="why (kept with the fingerprint)")
    args = parser.parse_args(argv)
    from fuse_ls.changes.cache import ReviewCache, cache_path
    from fuse_ls.core.errors import visible

    # Each was checked by the parser before any is dismissed: a typo dismisses none.
    prints: list[str] = args.fingerprints
    settings, root = _settings_here()
    with ReviewCache(cache_path(settings)) as cache:
        for fp in prints:
            if args.undo:
                found = cache.undismiss(str(root), fp)
                print(f"{fp}: {'shown again' if found else 'was not dismissed'}")
            else:
                cache.dismiss(str(root), fp, args.note)
                print(f"{fp}: dismissed in {visible(str(root))}")
        for note in cache.notes:
            print(f"note: {note}", file=sys.stderr)
    return 0
