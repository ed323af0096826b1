"""What the verification tests share: the buggy sample project and its check, the pool,
the user's check commands, and a `fuse-ls` process run against a project."""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.changes.gitrepo import Repo
from tests.pool_sample import outside_env, run_cli

CALC = "def add(a, b):\n    return a - b\n"
# The project's own check: tiny and fast, and it fails on the bug above.
CHECK = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
    "import calc; r = calc.add(2, 3); print('add(2, 3) =', r); assert r == 5, r"
)
A, B, C, JUDGE = "emu/a", "emu/b", "emu/c", "emu/judge"
PYTEST = f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider"


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a work tree (outside .git) and its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def user_config(home: Path, commands: list[str], timeout_s: float | None = None) -> None:
    """The user's own config file (a JSON string is a valid TOML string)."""
    folder = home / "fuse-ls"
    folder.mkdir(parents=True, exist_ok=True)
    limit = "" if timeout_s is None else f", timeout_s = {timeout_s}"
    entries = ", ".join(f"{{run = {json.dumps(c)}{limit}}}" for c in commands)
    (folder / "config.toml").write_text(f"[verify]\ncommands = [{entries}]\n")


def environ(tmp_path: Path, base_url: str) -> dict[str, str]:
    env = outside_env()
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "home"),
        FUSE_LS_DATA_DIR=str(tmp_path / "data"),
        FUSE_LS_MODELS=f"{A},{B},{C}",
        FUSE_LS_JUDGE=JUDGE,
        FUSE_LS_BASE_URL=base_url,
        FUSE_LS_MODE="merge",
        TMPDIR=str(tmp),  # where the isolated copies go: the tests check none is left
        COLUMNS="160",
    )
    return env


def fuse(args: list[str], repo: Repo, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_cli(args, env, repo.root, timeout=180)


def interrupt_during_checks(
    args: list[str], cwd: Path, env: dict[str, str], started: Path
) -> tuple[int, str]:
    """Run `fuse-ls ARGS`, press Ctrl-C once its check runs in the copy (the check writes
    `started`), and return the exit status and stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fuse_ls", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not started.exists():  # wait on state: the check is running in the copy
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, err


def copies_left(tmp_path: Path) -> list[str]:
    return [p.name for p in (tmp_path / "tmp").glob("fuse-ls-verify-*")]
