"""`fuse-ls serve --ws` without websockets says which extra of fuse-ls brings it (pygls
logged "pip install pygls[ws]" and exited 1: not a package a fuse-ls user installs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.pool_sample import isolated_env

# Runs `fuse-ls serve --ws` with websockets absent, whether or not it is installed here:
# a None entry in sys.modules makes every import of it fail, as on a machine without it.
WITHOUT_WEBSOCKETS = """
import sys
sys.modules["websockets"] = None
from fuse_ls.cli import main
sys.exit(main(["serve", "--ws", "--port", "0"]))
"""


def test_serve_ws_without_websockets_names_the_extra_to_install(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_WEBSOCKETS],
        cwd=tmp_path,
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'fuse-ls[ws]'" in done.stderr
    assert ".venv/bin/pip install -e '.[ws]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""  # nothing on stdout a client could take for LSP


def test_the_ws_extra_is_pygls_own() -> None:
    """The extra the message names exists and asks for an extra the installed pygls has
    (a pygls that renamed it would leave `fuse-ls[ws]` installing nothing)."""
    import tomllib
    from importlib.metadata import metadata

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert project["project"]["optional-dependencies"]["ws"] == ["pygls[ws]>=2.1,<3"]
    assert "ws" in (metadata("pygls").get_all("Provides-Extra") or [])
