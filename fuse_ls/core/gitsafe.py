"""Running git in a repository someone else wrote.

A repository's `.git/config` comes with it (a tarball, a shared folder, a copied
checkout), and git runs the programs it names: `core.fsmonitor` on any command that
reads the index, `filter.<driver>.clean` or `.process` when it hashes a working-tree
file (every diff against the working tree), `.smudge` on a checkout, hooks when refs
move or a worktree is checked out. fuse-ls only reads a repository, so all of that is
switched off on every call, by configuration in the environment, which git ranks above
every file (and passes on to the git processes it starts itself).

Filter drivers are named by the repository, so the configured ones are listed first
(reading configuration runs nothing) and each is emptied: git applies no filter whose
command is empty. The list goes through `GIT_CONFIG_KEY_<n>`, not `-c`, because a driver
name may hold `=`, which `-c key=value` cannot express.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

# Always switched off; none of these change what a diff or a checkout reads.
_ALWAYS: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", os.devnull),
)
_FILTER_KEYS = ("clean", "smudge", "process")


def _with_config(env: Mapping[str, str], pairs: list[tuple[str, str]]) -> dict[str, str]:
    """`env` plus `pairs` as environment configuration, after any the caller already had."""
    out = dict(env)
    try:
        start = int(out.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        start = 0
    if start < 0:
        start = 0
    for i, (key, value) in enumerate(pairs, start):
        out[f"GIT_CONFIG_KEY_{i}"] = key
        out[f"GIT_CONFIG_VALUE_{i}"] = value
    out["GIT_CONFIG_COUNT"] = str(start + len(pairs))
    return out


# Where the repository's own configuration lives; the user's global and system files
# (git-lfs installs its filter there) are the user's.
_REPOSITORY_SCOPES = frozenset({"local", "worktree"})


def filter_drivers(git: str, cwd: Path, env: Mapping[str, str]) -> list[str]:
    """The filter drivers the repository at `cwd` configures itself (includes followed)."""
    pattern = r"^filter\..*\.(clean|smudge|process)$"
    try:
        done = subprocess.run(
            [git, "config", "--show-scope", "-z", "--get-regexp", pattern],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    names: list[str] = []
    # -z --show-scope: "scope\0key\nvalue\0" per entry.
    fields = done.stdout.decode("utf-8", "surrogateescape").split("\0")
    for scope, entry in zip(fields[0::2], fields[1::2], strict=False):
        key = entry.split("\n", 1)[0]
        if scope in _REPOSITORY_SCOPES and key.startswith("filter.") and key.count(".") >= 2:
            name = key[len("filter.") : key.rindex(".")]
            if name not in names:
                names.append(name)
    return names


def safe_env(git: str, cwd: Path, env: Mapping[str, str]) -> dict[str, str]:
    """`env` with every program the repository's configuration names switched off.
    (External diff drivers and textconv are switched off per command: `--no-ext-diff
    --no-textconv`.) When the configuration cannot be read, git fails on it too, and the
    caller reports that."""
    base = _with_config(env, list(_ALWAYS))
    pairs: list[tuple[str, str]] = []
    for name in filter_drivers(git, cwd, base):
        pairs += [(f"filter.{name}.{key}", "") for key in _FILTER_KEYS]
        pairs.append((f"filter.{name}.required", "false"))
    return _with_config(base, pairs) if pairs else base
