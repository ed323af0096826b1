"""`fuse-ls doctor` says when `telemetry.otel = true` cannot export: without the otel
extra a run only logs it (telemetry never stops a run), so doctor showed all good while
nothing was exported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.pool_sample import isolated_env

# `fuse-ls doctor` as a process on a machine without OpenTelemetry (whether or not it is
# installed here): a None entry in sys.modules makes every import of it fail.
DOCTOR = """
import sys
if sys.argv[1] == "without":
    sys.modules["opentelemetry"] = None
from fuse_ls.cli import main
sys.exit(main(["doctor", "--offline", "--json"]))
"""


def otel_row(tmp_path: Path, otel: str, **env: str) -> dict[str, Any] | None:
    done = subprocess.run(
        [sys.executable, "-c", DOCTOR, otel],
        cwd=tmp_path,
        env=isolated_env(tmp_path, **{"FUSE_LS_TELEMETRY__OTEL": "true", **env}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode in (0, 1), done.stderr
    rows = [c for c in json.loads(done.stdout)["checks"] if c["check"] == "telemetry.otel"]
    assert len(rows) <= 1
    return rows[0] if rows else None


def test_otel_on_without_the_extra_is_a_warning_with_the_install_command(
    tmp_path: Path,
) -> None:
    row = otel_row(tmp_path, "without")
    assert row is not None
    assert row["status"] == "warning"
    assert "OpenTelemetry is not installed: nothing is exported" in row["detail"]
    assert "pip install 'fuse-ls[otel]'" in row["detail"]
    assert ".venv/bin/pip install -e '.[otel]'" in row["detail"]


def test_otel_on_with_the_extra_names_where_it_exports_without_a_password(
    tmp_path: Path,
) -> None:
    row = otel_row(
        tmp_path, "with", FUSE_LS_TELEMETRY__OTEL_ENDPOINT="http://me:hunter2@127.0.0.1:4318"
    )
    assert row is not None and row["status"] == "ok"
    assert "http://127.0.0.1:4318" in row["detail"] and "hunter2" not in row["detail"]


def test_otel_sdk_disabled_and_otel_off(tmp_path: Path) -> None:
    row = otel_row(tmp_path, "with", OTEL_SDK_DISABLED="true")
    assert row is not None and row["status"] == "info"
    assert "OTEL_SDK_DISABLED=true" in row["detail"]
    assert otel_row(tmp_path, "with", FUSE_LS_TELEMETRY__OTEL="false") is None
