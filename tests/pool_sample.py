"""The pool of model ids, the sample file and a `fuse-ls` process shared across tests/
(the command line, change review, the engine, telemetry, security, robustness, the server):
the engine's settings for that pool, and a process environment of a test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fuse_ls.config import ModelSpec, Settings, replace

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


def home_env(base_url: str, home: Path) -> dict[str, str]:
    """`outside_env` for a fuse-ls process on `base_url` (the emulator) whose config, data
    and caches are under `home`: nothing of the developer's is read or written."""
    env = outside_env("XDG_")
    env.update(
        FUSE_LS_BASE_URL=base_url,
        FUSE_LS_DATA_DIR=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "share"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    return env


def pool_settings(
    base_url: str, data_dir: Path, mode: str = "merge", more: Mapping[str, Any] | None = None
) -> Settings:
    """The engine's settings for this pool and judge on `base_url`, recording into
    `data_dir`, with no daily budget; `more` changes further dotted keys."""
    return replace(
        Settings(),
        {
            "provider.base_url": base_url,
            "pool": [ModelSpec(m) for m in POOL],
            "judge": ModelSpec(JUDGE),
            "mode": mode,
            "telemetry.data_dir": str(data_dir),
            "budget.max_usd_per_day": None,
            **(more or {}),
        },
    )


def isolated_env(home: Path, **env: str) -> dict[str, str]:
    """`outside_env` whose user config and data live under `home` (`.config`, `.data`)."""
    environ = outside_env("XDG_")
    environ.update(XDG_CONFIG_HOME=str(home / ".config"), FUSE_LS_DATA_DIR=str(home / ".data"))
    environ.update(env)
    return environ


def run_cli(
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    timeout: float = 60,
    stdin: str | None = None,
    preexec_fn: Callable[[], object] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fuse_ls", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )
