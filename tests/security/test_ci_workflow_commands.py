"""fuse-ls runs in CI on pull requests, whose author writes the code the models read and
the file names a change review prints. A GitHub Actions runner reads every line a step
prints (stdout and stderr) as a possible workflow command: `::cmd args::data` after
leading spaces, and the legacy `##[cmd args]data` anywhere in a line (actions/runner,
ActionCommand.TryParseV2 / TryParse). `add-mask`, `stop-commands`, `set-output`, `error`
and the rest are live there; Azure Pipelines reads `##vso[task.setvariable ...]` anywhere
in a line the same way. So no line fuse-ls prints may carry one as a PR chose it.

Not fixed yet (fuse_ls/cli, fuse_ls/changes): strict xfail, so the fix makes it fail
until the marker goes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import Repo
from tests.pool_sample import CODE, JUDGE, POOL, home_env, run_cli
from tests.security.counts import record

# The commands the runner registers (its command extensions plus stop-commands).
_COMMANDS = (
    "add-mask|add-matcher|add-path|debug|echo|endgroup|error|group|notice|remove-matcher"
    "|save-state|set-env|set-output|stop-commands|warning"
)
_V2 = re.compile(rf"^\s*::({_COMMANDS})[ :]")
_V1 = re.compile(rf"##\[({_COMMANDS})[ \]]")
_AZURE = re.compile(r"##vso\[")

MESSAGE = (
    "eval runs any code\n"
    "::add-mask::eval\n"
    "##[error]approved by fuse-ls\n"
    "##vso[task.setvariable variable=SKIP_TESTS]true\n"
    "  ::set-output name=verdict::pass"
)


CHECKED: set[str] = set()


def _commands(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if _V2.search(line) or _V1.search(line) or _AZURE.search(line)
    ]


@pytest.mark.xfail(strict=True, reason="CI workflow commands: fuse_ls/cli, fuse_ls/changes")
@pytest.mark.parametrize("output", ["text", "json", "sarif", "rdjson"])
def test_a_pull_request_cannot_print_workflow_commands(tmp_path: Path, output: str) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("empty")
    repo.write("::error::x.py", CODE)  # git and Linux allow it; `::` starts the heading line
    finding = {"match": "eval(", "message": MESSAGE, "severity": "error", "category": "sec"}
    script = {"models": {**{m: {"findings": [finding]} for m in POOL}, JUDGE: {}}}
    with Emulator(script) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="80")
        args = ["review", "--uncommitted"] + ([] if output == "text" else ["--format", output])
        res = run_cli(args, env, repo.root)
    assert res.returncode == 0, res.stderr
    assert _commands(res.stdout + "\n" + res.stderr) == []
    if output != "text":
        # The data itself is kept: a JSON consumer reads the message as the model wrote it.
        assert MESSAGE in json.dumps(json.loads(res.stdout), ensure_ascii=False).replace(
            "\\n", "\n"
        )
    CHECKED.add(output)
    record("outputs printing no CI workflow command", len(CHECKED))
