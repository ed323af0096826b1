"""The verifier of one fused fix: every candidate replacement of the same lines is tried
in one isolated copy (made once, reset between candidates) and checked with the user's
`verify.commands`.

The copy starts being made as soon as the verifier is created, while the models still
think, so checks start right after a fix is ready. Several fusions verify at once under
a shared limit (`Verifications`).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from fuse_ls.core.checks import CheckReport
from fuse_ls.core.errors import FuseError
from fuse_ls.core.lines import keep_blank_edges, split_keepends
from fuse_ls.core.redact import restore
from fuse_ls.verify.run import CheckCommand, run_checks
from fuse_ls.verify.sandbox import Sandbox, open_sandbox


def splice(text: str, start: int, end: int, replacement: str) -> str:
    """`text` with lines start..end (1-based, inclusive) replaced by `replacement`, with
    the secrets the model saw redacted put back (RedactedFix when they cannot be)."""
    lines = split_keepends(text)
    original = "".join(lines[start - 1 : end])
    replacement = keep_blank_edges(restore(replacement, original), original)
    new = replacement if replacement.endswith("\n") else replacement + "\n"
    lines[start - 1 : end] = [new]
    return "".join(lines)


class Verifications:
    """The limit on concurrent verifications (one per server or CLI run)."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = max(1, concurrency)
        self._semaphore: asyncio.Semaphore | None = None

    @property
    def semaphore(self) -> asyncio.Semaphore:
        # Made on first use, inside the event loop that runs the verifications.
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        return self._semaphore


class FixVerifier:
    """A `fuse_ls.core.checks.Verifier` for one file's selected lines."""

    def __init__(
        self,
        workspace: Path,
        path: Path,
        base_text: str,
        start_line: int,
        end_line: int,
        commands: list[CheckCommand],
        *,
        max_output_bytes: int,
        limits: Verifications | None = None,
        parent: Path | None = None,
    ) -> None:
        self.workspace = workspace
        self.path = path
        self.base_text = base_text  # the file as the models saw it (an editor's buffer)
        self.start_line, self.end_line = start_line, end_line
        self.commands = commands
        self.max_output_bytes = max_output_bytes
        self.limits = limits or Verifications(1)
        self.parent = parent
        self._lock = asyncio.Lock()
        self._sandbox: asyncio.Task[Sandbox] | None = None
        self.reports: list[CheckReport] = []
        # For bench/bench_verify.py: when the first check of the last candidate started.
        self.last_ready_at = 0.0
        self.last_started_at = 0.0

    def start(self) -> None:
        """Begin making the isolated copy now (in the background)."""
        if self._sandbox is None:
            self._sandbox = asyncio.create_task(open_sandbox(self.workspace, self.parent))

    async def __call__(self, replacement: str) -> CheckReport:
        self.last_ready_at = time.perf_counter()
        async with self.limits.semaphore, self._lock:
            began = time.perf_counter()
            self.start()
            assert self._sandbox is not None
            try:
                sandbox = await asyncio.shield(self._sandbox)
                sandbox.reset()
                fixed = splice(self.base_text, self.start_line, self.end_line, replacement)
                sandbox.write(self.path, fixed)
            except (FuseError, OSError, ValueError) as exc:
                report = CheckReport((), time.perf_counter() - began, error=str(exc))
                self.reports.append(report)
                return report
            try:
                self.last_started_at = time.perf_counter()
                report = await run_checks(self.commands, sandbox.workspace, self.max_output_bytes)
            finally:
                sandbox.reset()
        self.reports.append(report)
        return report

    async def aclose(self) -> None:
        """Remove the copy (waits for a copy still being made, cancelling it)."""
        task, self._sandbox = self._sandbox, None
        if task is None:
            return
        if not task.done():
            task.cancel()
        closing = asyncio.ensure_future(_close_when_made(task))
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            await closing  # the copy goes first, then the cancel goes on
            raise

    async def __aenter__(self) -> FixVerifier:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.shield(self.aclose())


async def _close_when_made(task: asyncio.Task[Sandbox]) -> None:
    try:
        sandbox = await task
    except BaseException:
        return  # open_sandbox removed its own half-made copy
    await sandbox.close()
