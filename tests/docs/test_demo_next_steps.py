"""The demo's next steps work for the user who just ran step 1 of the README
(`.venv/bin/fuse-ls demo`, the environment not activated): the `fuse-ls ...` lines it
prints would say "command not found", so it first prints the line that activates it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pool_sample import outside_env, run_cli

VENV_BIN = Path(sys.prefix) / "bin"

pytestmark = pytest.mark.skipif(
    sys.prefix == sys.base_prefix or not (VENV_BIN / "activate").is_file(),
    reason="the tests run from a virtual environment, as the README installs fuse-ls",
)


def demo(cwd: Path, path: str) -> list[str]:
    env = outside_env()
    env.update(PATH=path, COLUMNS="80", FUSE_LS_DATA_DIR=str(cwd / ".data"))
    res = run_cli(["demo"], env, cwd, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def path_without_the_venv() -> str:
    return os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if p and Path(p) != VENV_BIN
    )


def test_an_inactive_environment_gets_the_line_that_activates_it(tmp_path: Path) -> None:
    path = path_without_the_venv()
    if subprocess.run(["bash", "-c", "command -v fuse-ls"], env={"PATH": path}).returncode == 0:
        pytest.skip("another fuse-ls is on PATH: nothing to activate")
    lines = demo(tmp_path, path)
    # Panels and tables fit; a line of text (the summary) is whole when piped.
    assert max(len(line) for line in lines if not line.startswith("mode ")) <= 80
    start = next(i for i, line in enumerate(lines) if "To review your own code" in line)
    activate = lines[start + 1]
    assert activate.split()[:1] == ["."] and "activate" in activate, activate
    # Pasted as printed (panel padding and all), it puts this fuse-ls on PATH.
    shell = subprocess.run(
        ["bash", "-c", activate + "\ncommand -v fuse-ls"],
        env={"PATH": path},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert shell.returncode == 0, shell.stderr
    assert Path(shell.stdout.strip()) == VENV_BIN / "fuse-ls"


def test_an_active_environment_gets_no_such_line(tmp_path: Path) -> None:
    lines = demo(tmp_path, os.pathsep.join([str(VENV_BIN), path_without_the_venv()]))
    assert not [line for line in lines if "activate" in line]
    assert any("fuse-ls review path/to/file.py" in line for line in lines)
