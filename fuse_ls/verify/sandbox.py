"""An isolated copy of the workspace as it is now, where a candidate fix can be tried.

In a git repository the copy is a detached `git worktree` of HEAD with the working
tree's changes replayed on it: the diff of tracked files against HEAD (staged and
unstaged alike) and the untracked files git does not ignore. Checking out HEAD and
applying a diff is much cheaper than copying the tree, and git's own ignore rules keep
build output and virtualenvs out. Without git the workspace folder is copied.

Ignored dependency folders a check needs (a virtualenv, `node_modules`, `.tox`, ...) are
not copied either: each is linked into the copy (a symbolic link to the workspace's
folder), so `.venv/bin/pytest` or `npx vitest` work there at no cost. Caches and build
output stay out, so checks in the copy do not write into the workspace's. A fix is never
written through such a link.

The real workspace is only ever read (a check may still write through a linked folder,
as it would when run in the workspace). The copy lives in a temporary folder that
`close()` removes (and `git worktree remove --force` + `prune` forget), also when the
run is cancelled; copies left behind by a killed process are swept on the next open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from attrs import define, field

from fuse_ls.core.errors import FuseError
from fuse_ls.core.gitsafe import safe_env

_PREFIX = "fuse-ls-verify-"


class SandboxError(FuseError):
    """The isolated copy could not be made (the message says why)."""


def sandbox_parent() -> Path:
    return Path(tempfile.gettempdir())


def _git_env() -> dict[str, str]:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_PAGER": "cat"}
    for name in ("GIT_EXTERNAL_DIFF", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(name, None)
    return env


async def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> bytes:
    """git `args` in `cwd`. Configuration that would run programs is switched off
    (core/gitsafe.py: hooks, post-checkout on `worktree add` included, fsmonitor, the
    repository's filter drivers, smudge on checkout), and on the diff itself external
    diff drivers and textconv."""
    git = shutil.which("git")
    if git is None:
        raise SandboxError("git is not installed")
    env = await asyncio.to_thread(safe_env, git, cwd, _git_env())
    proc = await asyncio.create_subprocess_exec(
        git,
        "-c",
        "core.quotepath=off",
        *args,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        out, err = await proc.communicate(stdin)
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        raise SandboxError(f"git {args[0]} failed: {lines[-1] if lines else proc.returncode}")
    return out


async def git_root(workspace: Path) -> Path | None:
    """The top of the work tree holding `workspace` (None: not in a git repository, or
    a repository without a first commit)."""
    try:
        top = (await _git(workspace, "rev-parse", "--show-toplevel")).decode().strip()
        await _git(workspace, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except SandboxError:
        return None
    return _real(Path(top)) if top else None


def _real(path: Path) -> Path:
    return path.resolve()


# Ignored folders linked into the copy: what a check runs with, not what it produces.
_ENVIRONMENT_NAMES = frozenset(
    {"node_modules", ".venv", "venv", ".tox", ".nox", "bower_components", ".bundle", "vendor"}
)


def is_environment(path: Path) -> bool:
    """A dependency folder to link rather than copy: a known name, or a virtualenv."""
    return path.is_dir() and (path.name in _ENVIRONMENT_NAMES or (path / "pyvenv.cfg").is_file())


def _link(source: Path, tree: Path, rels: list[str]) -> tuple[Path, ...]:
    linked = []
    for rel in rels:
        dst = tree / rel
        if dst.exists() or dst.is_symlink():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(source / rel, target_is_directory=True)
        linked.append(Path(rel))
    return tuple(linked)


@define
class Sandbox:
    """One isolated copy. `workspace` is where the user's workspace folder is inside it."""

    root: Path  # the temporary folder
    workspace: Path
    source: Path  # the real workspace (read only)
    git_top: Path | None  # the real repository the worktree belongs to
    _originals: dict[Path, bytes | None] = field(factory=dict)  # for reset()
    closed: bool = False
    # Folders linked to the workspace's own (relative to `root / "tree"`): never written.
    linked: tuple[Path, ...] = ()

    def path_for(self, real: Path) -> Path:
        """Where a file of the real workspace is in the copy."""
        real = real.resolve()
        try:
            rel = real.relative_to(self.source)
        except ValueError:
            raise SandboxError(f"{real} is outside the workspace {self.source}") from None
        target = self.workspace / rel
        tree = self.root / "tree"
        for folder in self.linked:
            if target.is_relative_to(tree / folder):
                raise SandboxError(
                    f"{real} is in {folder.as_posix()}, which the copy shares with the "
                    "workspace: a fix there cannot be tried in isolation"
                )
        return target

    def write(self, real: Path, text: str) -> None:
        """Put `text` in place of a file (remembering the copy's own content for reset)."""
        target = self.path_for(real)
        if target not in self._originals:
            self._originals[target] = target.read_bytes() if target.exists() else None
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="")

    def reset(self) -> None:
        """Undo the files written since the last reset: the next candidate starts from the
        workspace as it was (cheaper than a fresh copy, and checks' caches stay warm)."""
        for target, content in self._originals.items():
            if content is None:
                target.unlink(missing_ok=True)
            else:
                target.write_bytes(content)
        self._originals.clear()

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        await remove_copy(self.root, self.git_top)


