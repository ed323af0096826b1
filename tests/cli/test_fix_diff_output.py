"""The diff `fuse-ls review --uncommitted --fix` prints, piped to a file, is a patch that
applies: rich wrapped its long lines at the console width and turned tabs into spaces,
and a last line without a newline lost the marker that says so."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.verify.verify_sample import JUDGE, A, B, C, environ, fuse

LONG = "# " + "why " * 40  # past any console width
RULES = [{"match": "a - b", "replace": "a + b", "severity": "error", "message": "subtracts"}]


def test_a_piped_fix_diff_applies_with_git_apply(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "project")
    repo.write("calc.py", f"def add(a, b):\n\treturn a + b  {LONG}\n")
    repo.write("tail.py", "def add2(a, b):\n\treturn a + b")  # no newline at the end
    repo.commit("base")
    with Emulator({"models": {m: {"findings": RULES} for m in (A, B, C, JUDGE)}}) as emu:
        env = environ(tmp_path, emu.base_url)
        # What `--apply` writes is what the printed patch must make.
        change(repo)
        applied = fuse(["review", "--uncommitted", "--apply"], repo, env)
        assert applied.returncode == 0, applied.stderr
        wanted = {name: (repo.root / name).read_bytes() for name in ("calc.py", "tail.py")}
        change(repo)
        res = fuse(["review", "--uncommitted", "--fix"], repo, env)
        as_json = fuse(["review", "--uncommitted", "--fix", "--format", "json"], repo, env)
    assert res.returncode == 0, res.stderr
    assert b"\treturn a + b  " + LONG.encode() in wanted["calc.py"]
    lines = res.stdout.splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("--- a/"))
    end = next(i for i, line in enumerate(lines) if line.startswith("not applied:"))
    printed = "".join(lines[start:end])
    assert printed == json.loads(as_json.stdout)["fixes"]["diff"]  # one diff, two outputs
    patch = tmp_path / "fix.patch"
    patch.write_text(printed)
    done = subprocess.run(
        ["git", "apply", str(patch)],
        cwd=repo.root,
        env={**GIT_ENV, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr + printed
    assert {name: (repo.root / name).read_bytes() for name in wanted} == wanted


def change(repo: Repo) -> None:
    """The uncommitted change under review: a bug in each file."""
    repo.write("calc.py", f"def add(a, b):\n\treturn a - b  {LONG}\n")
    repo.write("tail.py", "def add2(a, b):\n\treturn a - b")
