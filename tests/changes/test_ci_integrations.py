"""The repository's pre-commit hook and GitHub Actions workflow run their fuse-ls
commands as written, against real git repositories and the emulator."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import Repo
from tests.changes.test_review_changes_cli import chat_calls, fuse

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def _args(command: str) -> list[str]:
    words = shlex.split(command)
    assert words[0] == "fuse-ls"
    return words[1:]


def test_pre_commit_hook_stops_a_commit_with_an_error(repo: Repo, emu: Emulator) -> None:
    hooks = (ROOT / ".pre-commit-hooks.yaml").read_text()
    entry = re.search(r"^\s+entry:\s*(.+)$", hooks, re.MULTILINE)
    assert entry is not None
    args = _args(entry[1])
    repo.write("ok.py", "def add(a, b):\n    return a + b\n")
    repo.commit("base")
    repo.write("ok.py", "def add(a, b):\n    return a + b + 1\n")
    repo.git("add", "ok.py")
    assert fuse(args, repo, emu).returncode == 0
    repo.write("bad.py", "def run(cmd):\n    return eval(cmd)\n")
    repo.git("add", "bad.py")
    res = fuse(args, repo, emu)
    assert res.returncode == 1 and "bad.py" in res.stdout
    repo.write("unstaged.py", "x = eval(input())\n")  # not staged: not reviewed
    assert "unstaged.py" not in fuse(args, repo, emu).stdout


def test_github_workflow_commands(tmp_path: Path, emu: Emulator) -> None:
    workflow = (ROOT / ".github/workflows/fuse-ls-review.yml").read_text()
    commands = [
        " ".join(block.split())
        for block in re.findall(r"run: >\n((?:\s{10}.+\n)+)", workflow)
        if "fuse-ls review" in block
    ]
    assert len(commands) == 2
    origin = Repo(tmp_path / "origin")
    origin.write("app.py", "def f(x):\n    return x\n")
    origin.commit("base")
    clone = Repo.__new__(Repo)
    clone.root = tmp_path / "clone"
    origin.git("clone", "-q", str(origin.root), str(clone.root))
    clone.git("checkout", "-q", "-b", "feature")
    clone.write("app.py", "def f(x):\n    return eval(x)\n")
    clone.commit("feature")
    clone.git("checkout", "-q", "--detach")  # as actions/checkout leaves a pull request

    def run(command: str) -> str:
        review = command.split(">")[0].split("|")[0].replace("${{ github.base_ref }}", "main")
        res = fuse(_args(review), clone, emu)
        assert res.returncode == 0, res.stderr
        return res.stdout

    sarif = json.loads(run(commands[0]))
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "fuse-ls/security" and result["partialFingerprints"]
    calls = chat_calls(emu)
    rd = json.loads(run(commands[1]))
    assert chat_calls(emu) == calls  # the second step is served from the cache
    assert rd["diagnostics"][0]["location"]["path"] == "app.py"
