"""Where fuse-ls keeps its files: one rule for the engine, the server and telemetry."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "FUSE_LS_DATA_DIR"


def data_dir(configured: str | None = None, override: str | Path | None = None) -> Path:
    """The data root: `override` (a `--data-dir` flag), the configured
    `telemetry.data_dir`, $FUSE_LS_DATA_DIR, then the platform's user data dir.

    The spend ledger, explanations and session transcripts all live under it, so every
    caller must agree on it: a `~` is expanded the same way for each.
    """
    chosen = override or configured or os.environ.get(DATA_DIR_ENV) or None
    if chosen:
        return Path(chosen).expanduser()
    return Path(platformdirs.user_data_dir("fuse-ls", appauthor=False))
