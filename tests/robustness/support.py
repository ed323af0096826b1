"""Shared pieces of the robustness suite: a pool on the emulator, engine settings, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fuse_ls.config import Settings
from fuse_ls.core.types import FusionRequest
from fuse_ls.emulator import Emulator
from tests.pool_sample import CODE, JUDGE, POOL, A, B, C, home_env, pool_settings
from tests.pool_sample import run_cli as run_cli  # the robustness tests import it from here

EVAL = {
    "match": "eval(",
    "message": "eval() on user input runs arbitrary code",
    "severity": "error",
    "category": "security",
    "replace": "ast.literal_eval(",
}
EXCEPT = {
    "match": "except:",
    "message": "bare except hides every error",
    "severity": "warning",
    "category": "error-handling",
}
FIX = {"find": "eval(", "replace": "ast.literal_eval(", "explanation": "parse, do not run"}


def script(**faults: list[dict[str, Any]]) -> dict[str, Any]:
    """The pool and judge; `faults` maps a model id to its fault list."""
    models: dict[str, Any] = {
        A: {"findings": [EVAL, EXCEPT], "text": "It loads rows. It uses eval.", "fix": FIX},
        B: {"findings": [EVAL], "text": "It loads rows. Eval is unsafe here.", "fix": FIX},
        C: {"findings": [EVAL, EXCEPT], "text": "Loads rows with eval.", "fix": FIX},
        JUDGE: {},
    }
    for model, fault_list in faults.items():
        models[model] = {**models[model], "faults": fault_list}
    return {"models": models, "judge": {"merge_answer": "It loads rows with eval()."}}


def settings_for(emu: Emulator, data_dir: Path, mode: str = "merge") -> Settings:
    quick_retries = {"retries.backoff_base_s": 0.01, "retries.backoff_max_s": 0.05}
    return pool_settings(
        emu.base_url, data_dir, mode, {**quick_retries, "budget.max_usd_per_request": None}
    )


def request(task: str = "review", code: str = CODE, path: str = "app.py") -> FusionRequest:
    return FusionRequest(
        task=task,  # type: ignore[arg-type]
        path=path,
        language="python",
        code=code,
        start_line=1,
    )


def cli_env(emu: Emulator, home: Path, **extra: str) -> dict[str, str]:
    env = home_env(emu.base_url, home)
    env.update(
        FUSE_LS_MODELS=",".join(POOL),
        FUSE_LS_JUDGE=JUDGE,
        COLUMNS="200",
        PYTHONIOENCODING="utf-8",
        **extra,
    )
    return env


def content_fault(payload: Any, schemas: list[str] | None = None) -> dict[str, Any]:
    """A model that answers exactly `payload` (JSON-encoded unless it is already text)."""
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return {"kind": "content", "content": text, "schemas": schemas or []}
