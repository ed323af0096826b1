"""`--format rdjson` messages become pull-request comments (reviewdog), and GitHub notifies
everyone a comment @mentions. A model led by the code it reads (a comment in the pull
request) can write `@someone` or `@org/team` into a finding and make the review bot ping
anyone, on every run. The message keeps its words but mentions nobody: a zero-width space
follows the `@`; code spans, fenced code and e-mail addresses keep theirs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from markdown_it import MarkdownIt

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.pool_sample import home_env, run_cli
from tests.security.counts import record

MESSAGE = "\n".join(
    [
        "eval runs any code; cc @octocat, @fuse-ls/security and (@admin).",
        "Write to a@b.com or x_y@corp.example, call `@keep(x)`, and _@em_ &#64;entity.",
        "",
        "```python",
        "@fenced",
        "```",
    ]
)
# A code span over a line break, as CommonMark reads it: `@c` after it is prose (read
# line by line, it looked like code). Where the two readings differ, every `@` is quieted.
SPAN = "Span `over\ntwo` @c `d`."
# GitHub finds mentions in the rendered text, outside code, not right after a letter or
# digit (its filter's `\W` is ASCII).
PING = re.compile(r"(?<![A-Za-z0-9])@[A-Za-z0-9]")


def pinged(markdown: str) -> list[str]:
    """The mentions GitHub would notify, in the text a CommonMark renderer makes."""
    found = []
    for token in MarkdownIt("commonmark").parse(markdown):
        if token.type == "inline":
            text = "".join(c.content if c.type == "text" else " " for c in token.children or ())
            found += [m.group() for m in PING.finditer(text)]
    return found


def test_a_pull_request_comment_mentions_nobody(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("empty")
    repo.write("app.py", "def load(raw):\n    return eval(raw)\n")
    assert len(pinged(MESSAGE)) == 5 and pinged(SPAN) == ["@c"]  # as the model wrote them
    findings = [
        {"match": "eval(", "message": MESSAGE, "severity": "error"},
        {"match": "def load", "message": SPAN, "severity": "warning"},
    ]
    models = {"emu/a": {"findings": findings}, "emu/b": {"findings": findings}}
    with Emulator({"models": {**models, "emu/judge": {}}}) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(GIT_ENV, FUSE_LS_MODELS="emu/a,emu/b", FUSE_LS_JUDGE="emu/judge")
        res = run_cli(["review", "--uncommitted", "--format", "rdjson"], env, repo.root)
        as_json = run_cli(["review", "--uncommitted", "--json"], env, repo.root)
    assert res.returncode == 0, res.stderr
    by_severity = {d["severity"]: d["message"] for d in json.loads(res.stdout)["diagnostics"]}
    text, span = by_severity["ERROR"], by_severity["WARNING"]
    assert pinged(text) == [] and pinged(span) == [], (text, span)
    assert span.replace("\u200b", "").startswith(SPAN), span
    # The same words, read aloud: only zero-width spaces were added (the entity is shown
    # as the `@` it stood for).
    assert text.replace("\u200b", "").startswith(MESSAGE.replace("&#64;", "@")), text
    for kept in ("a@b.com", "x_y@corp.example", "`@keep(x)`", "```python\n@fenced\n```"):
        assert kept in text, kept
    assert "@\u200boctocat" in text and "@\u200bfuse-ls/security" in text
    # --json is data, not a comment: the model's text as written.
    messages = [f["message"] for f in json.loads(as_json.stdout)["findings"]]
    assert MESSAGE in messages and SPAN in messages, messages
    record("rdjson mentions quieted", len(pinged(MESSAGE)) + len(pinged(SPAN)))
