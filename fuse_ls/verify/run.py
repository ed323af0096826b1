"""Run the user's check commands in an isolated copy: bounded in time and output,
cancellable, and never leaving a process behind.

Each command runs through the shell (the user wrote it as a command line) in a session
of its own, so the whole process group (a test runner and the workers it forks) is
killed on timeout or cancel, and whatever it left running when it exited is killed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from attrs import frozen

from fuse_ls.config import Settings
from fuse_ls.core.checks import CheckReport, CommandResult
from fuse_ls.core.keyscope import OPENROUTER_KEY_ENV

RUDEL_KEY_ENV = "RUDEL_API_KEY"  # read by fuse_ls/telemetry/rudel.py
# fuse-ls's own OpenTelemetry export reads these; they carry the user's collector token.
OTEL_HEADER_ENVS = tuple(
    f"OTEL_EXPORTER_OTLP{signal}_HEADERS" for signal in ("", "_TRACES", "_METRICS", "_LOGS")
)
_TERM_GRACE_S = 1.0  # after SIGTERM, before SIGKILL
_READ_CHUNK = 65536


@frozen
class CheckCommand:
    run: str
    timeout_s: float
    # Variables the command does not get: the model keys (see check_commands).
    hidden_env: tuple[str, ...] = ()


def check_commands(settings: Settings) -> list[CheckCommand]:
    """The checks in force, without the model API keys in their environment: a check runs
    the fix a model wrote (pytest imports it), and a model steered by text it read could
    write one that sends `os.environ["OPENROUTER_API_KEY"]` away. A project's checks need
    no key of fuse-ls's models, nor the Rudel key that uploads the user's transcripts, nor
    the headers (a collector token) fuse-ls's OpenTelemetry export sends."""
    specs = [*settings.pool, settings.judge]
    keys: set[str | None] = {OPENROUTER_KEY_ENV, RUDEL_KEY_ENV, settings.provider.api_key_env}
    keys.update(OTEL_HEADER_ENVS)
    keys.update(settings.endpoint_for(spec).api_key_env for spec in specs)
    hidden = tuple(sorted(k for k in keys if k))
    v = settings.verify
    return [CheckCommand(c.run, c.timeout_s or v.timeout_s, hidden) for c in v.commands]


class _Bounded:
    """The first quarter and the last three quarters of `limit` bytes: a failing test's
    summary is at the end, its first error near the start."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit // 4
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def cut(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def text(self) -> str:
        head = self.head.decode("utf-8", "replace")
        tail = self.tail.decode("utf-8", "replace")
        if not self.cut:
            return head + tail
        dropped = self.total - len(self.head) - len(self.tail)
        return f"{head}\n[... {dropped} bytes of output cut ...]\n{tail}"


def _kill_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def _stop(proc: asyncio.subprocess.Process, graceful: bool) -> None:
    """End the command's whole process group; SIGTERM first when it is still running."""
    if proc.returncode is None and graceful:
        _kill_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), _TERM_GRACE_S)
    _kill_group(proc.pid, signal.SIGKILL)
    if proc.returncode is None:
        await proc.wait()


async def _drain(stream: asyncio.StreamReader, out: _Bounded) -> None:
    while chunk := await stream.read(_READ_CHUNK):
        out.add(chunk)


def _kb(n: int) -> str:
    return f"{n // 1024} KB" if n >= 1024 else f"{n} bytes"


async def run_command(command: CheckCommand, cwd: Path, max_output_bytes: int) -> CommandResult:
    began = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k not in command.hidden_env}
    env["FUSE_LS_VERIFY"] = "1"
    try:
        proc = await asyncio.create_subprocess_shell(
            command.run,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return CommandResult(command.run, None, 0.0, "", cut=f"could not start: {exc}")
    out = _Bounded(max_output_bytes)
    assert proc.stdout is not None
    reader = asyncio.create_task(_drain(proc.stdout, out))
    timed_out = False
    cancelled = False
    try:
        await asyncio.wait_for(proc.wait(), command.timeout_s)
    except TimeoutError:
        timed_out = True
    except asyncio.CancelledError:
        cancelled = True
        raise
    finally:
        # Also on cancel: the group dies before the copy it runs in is removed.
        await asyncio.shield(_stop(proc, graceful=timed_out or cancelled))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), 2.0)
        reader.cancel()
    notes = []
    if timed_out:
        notes.append(f"timed out after {command.timeout_s:g} s (killed)")
    if out.cut:
        notes.append(
            f"output cut to the first {_kb(out.head_limit)} and last {_kb(out.tail_limit)} "
            f"of {_kb(out.total)}"
        )
    return CommandResult(
        command=command.run,
        exit_code=None if timed_out else proc.returncode,
        duration_s=time.perf_counter() - began,
        output=out.text(),
        cut="; ".join(notes) or None,
        timed_out=timed_out,
    )


async def run_checks(
    commands: Sequence[CheckCommand], cwd: Path, max_output_bytes: int
) -> CheckReport:
    """Run the commands in order; the first failure stops the rest (counted as skipped)."""
    began = time.perf_counter()
    results: list[CommandResult] = []
    for command in commands:
        result = await run_command(command, cwd, max_output_bytes)
        results.append(result)
        if not result.passed:
            break
    return CheckReport(
        commands=tuple(results),
        duration_s=time.perf_counter() - began,
        skipped=len(commands) - len(results),
    )