async def remove_copy(root: Path, git_top: Path | None) -> None:
    try:
        if git_top is not None:
            with contextlib.suppress(SandboxError):
                await _git(git_top, "worktree", "remove", "--force", str(root))
    finally:
        # Whatever git did, the folder goes; then git forgets worktrees whose folder is gone.
        await asyncio.to_thread(shutil.rmtree, root, True)
        if git_top is not None:
            with contextlib.suppress(SandboxError):
                await _git(git_top, "worktree", "prune")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale_copies(parent: Path) -> list[Path]:
    """Copies whose owning process is gone (the name carries the pid)."""
    stale = []
    for entry in parent.glob(_PREFIX + "*"):
        pid_text = entry.name.removeprefix(_PREFIX).split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            stale.append(entry)
    return stale


async def open_sandbox(workspace: Path, parent: Path | None = None) -> Sandbox:
    """A fresh isolated copy of `workspace` including its uncommitted changes."""
    source = _real(workspace)
    parent = parent or sandbox_parent()
    for old in _stale_copies(parent):
        await asyncio.to_thread(shutil.rmtree, old, True)
    root = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=parent))
    top = await git_root(source)
    try:
        if top is None:
            copy = root / "tree"
            linked = await asyncio.to_thread(_copy_tree, source, copy)
            return Sandbox(root=root, workspace=copy, source=source, git_top=None, linked=linked)
        tree = root / "tree"
        await _git(top, "worktree", "prune")
        await _git(top, "worktree", "add", "--detach", "--force", str(tree), "HEAD")
        sandbox = Sandbox(
            root=root, workspace=tree / source.relative_to(top), source=source, git_top=top
        )
        sandbox.linked = await _replay_changes(top, tree)
        return sandbox
    except BaseException:
        # Cancelled or failed half-way: nothing may stay behind.
        await asyncio.shield(remove_copy(root, top))
        raise


def _names(listing: bytes) -> list[str]:
    return [n for n in listing.decode("utf-8", "surrogateescape").split("\0") if n]


async def _replay_changes(top: Path, tree: Path) -> tuple[Path, ...]:
    """The working tree's changes on the fresh worktree; the ignored environments linked
    (returned, relative to `tree`)."""
    diff, untracked, ignored = await asyncio.gather(
        _git(top, "diff", "--binary", "--no-color", "--no-ext-diff", "--no-textconv", "HEAD", "--"),
        _git(top, "ls-files", "--others", "--exclude-standard", "-z"),
        # --directory: an ignored folder is one entry ("node_modules/"), not its files.
        _git(top, "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"),
    )
    if diff.strip():
        await _git(tree, "apply", "--binary", "--whitespace=nowarn", "-", stdin=diff)
    await asyncio.to_thread(_copy_untracked, top, tree, _names(untracked))
    folders = [n.rstrip("/") for n in _names(ignored) if n.endswith("/")]
    return await asyncio.to_thread(
        _link, top, tree, [f for f in folders if is_environment(top / f)]
    )


def _special(path: Path) -> bool:
    """Neither a file, a folder nor a link: a named pipe, a socket, a device. Copying one
    fails (a socket), or reads forever (a character device), and no check needs it."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return False  # gone already: copytree reports it, if it still matters
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode))


def _copy_tree(source: Path, copy: Path) -> tuple[Path, ...]:
    """Without git: the folder copied (named pipes, sockets and devices left out), its
    environments linked."""
    skipped: list[str] = []

    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder)
        out = {n for n in names if not (here / n).is_symlink() and is_environment(here / n)}
        skipped.extend((here / n).relative_to(source).as_posix() for n in out)
        return out | {n for n in names if _special(here / n)}

    try:
        shutil.copytree(source, copy, symlinks=True, ignore=ignore)
    except shutil.Error as error:
        raise SandboxError(_copy_failure(source, error.args[0])) from None
    except OSError as error:
        raise SandboxError(f"could not copy the workspace {source}: {error}") from None
    return _link(source, copy, skipped)


def _copy_failure(source: Path, failures: list[tuple[str, str, str]]) -> str:
    """shutil.Error's list (every failed file, with both full paths) as one readable line."""
    src, _dst, why = failures[0]
    try:
        name = Path(src).relative_to(source).as_posix()
    except ValueError:
        name = src
    # The reason repeats the (often very long) path after a colon; the errno text is before.
    reason = why.split(": '", 1)[0]
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return f"could not copy the workspace {source}: {_clip(name)}: {reason}{more}"


def _clip(name: str, limit: int = 120) -> str:
    return name if len(name) <= limit else f"{name[:60]}...{name[-57:]}"


def _copy_untracked(top: Path, tree: Path, names: list[str]) -> None:
    for name in names:
        src, dst = top / name, tree / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        elif src.is_file():
            shutil.copy2(src, dst)
