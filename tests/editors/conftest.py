"""Fixtures for driving real editors (Neovim 0.11 headless) against the real fuse-ls server
and the model emulator.

Each Lua test script (tests/editors/lua/*.lua) writes a JSON report to $FUSE_TEST_OUT
and exits 0 when every check passed; `run_nvim` returns that report.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from editor_support import (
    BASE_SCRIPT,
    LUA_DIR,
    NVIM_HINT,
    SAMPLE_PY,
    NvimRun,
    _read_report,
    find_nvim,
    hermetic_env,
)


@pytest.fixture(scope="session")
def nvim_bin() -> Path:
    exe = find_nvim()
    if exe is None:
        pytest.fail(NVIM_HINT)
    out = subprocess.run(
        [str(exe), "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout
    if "NVIM v0.11" not in out and "NVIM v0.12" not in out:
        pytest.fail(f"need Neovim 0.11+, got: {out.splitlines()[:1]}\n{NVIM_HINT}")
    return exe


@pytest.fixture
def emulator(emulator_factory: Any) -> Any:
    """The emulator with this suite's pool (tests/conftest.py starts and stops it)."""
    return emulator_factory(BASE_SCRIPT)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / ".fuse-ls.toml").write_text("# fuse-ls workspace marker for the editor tests\n")
    (ws / "sample.py").write_text(SAMPLE_PY)
    return ws


@pytest.fixture
def run_nvim(nvim_bin: Path, tmp_path: Path) -> Any:
    counter = [0]

    def run(
        script: str,
        *,
        workspace: Path,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
        cwd: Path | None = None,
    ) -> NvimRun:
        counter[0] += 1
        out = tmp_path / f"report-{counter[0]}.json"
        full_env = hermetic_env(tmp_path, env)
        full_env["FUSE_TEST_OUT"] = str(out)
        full_env["FUSE_TEST_WORKSPACE"] = str(workspace)
        full_env["FUSE_TEST_SERVER_LOG"] = str(tmp_path / f"server-{counter[0]}.log")
        argv = [
            str(nvim_bin),
            "--headless",
            "--clean",
            "-u",
            "NONE",
            "-i",
            "NONE",
            "-n",
            "-l",
            str(LUA_DIR / script),
        ]
        try:
            proc = subprocess.run(
                argv,
                cwd=workspace if cwd is None else cwd,
                env=full_env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            report = _read_report(out)
            pytest.fail(
                f"nvim did not finish {script} in {timeout}s\n"
                f"partial report: {json.dumps(report, indent=1)[:4000]}\n"
                f"stderr: {(exc.stderr or b'')[-3000:]!r}"
            )
        return NvimRun(proc.returncode, _read_report(out), proc.stdout, proc.stderr)

    return run
