"""The README's "Use it with real models" and "Review a change" commands, run as written
by a user with no key: the emulator started the way the README says, FUSE_LS_BASE_URL
exported as it says, then each command of those blocks in a git repository (the ones
that need a remote or reviewdog are left out)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pool_sample import home_env, run_cli

from fuse_ls.emulator import demo_source_path
from tests.changes.gitrepo import Repo

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(heading: str) -> str:
    start = README.index(heading)
    end = README.find("\n## ", start + len(heading))
    return README[start : end if end > 0 else None]


def bash_commands(heading: str) -> list[list[str]]:
    block = re.search(r"```bash\n(.*?)```", section(heading), re.S)
    assert block, heading
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line]


@pytest.fixture
def readme_emulator() -> Iterator[str]:
    """`fuse-ls emulator --port N` as the README starts it (on a free port: N may be
    taken here), and the base URL its `export FUSE_LS_BASE_URL=...` line gives."""
    text = section("## Use it with real models")
    start = re.search(r"`\.venv/bin/fuse-ls (emulator [^`]*)`", text)
    export = re.search(r"`export FUSE_LS_BASE_URL=(http://127\.0\.0\.1:(\d+)(/[^`]*))`", text)
    assert start and export, "the README no longer says how to run without a key"
    argv = shlex.split(start.group(1))
    port = argv[argv.index("--port") + 1]
    assert port == export.group(2), "the emulator's port and the exported URL's differ"
    argv[argv.index("--port") + 1] = "0"
    proc = subprocess.Popen(
        [sys.executable, "-m", "fuse_ls", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        listening = proc.stdout.readline().strip()  # it prints one line once it listens
        url = re.search(r"http://127\.0\.0\.1:(\d+)(/\S*)", listening)
        assert url, (listening, proc.stderr.read() if proc.stderr else "")
        assert url.group(2) == export.group(3), "the README exports another path"
        yield f"http://127.0.0.1:{url.group(1)}{url.group(2)}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_cli_commands_run_against_the_emulator(readme_emulator: str, tmp_path: Path) -> None:
    git = Repo(tmp_path / "repo")
    repo = git.root
    # The README reviews src/app.py:40-90: the demo's file, its issues on those lines.
    demo = demo_source_path().read_text(encoding="utf-8")
    git.write("src/app.py", "\n" * 39 + demo + "\n" * 40)
    git.commit("init")
    env = home_env(readme_emulator, tmp_path / "home")
    ran = []
    for argv in bash_commands("## Use it with real models"):
        if argv[0] != "fuse-ls":  # activating the environment, exporting a key
            continue
        res = run_cli(argv[1:], env, repo, timeout=120)
        assert res.returncode == 0, (argv, res.stdout, res.stderr)
        ran.append(argv[1])
        if argv[1] == "review":
            assert "3/3" in res.stdout and "eval()" in res.stdout, res.stdout
        if argv[1] == "doctor":
            assert "All good" in res.stdout, res.stdout
    assert ran == ["review", "explain", "fix", "doctor"]
    assert "ast.literal_eval(raw)" in (repo / "src" / "app.py").read_text()  # fix --apply

    # Review a change: the fix above is uncommitted work; commit it on a branch.
    git.git("checkout", "-q", "-b", "feature")
    git.commit("the fused fix")
    with (repo / "src" / "app.py").open("a", encoding="utf-8") as f:
        f.write("\n\ndef load(raw: str) -> object:\n    return eval(raw)\n")
    git.git("add", ".")
    fingerprints: list[str] = []
    for argv in bash_commands("## Review a change"):
        if "origin/main" in argv or argv[1] == "dismiss":
            continue  # needs a remote; a fingerprint of the README's own repository
        res = run_cli(argv[1:], env, repo, timeout=120)
        assert res.returncode == 0, (argv, res.stdout, res.stderr)
        fingerprints += re.findall(r"\b[0-9a-f]{16}\b", res.stdout)
    assert fingerprints, "a change review shows the fingerprints `fuse-ls dismiss` takes"
    res = run_cli(["dismiss", fingerprints[0]], env, repo)
    assert res.returncode == 0, res.stderr
    res = run_cli(["review", "--staged"], env, repo)
    assert fingerprints[0] not in res.stdout and "dismissed" in res.stdout, res.stdout


def test_the_documented_exit_codes(readme_emulator: str, tmp_path: Path) -> None:
    """README: "Exit codes: 0 ok, 1 `--fail-on` tripped, 2 bad usage or setup (...), 3 every
    model failed, 4 a change review stopped (...) before it reviewed anything", each
    produced the way a user would."""
    text = " ".join(section("## Use it with real models").split())
    codes = re.search(
        r"Exit codes: 0 ok, 1 `--fail-on` tripped, 2 bad usage or setup .*?, 3 every model "
        r"failed, 4 a change review stopped .*? before it reviewed anything",
        text,
    )
    assert codes, "the README's exit codes changed: change this test with them"
    (tmp_path / "app.py").write_text(demo_source_path().read_text(encoding="utf-8"))
    env = home_env(readme_emulator, tmp_path / "home")
    cases = {
        0: (["review", "app.py"], env),
        1: (["review", "app.py", "--fail-on", "warning"], env),
        2: (["review", "app.py", "--deadline", "0"], env),
        3: (["review", "app.py"], {**env, "FUSE_LS_BASE_URL": "http://127.0.0.1:9/v1"}),
        4: (["review", "app.py", "--no-cache", "--deadline", "0.000001"], env),
    }
    for code, (argv, environ) in cases.items():
        res = run_cli(argv, environ, tmp_path, timeout=120)
        assert res.returncode == code, (argv, res.stdout, res.stderr)
