"""`fuse-ls fix TARGET --verify`: try the fused fix in an isolated copy, print the diff and
the check results, and (with --apply) write only a fix whose checks passed. The same for
the fixes of a change review, across files (`fuse-ls review --uncommitted --fix ...`)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import define
from rich.console import Console
from rich.text import Text

from fuse_ls.config import Settings
from fuse_ls.core.checks import CheckReport
from fuse_ls.core.errors import FuseError
from fuse_ls.core.types import FusedFinding, FusionResult
from fuse_ls.safetext import bidi_shown, visible

# fuse_ls.verify (isolated copies, check commands) is imported where a fix is tried:
# every `fuse-ls review` imports this module for `wants_fixes`, and most never try one.
if TYPE_CHECKING:
    from fuse_ls.verify.changes import ReviewFixes
    from fuse_ls.verify.run import CheckCommand
    from fuse_ls.verify.verifier import FixVerifier

NO_COMMANDS = (
    "--verify needs check commands: set `verify.commands` (for example "
    '`commands = ["python -m pytest -q -x"]` under [verify]) in your user config, or in '
    "the workspace's .fuse-ls.toml once the workspace is trusted (`fuse-ls trust`)."
)


def check_commands(settings: Settings) -> list[CheckCommand]:
    from fuse_ls.verify.run import check_commands as commands

    return commands(settings)  # without the model keys in their environment


def make_verifier(
    settings: Settings, workspace: Path, path: Path, text: str, start: int, end: int
) -> FixVerifier:
    from fuse_ls.verify.verifier import FixVerifier, Verifications

    return FixVerifier(
        workspace,
        path.resolve(),
        text,
        start,
        end,
        check_commands(settings),
        max_output_bytes=settings.verify.max_output_kb * 1024,
        limits=Verifications(settings.verify.concurrency),
    )


def print_diff(console: Console, path: str, text: str, fixed: str) -> None:
    from fuse_ls.verify.changes import diff_lines

    for line in diff_lines(path, text, fixed):
        if not console.is_terminal:
            # Piped (`> fix.patch`, `| git apply`): the diff byte for byte. rich would wrap
            # long lines at the console width and turn tabs into spaces: no patch applies.
            console.file.write(line)
            continue
        # On screen, a bidi control in the fix would reorder the line it is in: the diff
        # would show other code than the patch applies.
        line = bidi_shown(line)
        style = (
            "green"
            if line.startswith("+") and not line.startswith("+++")
            else "red"
            if line.startswith("-") and not line.startswith("---")
            else "bold"
            if line.startswith(("---", "+++", "@@"))
            else ""
        )
        console.print(Text(line.rstrip("\n"), style=style), soft_wrap=True)


def _say(console: Console, text: Text, style: str = "") -> None:
    # Whole when piped (a CI log): rich folded a long command or path at 80 columns.
    console.print(text, style=style, soft_wrap=not console.is_terminal)


def _report_lines(console: Console, report: CheckReport, indent: str = "  ") -> None:
    for command in report.commands:
        mark = "ok  " if command.passed else "FAIL"
        extra = f" ({command.cut})" if command.cut else ""
        _say(
            console,
            Text(f"{indent}{mark} {command.command}  {command.duration_s:.1f} s{extra}"),
            style="green" if command.passed else "red",
        )
    if report.skipped:
        _say(console, Text(f"{indent}{report.skipped} more command(s) not run"), style="dim")


def print_checks(
    console: Console, result: FusionResult, path: str, text: str, start: int, end: int
) -> None:
    """The diff the fix makes, each candidate's checks, and the offered fix's checks."""
    from fuse_ls.verify.verifier import splice

    if result.answer is None:
        return
    try:
        print_diff(console, path, text, splice(text, start, end, result.answer))
    except FuseError as exc:
        _say(console, Text(str(exc), style="yellow"))
    if result.checks:
        _say(console, Text("candidates:", style="bold"))
        for c in result.checks:
            verdict = "passed" if c.report.passed else "failed"
            _say(
                console,
                Text(f"  {c.model}: checks {verdict}"),
                style="green" if c.report.passed else "red",
            )
    report = result.answer_check
    if report is None:
        return
    _say(
        console,
        Text(f"fused fix: {report.summary()}", style="bold green" if report.passed else "bold red"),
    )
    _report_lines(console, report)
    if not report.passed and report.failing_lines():
        _say(console, Text(report.failing_lines(20)), style="red")


def apply_if_asked(
    args: argparse.Namespace,
    err: Console,
    path: Path,
    text: str,
    request: Any,
    answer: str,
    checks_failed: bool,
) -> int | None:
    """`fix --apply` / `--apply-anyway`: write the fused fix into `path` unless its checks
    failed (`--apply-anyway` writes it regardless). An exit code if writing failed."""
    from fuse_ls.cli import _error, _shown
    from fuse_ls.verify.verifier import splice

    if not (getattr(args, "apply", False) or getattr(args, "apply_anyway", False)):
        return None
    if checks_failed and not args.apply_anyway:
        err.print(
            f"not applied: the fused fix did not pass its checks; {_shown(path)} is unchanged "
            "(--apply-anyway applies it regardless)",
            markup=False,
        )
        return None
    try:
        fixed = splice(text, request.start_line, request.end_line, answer)
        path.write_text(fixed, encoding="utf-8")
    except FuseError as exc:
        _error(err, exc)
        return 2
    if checks_failed:
        err.print(
            f"applied the fused fix to {_shown(path)} although it did not pass its checks "
            "(--apply-anyway)",
            markup=False,
        )
    else:
        passed = " (checks passed)" if wants_checks(args) else ""
        err.print(f"applied the fused fix to {_shown(path)}{passed}", markup=False)
    return None


# --- `fuse-ls review --uncommitted --fix [--verify] [--apply|--apply-anyway]` ---------


def wants_fixes(args: argparse.Namespace) -> bool:
    return any(getattr(args, n, False) for n in ("fix", "verify", "apply", "apply_anyway"))


def wants_checks(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "verify", False) or getattr(args, "apply_anyway", False))


@define
class FixesOutcome:
    """What became of a change review's fixes: printed after the review, in its JSON."""

    fixes: ReviewFixes
    report: CheckReport | None = None  # None: not verified
    applied: bool = False
    reason: str | None = None  # why they were not applied (when --apply was asked)
    exit_code: int | None = None  # overrides the review's own exit code

    def to_json(self) -> dict[str, Any]:
        from fuse_ls.cli.report import check_json

        return {
            "files": [f.path for f in self.fixes.files],
            "count": self.fixes.count,
            "diff": self.fixes.diff(),
            "skipped": [{"at": at, "why": why} for at, why in self.fixes.skipped],
            "checks": check_json(self.report),
            "applied": self.applied,
            "reason": self.reason,
        }

    def print(self, console: Console) -> None:
        fixes = self.fixes
        console.print()
        if not fixes.files:
            _say(console, Text("No fixes to try: no reported finding proposes one.", style="dim"))
        else:
            n_files = len(fixes.files)
            _say(
                console,
                Text(
                    f"fixes: {fixes.count} fix(es) in {n_files} file{'s' if n_files != 1 else ''}",
                    style="bold",
                ),
            )
            for f in fixes.files:
                print_diff(console, f.path, f.base, f.fixed)
        for at, why in fixes.skipped:
            _say(console, Text(f"  left out {at}: {why}", style="dim"))
        report = self.report
        if report is None:
            if fixes.files and not self.applied and self.reason is None:
                _say(
                    console,
                    Text(
                        "not applied: --verify tries them together with verify.commands, "
                        "--apply writes them",
                        style="dim",
                    ),
                )
            return
        style = "bold green" if report.passed else "bold red"
        _say(console, Text(f"fixes together: {report.summary()}", style=style))
        _report_lines(console, report)
        if not report.passed and report.failing_lines():
            _say(console, Text(report.failing_lines(20)), style="red")


