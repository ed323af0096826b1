"""Emacs (Debian's emacs-nox + elpa-eglot), batch mode: `fuse-ls-review-changes` reviews
the workspace's uncommitted work through eglot; the finding on the changed line reaches
flymake and the message says what was reviewed. Skipped where Emacs is not installed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from editor_support import HERE, REPO, hermetic_env, which

from tests.changes.gitrepo import Repo


def test_emacs_review_changes(emulator: Any, workspace: Path, tmp_path: Path) -> None:
    emacs = which("emacs")
    if emacs is None:
        pytest.skip("emacs not installed (apt-get install emacs-nox elpa-eglot)")
    Repo(workspace).commit("base")
    sample = workspace / "sample.py"
    committed = sample.read_text()
    sample.write_text(committed + "\n\ndef load(raw):\n    return eval(raw)\n")
    changed_line = len(sample.read_text().splitlines())
    out = tmp_path / "emacs.json"
    env = hermetic_env(
        tmp_path,
        {
            "FUSE_LS_BASE_URL": emulator.base_url,
            "FUSE_TEST_OUT": str(out),
            "FUSE_TEST_WORKSPACE": str(workspace),
            "FUSE_TEST_EMACS_DIR": str(REPO / "editors" / "emacs"),
        },
    )
    proc = subprocess.run(
        [emacs, "--batch", "-Q", "-l", str(HERE / "emacs" / "review_changes.el")],
        env=env,
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if "Cannot open load file" in proc.stderr and "eglot" in proc.stderr:
        pytest.skip("eglot not installed (apt-get install elpa-eglot, or Emacs 29+)")
    report = json.loads(out.read_text()) if out.exists() else {}
    assert proc.returncode == 0 and "error" not in report, (report, proc.stderr[-3000:])
    done = [m for m in report["messages"] if "finding" in m]
    assert done and "uncommitted" in done[0] and "1 finding(s)" in done[0], report
    # Only the changed line: the committed eval() on line 5 is context, not the change.
    lines = {line for line, text in report["diagnostics"] if "models" in text}
    assert lines == {changed_line}, report
