"""`fuse-ls fix TARGET --verify`: try the fused fix in an isolated copy, print the diff and
the check results, and (with --apply) write only a fix whose checks passed."""

from __future__ import annotations

import difflib
from pathlib import Path

from rich.console import Console
from rich.text import Text

from fuse_ls.config import Settings
from fuse_ls.core.checks import CheckReport
from fuse_ls.core.errors import FuseError
from fuse_ls.core.types import FusionResult
from fuse_ls.verify.run import CheckCommand
from fuse_ls.verify.verifier import FixVerifier, Verifications, splice

NO_COMMANDS = (
    "--verify needs check commands: set `verify.commands` (for example "
    '`commands = ["python -m pytest -q -x"]` under [verify]) in your user config, or in '
    "the workspace's .fuse-ls.toml once the workspace is trusted (`fuse-ls trust`)."
)


def check_commands(settings: Settings) -> list[CheckCommand]:
    v = settings.verify
    return [CheckCommand(c.run, c.timeout_s or v.timeout_s) for c in v.commands]


def make_verifier(
    settings: Settings, workspace: Path, path: Path, text: str, start: int, end: int
) -> FixVerifier:
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
    diff = difflib.unified_diff(
        text.splitlines(keepends=True), fixed.splitlines(keepends=True), f"a/{path}", f"b/{path}"
    )
    for line in diff:
        style = (
            "green"
            if line.startswith("+") and not line.startswith("+++")
            else "red"
            if line.startswith("-") and not line.startswith("---")
            else "bold"
            if line.startswith(("---", "+++", "@@"))
            else ""
        )
        console.print(Text(line.rstrip("\n"), style=style))


def _report_lines(console: Console, report: CheckReport, indent: str = "  ") -> None:
    for command in report.commands:
        mark = "ok  " if command.passed else "FAIL"
        extra = f" ({command.cut})" if command.cut else ""
        console.print(
            Text(f"{indent}{mark} {command.command}  {command.duration_s:.1f} s{extra}"),
            style="green" if command.passed else "red",
        )
    if report.skipped:
        console.print(Text(f"{indent}{report.skipped} more command(s) not run"), style="dim")


def print_checks(
    console: Console, result: FusionResult, path: str, text: str, start: int, end: int
) -> None:
    """The diff the fix makes, each candidate's checks, and the offered fix's checks."""
    if result.answer is None:
        return
    try:
        print_diff(console, path, text, splice(text, start, end, result.answer))
    except FuseError as exc:
        console.print(Text(str(exc), style="yellow"))
    if result.checks:
        console.print(Text("candidates:", style="bold"))
        for c in result.checks:
            verdict = "passed" if c.report.passed else "failed"
            console.print(
                Text(f"  {c.model}: checks {verdict}"),
                style="green" if c.report.passed else "red",
            )
    report = result.answer_check
    if report is None:
        return
    console.print(
        Text(f"fused fix: {report.summary()}", style="bold green" if report.passed else "bold red")
    )
    _report_lines(console, report)
    if not report.passed and report.failing_lines():
        console.print(Text(report.failing_lines(20)), style="red")
