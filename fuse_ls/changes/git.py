"""What changed, read through the `git` executable.

Only plumbing-stable output is parsed: `--raw -z` for paths, modes and statuses (so
names with spaces, quotes or newlines are exact), `--numstat -z` to tell binary files,
and `-U0` hunk headers for the changed lines. The three listings come from the same
diff queue, so their entries line up one to one, less the files too large to diff
(sizes.py), which the two that read content leave out. User configuration that changes
diff output (external diff drivers, colour, textconv) is switched off on every call, and
so is configuration of the repository's own that runs programs (gitrun.py,
core/gitsafe.py): reviewing a change must not run what a downloaded repository's
`.git/config` names.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

from attrs import field, frozen

from fuse_ls.changes.diffparse import RawEntry, hunks, numstat_binary, raw_entries, split_z
from fuse_ls.changes.gitrun import GitError as GitError
from fuse_ls.changes.gitrun import base_env, repo_env, run_git
from fuse_ls.changes.sizes import MAX_FILE_BYTES, oversized, too_large

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# All the changed text one review holds at once (16 files at the per-file cap). More than
# this is not a change people review in one go, and each file is in memory until the end.
MAX_TOTAL_BYTES = 32 * 1024 * 1024

Scope = Literal["diff", "staged", "uncommitted"]
FileStatus = Literal["added", "modified", "renamed", "copied", "deleted", "type-changed"]


@frozen
class ChangedFile:
    """One file of a change. `changed` holds the new side's changed line numbers (1-based)."""

    path: str  # relative to the repository root, new name
    status: FileStatus
    old_path: str | None = None  # renames and copies
    text: str | None = None  # the new content; None when there is nothing to review
    changed: frozenset[int] = field(factory=frozenset)
    skipped: str | None = None  # why this file is not reviewed (binary, submodule, ...)


@frozen
class ChangeSet:
    root: Path
    scope: Scope
    base: str  # the commit (or tree) compared against, as given to git
    description: str  # for people: "changes since main (merge base 1a2b3c4)"
    files: tuple[ChangedFile, ...]

    @property
    def reviewable(self) -> tuple[ChangedFile, ...]:
        return tuple(f for f in self.files if f.text is not None and f.changed)


def repo_root(start: Path) -> Path:
    folder = start if start.is_dir() else start.parent
    done = run_git(folder, ["rev-parse", "--show-toplevel"], check=False)
    if done.returncode != 0:
        raise GitError(
            f"{folder} is not inside a git repository: --diff, --staged and --uncommitted "
            "need one. Review files directly instead: fuse-ls review FILE[:START-END] ..."
        )
    return Path(done.stdout.decode().strip())


