"""`--format rdjson` messages become pull-request comments that everyone on the pull
request reads as rendered Markdown. A link a model wrote shows its words and hides its
target, so one click sends what the model, led by the code it read, put in the URL: the
comment shows the link as written, its whole target in sight."""

from __future__ import annotations

import json
from pathlib import Path

from markdown_it import MarkdownIt

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.pool_sample import home_env, run_cli

TARGET = "https://collector.example/?d=ZGVmIGxvYWQocmF3KQ"
MESSAGE = (
    f"eval runs any code; see [the docs]({TARGET}), [the guide][g] and <{TARGET}>\n\n"
    f"[g]: {TARGET}\n\nKeep `[a](b)` as written."
)


def link_tokens(markdown: str) -> list[str]:
    tokens = MarkdownIt("commonmark").parse(markdown)
    inline = [c for t in tokens for c in (t.children or ())]
    return [str(c.attrs.get("href")) for c in inline if c.type == "link_open"]


def test_a_pull_request_comment_shows_a_model_link_target_in_full(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("empty")
    repo.write("app.py", "def load(raw):\n    return eval(raw)\n")
    assert link_tokens(MESSAGE)  # the answer as the model wrote it would hide the target
    finding = {"match": "eval(", "message": MESSAGE, "severity": "error"}
    models = {"emu/a": {"findings": [finding]}, "emu/b": {"findings": [finding]}}
    with Emulator({"models": {**models, "emu/judge": {}}}) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(GIT_ENV, FUSE_LS_MODELS="emu/a,emu/b", FUSE_LS_JUDGE="emu/judge")
        res = run_cli(["review", "--uncommitted", "--format", "rdjson"], env, repo.root)
    assert res.returncode == 0, res.stderr
    (diagnostic,) = json.loads(res.stdout)["diagnostics"]
    text = diagnostic["message"]
    assert link_tokens(text) == [], text
    assert text.count(TARGET) == 3, text  # every target in sight, as written
    assert "the docs" in text and "`[a](b)`" in text  # words and code spans kept
