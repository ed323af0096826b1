"""What telemetry's troubles look like on the stderr of a real `fuse-ls review`: fuse-ls's
own warnings as one-line `note:`s like the CLI's others, the libraries' chatter (an
OpenTelemetry exporter retrying) hidden unless FUSE_LS_LOG_LEVEL asks for it, and a
collector that is down, silent or failing costing a run one note, not 15-20 s at exit."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fuse_ls.emulator import Emulator
from tests.loopback_http import LoopbackServer, QuietHandler
from tests.pool_sample import CODE, JUDGE, POOL, home_env, run_cli


def review_env(emulator: Emulator, home: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in home_env(emulator.base_url, home).items() if not k.startswith("OTEL")}
    env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, **more)
    return env


def review(emulator: Emulator, home: Path, **more: str) -> list[str]:
    (home / "app.py").write_text(CODE)
    done = run_cli(["review", "app.py"], review_env(emulator, home, **more), home)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stderr.splitlines()


def test_a_telemetry_failure_is_one_note(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sessions").write_text("a file where the sessions go")
    lines = review(emulator, tmp_path)
    about = [line for line in lines if "telemetry" in line]
    assert len(about) == 1, lines
    assert about[0].startswith("note: telemetry disabled for this session after an error: ")
    assert "Not a directory" in about[0]


def busy_once(taken: list[str]) -> type[QuietHandler]:
    """An OTLP collector that is busy once per signal (503, retry at once), then takes it;
    the paths it took are appended to `taken`."""
    busy: set[str] = set()
    lock = threading.Lock()

    class BusyOnce(QuietHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            with lock:
                first = self.path not in busy
                busy.add(self.path)
                if not first:
                    taken.append(self.path)
            self.send_response(503 if first else 200)
            if first:
                self.send_header("retry-after", "0")
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", "0")
            self.end_headers()

    return BusyOnce


def _collector_run(emulator: Emulator, home: Path, **more: str) -> tuple[list[str], list[str]]:
    taken: list[str] = []
    with LoopbackServer(busy_once(taken)) as collector:
        lines = review(
            emulator,
            home,
            FUSE_LS_TELEMETRY__OTEL="true",
            FUSE_LS_TELEMETRY__OTEL_ENDPOINT=collector.url,
            **more,
        )
    return lines, sorted(taken)


def test_library_retries_are_not_shown(emulator: Emulator, tmp_path: Path) -> None:
    lines, taken = _collector_run(emulator, tmp_path)
    assert taken == ["/v1/metrics", "/v1/traces"]  # each retried once, then exported
    assert [line for line in lines if "Transient" in line or "opentelemetry" in line] == []
    assert all(line.startswith(("[fuse-ls] ", "note: ")) for line in lines), lines
    assert [line for line in lines if "telemetry" in line] == []  # it all arrived


def test_the_log_level_variable_shows_them_named(emulator: Emulator, tmp_path: Path) -> None:
    lines, taken = _collector_run(emulator, tmp_path, FUSE_LS_LOG_LEVEL="warning")
    assert taken == ["/v1/metrics", "/v1/traces"]
    retries = [line for line in lines if "Transient error" in line]
    assert len(retries) == 2, lines
    assert all(line.startswith("warning: opentelemetry.exporter.") for line in retries)


class Failing(QuietHandler):
    """A collector that is always busy (503): the exporters back off and retry."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(503)
        self.send_header("content-length", "0")
        self.end_headers()


@contextmanager
def collector(kind: str) -> Iterator[str]:
    """The URL of a loopback collector that is `silent` (takes the connection, never
    answers), `down` (nothing listens) or `failing` (answers 503)."""
    if kind == "failing":
        with LoopbackServer(Failing) as server:
            yield server.url
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        if kind == "silent":
            sock.listen(8)  # the kernel completes the handshakes; no one ever reads
            yield url
            return
    yield url  # closed: the port refuses


@pytest.mark.parametrize("kind", ["silent", "down", "failing"])
def test_a_collector_that_does_not_take_the_export_costs_one_note(
    emulator: Emulator, tmp_path: Path, kind: str
) -> None:
    """The exporters used to retry for their 10 s timeout per signal, one after the
    other, at every run's exit (15-20 s for a review done in under one)."""
    (tmp_path / "app.py").write_text(CODE)
    with collector(kind) as url:
        env = review_env(
            emulator,
            tmp_path,
            FUSE_LS_TELEMETRY__OTEL="true",
            FUSE_LS_TELEMETRY__OTEL_ENDPOINT=url,
        )
        try:
            # Generous: the bounded exit takes about 2.5 s; it took 15 s and more.
            done = run_cli(["review", "app.py"], env, tmp_path, timeout=8)
        except subprocess.TimeoutExpired:
            pytest.fail(f"fuse-ls review still waiting on a {kind} collector after 8 s")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    about = [line for line in lines if "telemetry" in line or "opentelemetry" in line]
    assert about == [
        "note: telemetry export did not finish: the OpenTelemetry collector at "
        f"{url} refused or did not answer; traces or metrics are missing there "
        "(FUSE_LS_LOG_LEVEL=warning shows the exporter's errors)"
    ], lines