def _rev(root: Path, rev: str, env: Mapping[str, str] | None = None) -> str | None:
    done = run_git(
        root, ["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], check=False, env=env
    )
    return done.stdout.decode().strip() if done.returncode == 0 else None


def has_head(root: Path, env: Mapping[str, str] | None = None) -> bool:
    return _rev(root, "HEAD", env) is not None


def default_branch(root: Path, env: Mapping[str, str] | None = None) -> str | None:
    """origin's HEAD when known, else the first of main/master/trunk/the configured default."""
    env = env if env is not None else repo_env(root)
    done = run_git(
        root, ["symbolic-ref", "--quiet", "refs/remotes/origin/HEAD"], check=False, env=env
    )
    if done.returncode == 0:
        ref = done.stdout.decode().strip().removeprefix("refs/remotes/")
        if _rev(root, ref, env):
            return ref
    configured = run_git(root, ["config", "--get", "init.defaultBranch"], check=False, env=env)
    names = [configured.stdout.decode().strip()] if configured.returncode == 0 else []
    for name in [*names, "main", "master", "trunk", "origin/main", "origin/master"]:
        if name and _rev(root, name, env):
            return name
    return None


def resolve_base(
    root: Path, base: str | None, env: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """The merge base of BASE (default: the default branch) and HEAD, and a description."""
    env = env if env is not None else repo_env(root)
    if not has_head(root, env):
        raise GitError(
            "This repository has no commits yet, so there is no base to compare with; "
            "use --uncommitted (or --staged) to review the work in progress."
        )
    name = base or default_branch(root, env)
    if name is None:
        raise GitError(
            "Cannot tell the default branch (no origin/HEAD, main or master here); "
            "name the base: fuse-ls review --diff origin/main"
        )
    if _rev(root, name, env) is None:
        raise GitError(
            f"Unknown revision {name!r}: name a branch, tag or commit "
            "(in CI, fetch it first, e.g. actions/checkout with fetch-depth: 0)."
        )
    done = run_git(root, ["merge-base", name, "HEAD"], check=False, env=env)
    if done.returncode != 0:
        raise GitError(
            f"{name} and HEAD have no common ancestor (a shallow clone?); fetch more history "
            "(actions/checkout with fetch-depth: 0) or pass a commit to --diff."
        )
    commit = done.stdout.decode().strip()
    return commit, f"changes since {name} (merge base {commit[:10]}), uncommitted work included"


_STATUS: dict[str, FileStatus] = {
    "A": "added",
    "M": "modified",
    "R": "renamed",
    "C": "copied",
    "D": "deleted",
    "T": "type-changed",
}


@frozen
class _TooLarge:
    size: int


class _TextBudget:
    """What is left of the changed text one review may hold (`MAX_TOTAL_BYTES`)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def skip_reason(self) -> str:
        return (
            f"over the {_size_text(self.limit)} of changed text one review reads "
            "(the files before it hold that much); review fewer paths"
        )


class _OverTotal:
    pass


OVER_TOTAL = _OverTotal()


def _size_text(size: int) -> str:
    mb = 1024 * 1024
    return f"{size // mb} MB" if size >= mb and size % mb == 0 else f"{size} bytes"


def _read_new_side(
    root: Path,
    scope: Scope,
    path: str,
    env: Mapping[str, str],
    budget: _TextBudget | None = None,
) -> bytes | _TooLarge | _OverTotal | None:
    """The new content: the index for --staged, the working tree otherwise. The size is
    checked before the content is read: a huge file is never held, not even briefly."""
    if scope == "staged":
        sized = run_git(root, ["cat-file", "-s", f":{path}"], check=False, env=env)
        if sized.returncode != 0 or not sized.stdout.strip().isdigit():
            return None
        size = int(sized.stdout)
    else:
        file = root / path
        try:
            if file.is_symlink() or not file.is_file():
                return None
            size = file.stat().st_size
        except OSError:
            return None
    # The same limit for the index as on disk: the pre-commit hook reviews what is staged.
    if size > MAX_FILE_BYTES:
        return _TooLarge(size)
    if budget is not None and size > budget.left:
        return OVER_TOTAL
    if scope == "staged":
        done = run_git(root, ["show", f":{path}"], check=False, env=env)
        return done.stdout if done.returncode == 0 else None
    try:
        return file.read_bytes()
    except OSError:
        return None


def _decode(data: bytes) -> str | None:
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _untracked(root: Path, pathspec: Sequence[str], env: Mapping[str, str]) -> list[str]:
    args = ["ls-files", "-z", "--others", "--exclude-standard", "--", *pathspec]
    done = run_git(root, args, env=env)
    return split_z(done.stdout)


def _file_from(
    root: Path,
    scope: Scope,
    entry: RawEntry,
    binary: bool,
    changed: frozenset[int],
    env: Mapping[str, str],
    budget: _TextBudget,
) -> ChangedFile:
    status = _STATUS.get(entry.status, "modified")
    base = ChangedFile(path=entry.path, status=status, old_path=entry.old_path)
    if status == "deleted":
        return _evolve(base, skipped="deleted (nothing left to review)")
    if "160000" in (entry.old_mode, entry.new_mode):
        return _evolve(
            base, skipped="submodule: its commit moved; review inside the submodule itself"
        )
    if entry.new_mode == "120000":
        return _evolve(base, skipped="symbolic link")
    if binary:
        return _evolve(base, skipped="binary file")
    if not changed:
        return _evolve(
            base,
            skipped="renamed without content changes" if entry.old_path else "mode change only",
        )
    raw = _read_new_side(root, scope, entry.path, env, budget)
    if raw is None:
        return _evolve(base, skipped="not readable in the working tree")
    if isinstance(raw, _TooLarge):  # grew past the cap since it was listed
        return _evolve(base, skipped=too_large(raw.size))
    if isinstance(raw, _OverTotal):
        return _evolve(base, skipped=budget.skip_reason())
    if not raw.strip():
        return _evolve(base, skipped="emptied (nothing left to review)")
    text = _decode(raw)
    if text is None:
        return _evolve(base, skipped="binary or not UTF-8 text")
    budget.left -= len(raw)
    count = max(len(text.splitlines()), 1)
    return _evolve(
        base, text=text, changed=frozenset(n for n in changed if n <= count) or frozenset({count})
    )


def _evolve(
    f: ChangedFile,
    *,
    skipped: str | None = None,
    text: str | None = None,
    changed: frozenset[int] = frozenset(),
) -> ChangedFile:
    return ChangedFile(f.path, f.status, f.old_path, text, changed, skipped)


_KIND_SKIPS = ("submodule", "symbolic link", "binary", "larger than", "new file larger")


def changed_lines(old: str | None, new: str) -> frozenset[int]:
    """The new side's changed lines, as `git diff -U0` marks them (a pure deletion marks
    the line before the cut); every line when there is no old side.

    git itself compares the two texts (`diff --no-index`): difflib's matcher is quadratic
    in repeated lines, and one edit in a 20,000-line file with many blank lines took 15 s
    (a file of identical lines, hours), where git takes milliseconds."""
    if old is None:
        return frozenset(range(1, max(len(new.splitlines()), 1) + 1))
    if old == new:
        return frozenset()
    with tempfile.TemporaryDirectory(prefix="fuse-ls-diff-") as folder:
        for name, text in (("old", old), ("new", new)):
            (Path(folder) / name).write_bytes(text.encode("utf-8", "surrogatepass"))
        # Outside any repository: only the user's own configuration applies. --text:
        # a NUL in a buffer must not turn it into "Binary files differ" (no lines).
        args = ["diff", "--no-index", "--text", "--no-color", "--no-ext-diff", "--no-textconv"]
        done = run_git(Path(folder), [*args, "-U0", "old", "new"], check=False, env=base_env())
    if done.returncode not in (0, 1):
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git diff failed: {message[-1] if message else 'error'}")
    sections = hunks(done.stdout)
    return sections[0] if sections else frozenset()


def _base_size(root: Path, against: str, path: str, env: Mapping[str, str]) -> int | None:
    """The size of `path` in the base; None when the base has no such file."""
    if against == EMPTY_TREE:
        return None
    done = run_git(root, ["cat-file", "-s", f"{against}:{path}"], check=False, env=env)
    size = done.stdout.strip()
    return int(size) if done.returncode == 0 and size.isdigit() else None


def _base_text(root: Path, against: str, path: str, env: Mapping[str, str]) -> str | None:
    done = run_git(root, ["show", f"{against}:{path}"], check=False, env=env)
    return _decode(done.stdout) if done.returncode == 0 else None


def _with_buffers(
    root: Path,
    against: str,
    files: list[ChangedFile],
    buffers: Mapping[Path, str],
    env: Mapping[str, str],
) -> list[ChangedFile]:
    """The change as the editor's open buffers have it: a buffer's text replaces the
    file's, and its changed lines are taken against the base again. A file whose buffer
    differs from the disk joins the change; one whose buffer equals the base leaves it."""
    by_path = {f.path: f for f in files}
    top = root.resolve()
    for file, text in buffers.items():
        try:
            path = file.resolve().relative_to(top).as_posix()
        except (OSError, ValueError):
            continue  # outside this repository
        known = by_path.get(path)
        if known is not None and (known.text == text or known.status == "deleted"):
            continue
        if known is not None and (known.skipped or "").startswith(_KIND_SKIPS):
            continue  # a submodule, link, binary or huge file stays one, whatever the buffer
        if known is None:
            on_disk = _read_new_side(root, "uncommitted", path, env)
            if isinstance(on_disk, bytes) and _decode(on_disk) == text:
                continue  # a clean buffer of an unchanged file
            if isinstance(on_disk, _TooLarge):
                continue  # unchanged on disk and over the cap: out, as when saved
        old_path = known.old_path if known is not None else None
        base_size = _base_size(root, against, old_path or path, env)
        if known is None and base_size is None:
            continue  # neither changed on disk nor tracked: not part of the repository
        status: FileStatus = known.status if known is not None else "modified"
        # The per-file cap as for the saved file: an unsaved edit of a generated bundle
        # would send all of it to every model.
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_FILE_BYTES or (base_size or 0) > MAX_FILE_BYTES:
            big = too_large(size) if size > MAX_FILE_BYTES else too_large(base_size or 0, True)
            by_path[path] = ChangedFile(path, status, old_path, skipped=big)
            continue
        old = _base_text(root, against, old_path or path, env) if base_size is not None else None
        changed = changed_lines(old, text) if text.strip() else frozenset()
        if not changed:
            by_path.pop(path, None)  # the buffer undid the change
            continue
        by_path[path] = ChangedFile(path, status, old_path, text, changed)
    return sorted(by_path.values(), key=lambda f: f.path)


_DESCRIPTIONS = {
    "staged": "staged changes (the index against HEAD)",
    "uncommitted": "uncommitted changes (staged, unstaged and untracked files, against HEAD)",
}


def read_changes(
    start: Path,
    scope: Scope,
    base: str | None = None,
    pathspec: Sequence[str] = (),
    buffers: Mapping[Path, str] | None = None,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> ChangeSet:
    """The change to review. `pathspec` limits it to some paths (git pathspec syntax).
    Files past `max_total_bytes` of text read so far are skipped and say why.

    `buffers` (absolute path -> text) are an editor's open documents,
    unsaved edits included: they stand in for the working tree (not for --staged,
    which reviews the index)."""
    root = repo_root(start)
    env = repo_env(root)
    if scope == "diff":
        against, description = resolve_base(root, base, env)
        cached: list[str] = []
    else:
        # Before the first commit there is no HEAD: every file is compared with nothing,
        # which "against HEAD" would misstate.
        born = has_head(root, env)
        against = "HEAD" if born else EMPTY_TREE
        cached = ["--cached"] if scope == "staged" else []
        what = "staged file" if scope == "staged" else "file"
        description = (
            _DESCRIPTIONS[scope]
            if born
            else f"{scope} changes (no commits yet: every {what} is reviewed as new)"
        )
    # --ignore-submodules=dirty: a moved submodule commit is still listed, but git does
    # not look inside a submodule's working tree (that would run its own configuration).
    common = [
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--ignore-submodules=dirty",
        "-M",
        *cached,
        against,
    ]

    def diff(*args: str, leave_out: Sequence[str] = ()) -> bytes:
        tail = ["--", *pathspec, *(f":(exclude,literal){p}" for p in leave_out)]
        return run_git(root, ["diff", *args, *common, *tail], env=env).stdout

    # --raw reads no content (the working tree's side stays unhashed); the listings that
    # do read it leave out the files over the cap, so their size is all git looks at.
    listed = raw_entries(diff("--raw", "-z", "--no-abbrev"))
    too_big = oversized(root, scope == "staged", listed, env)
    entries = [e for i, e in enumerate(listed) if i not in too_big]
    leave_out = sorted(
        {p for i in too_big for p in (listed[i].path, listed[i].old_path) if p is not None}
    )
    binary = numstat_binary(diff("--numstat", "-z", leave_out=leave_out))
    sections = hunks(diff("-U0", "--submodule=short", leave_out=leave_out))
    if len(binary) != len(entries) or len(sections) != len(entries):
        raise GitError("git's diff listings disagree; is the repository changing right now?")
    budget = _TextBudget(max_total_bytes)
    files = [
        _file_from(root, scope, entry, is_binary, changed, env, budget)
        for entry, is_binary, changed in zip(entries, binary, sections, strict=True)
    ]
    for i, why in too_big.items():
        entry = listed[i]
        status = _STATUS.get(entry.status, "modified")
        if status == "deleted":
            why = "deleted (nothing left to review)"
        files.append(ChangedFile(entry.path, status, entry.old_path, skipped=why))
    if scope != "staged":
        known = {f.path for f in files}
        for path in _untracked(root, pathspec, env):
            if path in known:
                continue
            raw_bytes = _read_new_side(root, scope, path, env, budget)
            if isinstance(raw_bytes, _TooLarge):
                why = f"new file {too_large(raw_bytes.size)}"
                files.append(ChangedFile(path, "added", skipped=why))
                continue
            if isinstance(raw_bytes, _OverTotal):
                files.append(ChangedFile(path, "added", skipped=budget.skip_reason()))
                continue
            text = _decode(raw_bytes) if raw_bytes and raw_bytes.strip() else None
            if text is None:
                files.append(
                    ChangedFile(path, "added", skipped="binary, empty or unreadable new file")
                )
                continue
            budget.left -= len(raw_bytes or b"")
            lines = frozenset(range(1, max(len(text.splitlines()), 1) + 1))
            files.append(ChangedFile(path, "added", text=text, changed=lines))
    files.sort(key=lambda f: f.path)
    if buffers and scope != "staged":
        files = _with_buffers(root, against, files, buffers, env)
    return ChangeSet(root, scope, against, description, tuple(files))
