"""Where fuse-ls keeps its files: one rule for the engine, the server and telemetry."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs

DATA_DIR_ENV = "FUSE_LS_DATA_DIR"
PRIVATE_DIR_MODE = 0o700


def private_dir(path: Path) -> None:
    """Create `path` and its missing parents with mode 0700; tighten `path` if it is more
    open. The data dir holds code (transcripts, the review cache's fixes, explanations):
    created with the umask (0755), other users of the machine could read it.

    `mkdir(mode=...)` is subject to the umask and sets only the last folder's mode, so the
    mode is set explicitly on each folder created.
    """
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=PRIVATE_DIR_MODE)
        os.chmod(d, PRIVATE_DIR_MODE)
    if not path.is_dir():
        raise NotADirectoryError(f"not a folder: {path}")
    if (path.stat().st_mode & 0o777) != PRIVATE_DIR_MODE:
        os.chmod(path, PRIVATE_DIR_MODE)


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
