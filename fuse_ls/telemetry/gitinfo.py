"""Git facts about a workspace, for transcripts and uploads.

`current_branch` reads `HEAD` directly instead of running git: the recorder asks at every
action (a long editor session follows `git checkout`), and a subprocess per action would
cost more than the line it annotates.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def _head_of(path: Path) -> str:
    """The first line of a small git file (`HEAD`, a worktree's `.git`): a repository's
    multi-gigabyte one (sparse: free to ship) was read whole at every recorded action."""
    with path.open("rb") as f:
        return f.read(4096).decode("utf-8", "replace").split("\n", 1)[0].strip()


def git_dir(start: Path) -> Path | None:
    """The git directory of the repository containing `start` (worktrees included)."""
    try:
        here = start.expanduser().absolute()
    except OSError:
        return None
    for folder in (here, *here.parents):
        dot_git = folder / ".git"
        try:
            if dot_git.is_dir():
                return dot_git
            if dot_git.is_file():
                # A worktree or submodule: `.git` is a file `gitdir: <path>`.
                text = _head_of(dot_git)
                if text.startswith("gitdir:"):
                    target = Path(text[len("gitdir:") :].strip())
                    return target if target.is_absolute() else (folder / target).resolve()
                return None
        except OSError:
            return None
    return None


def current_branch(workspace: Path) -> str | None:
    """The checked-out branch (`main`, `feature/x`), `HEAD` when detached (what
    `git rev-parse --abbrev-ref HEAD` says), None outside a repository."""
    gdir = git_dir(workspace)
    if gdir is None:
        return None
    try:
        head = _head_of(gdir / "HEAD")
    except OSError:
        return None
    prefix = "ref: refs/heads/"
    if head.startswith(prefix):
        return head[len(prefix) :] or None
    return "HEAD" if head else None


def git(cwd: str, *args: str) -> str | None:
    """`git -C cwd args...` stdout (stripped), or None on any failure."""
    try:
        out = subprocess.run(
            ["git", "-C", cwd, *args],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None
