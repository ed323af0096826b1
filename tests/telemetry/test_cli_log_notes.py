"""What telemetry's troubles look like on the stderr of a real `fuse-ls review`: fuse-ls's
own warnings as one-line `note:`s like the CLI's others, the libraries' chatter (an
OpenTelemetry exporter retrying) hidden unless FUSE_LS_LOG_LEVEL asks for it."""

from __future__ import annotations

import threading
from pathlib import Path

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


def test_the_log_level_variable_shows_them_named(emulator: Emulator, tmp_path: Path) -> None:
    lines, taken = _collector_run(emulator, tmp_path, FUSE_LS_LOG_LEVEL="warning")
    assert taken == ["/v1/metrics", "/v1/traces"]
    retries = [line for line in lines if "Transient error" in line]
    assert len(retries) == 2, lines
    assert all(line.startswith("warning: opentelemetry.exporter.") for line in retries)
