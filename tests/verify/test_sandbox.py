"""The isolated copy and the check runner, over real git repositories and processes."""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fuse_ls.verify.run import CheckCommand, run_checks, run_command
from fuse_ls.verify.sandbox import SandboxError, open_sandbox
from fuse_ls.verify.verifier import FixVerifier
from tests.changes.gitrepo import Repo
from tests.verify.verify_sample import CHECK, snapshot

PY = shlex.quote(sys.executable)


def remove(path: Path) -> None:
    path.unlink()


def make_dirs(path: Path) -> None:
    path.mkdir(parents=True)


def listing(folder: Path) -> list[Path]:
    return list(folder.iterdir())


async def wait_until(condition: Callable[[], bool], limit_s: float = 60) -> None:
    for _ in range(int(limit_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition never became true")


def py(code: str) -> str:
    return f"{PY} -c {shlex.quote(code)}"


async def test_the_copy_has_the_uncommitted_work_and_goes_away(
    project: Repo, sandboxes: Path
) -> None:
    project.write("staged.py", "STAGED = 1\n")
    project.git("add", "staged.py")
    project.write("calc.py", "def add(a, b):\n    return a - b  # edited, not staged\n")
    project.write("notes/untracked.txt", "new file\n")
    project.write("build/out.bin", "ignored build output\n")
    remove(project.root / ".gitignore")  # a tracked file deleted in the work tree
    project.write(".git/info/exclude", "build/\n")
    before = snapshot(project.root)
    sandbox = await open_sandbox(project.root, sandboxes)
    copy = snapshot(sandbox.workspace)
    assert copy["calc.py"].endswith(b"# edited, not staged\n")
    assert copy["staged.py"] == b"STAGED = 1\n"
    assert copy["notes/untracked.txt"] == b"new file\n"
    assert "build/out.bin" not in copy and ".gitignore" not in copy
    sandbox.write(project.root / "calc.py", "broken(\n")
    assert snapshot(project.root) == before  # only the copy changed
    sandbox.reset()
    assert snapshot(sandbox.workspace) == copy
    await sandbox.close()
    assert listing(sandboxes) == []
    assert len(project.git("worktree", "list").splitlines()) == 1  # git forgot the copy
    assert snapshot(project.root) == before


async def test_without_git_the_folder_is_copied(tmp_path: Path, sandboxes: Path) -> None:
    folder = tmp_path / "plain"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "m.py").write_text("X = 1\n")
    sandbox = await open_sandbox(folder, sandboxes)
    try:
        assert snapshot(sandbox.workspace) == {"pkg/m.py": b"X = 1\n"}
        assert sandbox.git_top is None
    finally:
        await sandbox.close()
    assert listing(sandboxes) == []


async def test_a_workspace_below_the_repository_top_maps_into_the_copy(
    project: Repo, sandboxes: Path
) -> None:
    project.write("sub/app/main.py", "print('hi')\n")
    project.commit("sub")
    sandbox = await open_sandbox(project.root / "sub" / "app", sandboxes)
    try:
        assert sandbox.workspace.name == "app"
        assert snapshot(sandbox.workspace)["main.py"] == b"print('hi')\n"
        assert sandbox.path_for(project.root / "sub/app/main.py") == sandbox.workspace / "main.py"
    finally:
        await sandbox.close()


def _gone(pid: int) -> bool:
    """Dead or a zombie waiting for init: either way it runs no more."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


async def test_a_command_over_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    # The command starts a grandchild that would outlive a plain kill of the shell.
    code = (
        "import subprocess, sys, time, pathlib; "
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
        f"pathlib.Path({str(pid_file)!r}).write_text(str(p.pid)); "
        "print('started', flush=True); time.sleep(600)"
    )
    result = await run_command(CheckCommand(py(code), timeout_s=1.5), tmp_path, 65536)
    assert result.timed_out and not result.passed and result.exit_code is None
    assert "timed out after 1.5 s (killed)" in (result.cut or "")
    assert "started" in result.output
    pid = int(snapshot(tmp_path)["child.pid"])
    await wait_until(lambda: _gone(pid), 10)  # SIGKILL is delivered asynchronously


async def test_output_is_bounded_and_the_cut_is_reported(tmp_path: Path) -> None:
    code = (
        "import sys; sys.stdout.write('first line\\n' + 'x' * 200000 + '\\nlast line\\n'); "
        "sys.exit(3)"
    )
    result = await run_command(CheckCommand(py(code), timeout_s=30), tmp_path, 4096)
    assert result.exit_code == 3
    assert len(result.output) < 4096 + 100
    assert result.output.startswith("first line") and result.output.endswith("last line\n")
    assert result.cut is not None and "output cut" in result.cut


async def test_the_first_failing_command_stops_the_rest(tmp_path: Path) -> None:
    commands = [
        CheckCommand(py("print('ok')"), 30),
        CheckCommand(py("import sys; print('E boom'); sys.exit(2)"), 30),
        CheckCommand(py("print('never')"), 30),
    ]
    report = await run_checks(commands, tmp_path, 65536)
    assert not report.passed and report.skipped == 1
    assert (
        report.summary().startswith("checks failed: `")
        and "exited 2 (3 commands" in report.summary()
    )
    assert report.failing_lines() == "E boom"


async def test_one_copy_serves_every_candidate_and_each_starts_clean(
    project: Repo, sandboxes: Path
) -> None:
    calc = project.root / "calc.py"
    before = snapshot(project.root)
    text = before["calc.py"].decode()
    # The second check fails if the first candidate's extra file leaked into its run.
    leak = py("import os, sys; sys.exit(1 if os.path.exists('calc_extra.py') else 0)")
    verifier = FixVerifier(
        project.root,
        calc,
        text,
        2,
        2,
        [CheckCommand(CHECK, 30), CheckCommand(leak, 30)],
        max_output_bytes=65536,
        parent=sandboxes,
    )
    async with verifier:
        bad = await verifier("    return a * b")
        good = await verifier("    return a + b")
        assert len(listing(sandboxes)) == 1  # one copy for both candidates
    assert not bad.passed and "AssertionError: 6" in bad.failing_lines()
    assert good.passed and good.summary().startswith("checks passed (2 commands, ")
    assert listing(sandboxes) == []
    assert snapshot(project.root) == before


async def test_cancelling_a_check_kills_it_and_removes_the_copy(
    project: Repo, sandboxes: Path, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    hang = py(
        f"import pathlib, time; pathlib.Path({str(started)!r}).write_text('1'); time.sleep(600)"
    )
    calc = project.root / "calc.py"
    before = snapshot(project.root)
    verifier = FixVerifier(
        project.root, calc, before["calc.py"].decode(), 2, 2, [CheckCommand(hang, 600)],
        max_output_bytes=65536, parent=sandboxes,
    )  # fmt: skip

    async def verify() -> None:
        async with verifier:
            await verifier("    return a + b")

    task = asyncio.create_task(verify())
    await wait_until(started.exists)  # the check is running
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled()
    assert listing(sandboxes) == []
    assert len(project.git("worktree", "list").splitlines()) == 1
    assert snapshot(project.root) == before


async def test_a_copy_left_by_a_killed_process_is_swept(project: Repo, sandboxes: Path) -> None:
    stale = sandboxes / "fuse-ls-verify-999999999-abc"
    make_dirs(stale / "tree")
    sandbox = await open_sandbox(project.root, sandboxes)
    await sandbox.close()
    assert listing(sandboxes) == []


def _environments(root: Path) -> None:
    """A virtualenv with a tool, node_modules (also nested) and a cache, all ignored."""
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    tool = root / ".venv" / "bin" / "tool"
    tool.write_text(f"#!{sys.executable}\nprint('tool from the venv')\n")
    tool.chmod(0o755)
    make_dirs(root / "node_modules" / "dep")
    (root / "node_modules" / "dep" / "index.js").write_text("module.exports = 1;\n")
    make_dirs(root / "web" / "node_modules" / "lib")
    (root / "web" / "node_modules" / "lib" / "x.js").write_text("x\n")
    make_dirs(root / "__pycache__")
    (root / "__pycache__" / "calc.cpython-311.pyc").write_bytes(b"cache")


async def test_ignored_environments_are_linked_into_the_copy_and_outlive_it(
    project: Repo, sandboxes: Path
) -> None:
    project.write(".gitignore", "build/\n.venv/\nnode_modules/\n__pycache__/\n")
    project.write("web/app.js", "app\n")
    project.commit("ignore environments")
    _environments(project.root)
    before = snapshot(project.root)
    sandbox = await open_sandbox(project.root, sandboxes)
    try:
        tree = sandbox.workspace
        assert (tree / ".venv").is_symlink() and (tree / ".venv").resolve() == (
            project.root / ".venv"
        ).resolve()
        assert (tree / "web" / "node_modules").is_symlink()
        assert (tree / "node_modules" / "dep" / "index.js").read_text() == "module.exports = 1;\n"
        assert not (tree / "__pycache__").exists()  # a cache: the copy makes its own
        # A check that needs the virtualenv's own tool passes in the copy.
        report = await run_checks([CheckCommand(".venv/bin/tool", 30)], tree, 65536)
        assert report.passed, report
        assert "tool from the venv" in report.commands[0].output
        with pytest.raises(SandboxError, match="shares with the workspace"):
            sandbox.write(project.root / ".venv" / "pyvenv.cfg", "changed\n")
    finally:
        await sandbox.close()
    assert listing(sandboxes) == []
    assert snapshot(project.root) == before  # the linked folders are still all there


async def test_without_git_environments_are_linked_too(tmp_path: Path, sandboxes: Path) -> None:
    folder = tmp_path / "plain"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "m.py").write_text("X = 1\n")
    _environments(folder)
    before = snapshot(folder)
    sandbox = await open_sandbox(folder, sandboxes)
    try:
        assert (sandbox.workspace / ".venv").is_symlink()
        assert (sandbox.workspace / "web" / "node_modules").is_symlink()
        assert (sandbox.workspace / "pkg" / "m.py").read_text() == "X = 1\n"
        report = await run_checks([CheckCommand(".venv/bin/tool", 30)], sandbox.workspace, 4096)
        assert report.passed, report
    finally:
        await sandbox.close()
    assert snapshot(folder) == before


def _special_files(folder: Path) -> socket.socket:
    """A named pipe and a listening unix socket in `folder` (the socket is returned so the
    test keeps it open)."""
    os.mkfifo(folder / "pipe")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(folder / "pkg" / "daemon.sock"))
    server.listen()
    return server


@pytest.mark.parametrize("git", [False, True], ids=["plain-folder", "git-untracked"])
async def test_named_pipes_and_sockets_are_left_out(
    git: bool, tmp_path: Path, sandboxes: Path
) -> None:
    # Without git, a pipe or socket in the folder (a dev server's control FIFO) failed
    # every verify with a shutil.Error listing both full paths of each such file.
    folder = tmp_path / "plain"
    if git:
        repo = Repo(tmp_path / "project")
        repo.commit("empty")
        folder = repo.root
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "m.py").write_text("X = 1\n")
    server = _special_files(folder)
    try:
        sandbox = await asyncio.wait_for(open_sandbox(folder, sandboxes), 60)
        try:
            assert (sandbox.workspace / "pkg" / "m.py").read_text() == "X = 1\n"
            assert not (sandbox.workspace / "pipe").exists()
            assert not (sandbox.workspace / "pkg" / "daemon.sock").exists()
        finally:
            await sandbox.close()
    finally:
        server.close()
    assert listing(sandboxes) == []


async def test_without_git_a_copy_failure_is_a_clear_sandbox_error(
    tmp_path: Path, sandboxes: Path
) -> None:
    # A tree nested so deep that its path in the copy is longer than the system allows
    # (the copy's folder name is longer than the workspace's): shutil.Error used to escape.
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "m.py").write_text("X = 1\n")
    room = os.pathconf(folder, "PC_PATH_MAX") - len(str(folder)) - 20
    deep = folder.joinpath(*["d" * 200] * (room // 201), "d" * (room % 201))
    deep.mkdir(parents=True)
    (deep / "f.txt").write_text("deep\n")
    with pytest.raises(SandboxError, match="could not copy the workspace") as caught:
        await open_sandbox(folder, sandboxes)
    assert "ddd" in str(caught.value)
    assert listing(sandboxes) == []
