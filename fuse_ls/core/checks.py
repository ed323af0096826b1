"""Results of running the project's checks on a candidate fix (issue 15, verified fixes).

The engine sees checks only through these values and the `Verifier` callable a caller
passes in: it never starts a process. `fuse_ls.verify` makes the isolated copy and runs
the commands; the CLI and the server build the verifier for one fusion.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from attrs import frozen


@frozen
class CommandResult:
    """One check command's run in the isolated copy."""

    command: str
    exit_code: int | None  # None: it never exited by itself (timed out, cancelled, not started)
    duration_s: float
    output: str  # stdout and stderr interleaved, bounded (see `cut`)
    # Why the run or its output was cut short, in words: "timed out after 30 s (killed)",
    # "output cut to the first 8 KB and last 24 KB", "cancelled". None: nothing was cut.
    cut: str | None = None
    timed_out: bool = False

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def status_text(self) -> str:
        if self.timed_out:
            return f"`{self.command}` timed out after {self.duration_s:.1f} s"
        if self.exit_code is None:
            return f"`{self.command}` did not finish" + (f" ({self.cut})" if self.cut else "")
        if self.exit_code == 0:
            return f"`{self.command}` passed"
        return f"`{self.command}` exited {self.exit_code}"


@frozen
class CheckReport:
    """The checks of one candidate fix: every command ran (or the first failure stopped
    the rest), or the isolated copy could not be made (`error`)."""

    commands: tuple[CommandResult, ...]
    duration_s: float
    error: str | None = None  # the copy could not be made or the fix not applied there
    skipped: int = 0  # commands not run because an earlier one failed

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.commands) and all(c.passed for c in self.commands)

    @property
    def failed_command(self) -> CommandResult | None:
        return next((c for c in self.commands if not c.passed), None)

    def summary(self) -> str:
        """One line for people: "checks passed (3 commands, 8.2 s)"."""
        n = len(self.commands) + self.skipped
        what = f"{n} command{'s' if n != 1 else ''}, {self.duration_s:.1f} s"
        if self.error is not None:
            return f"checks not run: {self.error}"
        if self.passed:
            return f"checks passed ({what})"
        failed = self.failed_command
        why = failed.status_text() if failed is not None else "no command ran"
        return f"checks failed: {why} ({what})"

    def failing_lines(self, limit: int = 12) -> str:
        """The last `limit` non-empty lines of the first failing command's output."""
        failed = self.failed_command
        if failed is None:
            return self.error or ""
        lines = [line for line in failed.output.splitlines() if line.strip()]
        return "\n".join(lines[-limit:])


@frozen
class CandidateCheck:
    """A pool candidate's fix and how its checks went."""

    model: str
    index: int
    report: CheckReport


# Given the replacement text for the selected lines, apply it in an isolated copy and run
# the checks there. Raising is a bug; a failure to set up is a report with `error`.
Verifier = Callable[[str], Awaitable[CheckReport]]
