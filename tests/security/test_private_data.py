"""The data dir holds code: session transcripts, the review cache (fixes are code) and
explanation documents. Telemetry made its own folders private (0700), but with telemetry
off the data dir was created by the spend ledger with the umask (0755), and the review
cache and the explanations under it could be read by every user of the machine."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fuse_ls.core.types import FusionRequest
from fuse_ls.emulator import Emulator
from fuse_ls.server.explain import write_explanation
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.pool_sample import CODE, home_env, run_cli


def open_folders(root: Path) -> list[str]:
    """Folders under `root` (itself included) that other users may enter or list."""
    found = []
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        if stat.S_IMODE(folder.stat().st_mode) & 0o077:
            found.append(f"{oct(stat.S_IMODE(folder.stat().st_mode))} {folder}")
    return found


def test_with_telemetry_off_the_data_dir_is_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual default: what made the folders world-readable
    try:
        repo = Repo(tmp_path / "repo")
        repo.write("app.py", CODE)
        repo.commit("app")
        repo.write("app.py", CODE + "print(load('1'))\n")
        with Emulator() as emu:
            env = home_env(emu.base_url, tmp_path / "home")
            env.update(GIT_ENV, FUSE_LS_TELEMETRY__ENABLED="false")
            for args in (["explain", "app.py"], ["review", "--uncommitted"]):
                res = run_cli(args, env, repo.root)
                assert res.returncode in (0, 1), res.stderr
    finally:
        os.umask(old)
    data = tmp_path / "home" / "data"
    assert (data / "review-cache.sqlite3").exists()
    assert open_folders(data) == []


def test_explanation_documents_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        request = FusionRequest(
            task="explain", path="app.py", language="python", code=CODE, start_line=1
        )
        doc = write_explanation(tmp_path / "data", "file:///w/app.py", request, "It loads.")
    finally:
        os.umask(old)
    assert doc.read_text() == "It loads."
    assert open_folders(tmp_path / "data" / "explanations") == []
