"""Running the `git` executable for a change review: one environment per repository in
which the repository's own programs (fsmonitor, filter drivers, hooks; core/gitsafe.py)
and the user's diff drivers and pager are off, and one error type for every failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from fuse_ls.core.errors import FuseError
from fuse_ls.core.gitsafe import safe_env


class GitError(FuseError):
    """git is missing, this is not a repository, or a revision does not exist."""


def git_executable() -> str:
    git = shutil.which("git")
    if git is None:
        raise GitError("git is not installed or not on PATH; install git to review changes.")
    return git


def base_env() -> dict[str, str]:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_PAGER": "cat"}
    env.pop("GIT_EXTERNAL_DIFF", None)
    return env


def repo_env(root: Path) -> dict[str, str]:
    """The environment for git in `root`: the repository's own programs (fsmonitor,
    filter drivers, hooks) switched off. Worked out once per change read: it costs a
    git call."""
    return safe_env(git_executable(), root, base_env())


def run_git(
    root: Path,
    args: Sequence[str],
    *,
    check: bool = True,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """git `args` in `root`. `env` from `repo_env(root)`; without it, it is worked out."""
    try:
        done = subprocess.run(
            [git_executable(), "-c", "core.quotepath=off", *args],
            cwd=root,
            env=dict(env) if env is not None else repo_env(root),
            input=stdin if stdin is not None else b"",
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {args[0]} failed: {exc}") from None
    except ValueError:  # a NUL in an argument (a base or path an editor sent)
        raise GitError(f"git {args[0]}: an argument holds a NUL character") from None
    if check and done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {' '.join(args[:2])} failed: {message[-1] if message else 'error'}")
    return done
