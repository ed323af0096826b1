"""The pool, the sample file and a `fuse-ls` process shared by the command-line tests
(tests/cli, tests/changes) and the robustness suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

A, B, C, JUDGE = (
    "anthropic/claude-sonnet-4.5",
    "openai/gpt-5",
    "google/gemini-2.5-pro",
    "openai/gpt-5-mini",
)
POOL = (A, B, C)
CODE = """\
def load(user_input, rows=[]):
    value = eval(user_input)
    try:
        rows.append(value)
    except:
        pass
    return rows
"""


def outside_env(*also: str) -> dict[str, str]:
    """This process's environment without what would pick the models, endpoint, key or
    settings of a run (variables starting with `also` too): each test sets its own."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("FUSE_LS_", "OPENROUTER", *also))
    }


def run_cli(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fuse_ls", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