def review_fixes(
    args: argparse.Namespace,
    findings: Sequence[tuple[str, Path, str, FusedFinding]],
    root: Path,
    settings: Settings,
    err: Console,
) -> FixesOutcome:
    """Plan the fixes of a change review's findings, verify them together in one isolated
    copy (--verify), and write them (--apply: only when the checks passed; --apply-anyway:
    also when they failed, said so). KeyboardInterrupt propagates with nothing written."""
    from fuse_ls.verify.changes import (
        StaleFiles,
        apply_fixes,
        plan_fixes,
        stale_files,
        verify_fixes,
    )

    outcome = FixesOutcome(plan_fixes(findings))
    if not outcome.fixes.files:
        return outcome
    verify = wants_checks(args)
    stale = stale_files(outcome.fixes)
    if stale and (verify or getattr(args, "apply", False)):
        # Nothing to try: the fixes were written for text that is no longer there.
        outcome.reason, outcome.exit_code = str(StaleFiles(stale)), 2
        err.print(Text("not tried: ", style="red") + Text(outcome.reason))
        return outcome
    if verify:
        outcome.report = asyncio.run(
            verify_fixes(
                outcome.fixes,
                root,
                check_commands(settings),
                max_output_bytes=settings.verify.max_output_kb * 1024,
            )
        )
    failed = outcome.report is not None and not outcome.report.passed
    if failed:
        outcome.exit_code = 1
    if not (getattr(args, "apply", False) or getattr(args, "apply_anyway", False)):
        return outcome
    files = ", ".join(visible(f.path) for f in outcome.fixes.files)  # a PR names them
    if failed and not args.apply_anyway:
        outcome.reason = "the fixes did not pass their checks"
        err.print(
            Text(
                f"not applied: the fixes did not pass their checks; {files} unchanged "
                "(--apply-anyway applies them regardless)"
            )
        )
        return outcome
    try:
        apply_fixes(outcome.fixes)
    except FuseError as exc:  # StaleFiles, FixesNotWritten: nothing applied
        outcome.reason, outcome.exit_code = str(exc), 2
        err.print(Text("not applied: ", style="red") + Text(str(exc)))
        return outcome
    outcome.applied = True
    if failed:
        err.print(
            Text(
                f"applied {outcome.fixes.count} fix(es) to {files} although they did not pass "
                "their checks (--apply-anyway)"
            )
        )
    else:
        passed = " (checks passed)" if verify else ""
        err.print(Text(f"applied {outcome.fixes.count} fix(es) to {files}{passed}"))
    return outcome
