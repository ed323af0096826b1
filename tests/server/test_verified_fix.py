"""Issue 15 in the editor: `fuse-ls.fix` tries each candidate fix in an isolated copy of
the (git) workspace, runs the user's checks, and says how they went in the preview."""

from __future__ import annotations

import asyncio
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.server.conftest import JUDGE, init_options, plain, start_session, wait_for

CALC = "def add(a, b):\n    return a - b\n"
GOOD = {"find": "a - b", "replace": "a + b"}
BAD = {"find": "a - b", "replace": "a * b"}
CHECK = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
    "import calc; r = calc.add(2, 3); print('add(2, 3) =', r); assert r == 5, r"
)
SELECTION = types.Range(
    start=types.Position(line=1, character=0), end=types.Position(line=2, character=0)
)


def fixes(*rules: dict[str, str]) -> dict[str, Any]:
    pool = ["emu/fast", "emu/mid", "emu/slow"]
    models: dict[str, Any] = {m: {"fix": rule} for m, rule in zip(pool, rules, strict=True)}
    return {"models": {**models, JUDGE: {}}}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))  # the server's copies go here
    yield


def workspace_repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "ws")
    repo.write("calc.py", CALC)
    repo.commit("calc")
    return repo


async def run_fix(
    profile: str, emulator: Emulator, tmp_path: Path
) -> tuple[dict[str, Any], list[types.ApplyWorkspaceEditParams], Repo]:
    repo = workspace_repo(tmp_path)
    options = init_options(verify={"commands": [CHECK]}, workspaceTrusted=True)
    lsp, stop = await start_session(profile, emulator, tmp_path, options)
    try:
        uri = lsp.open("calc.py", CALC)
        result = await lsp.execute("fuse-ls.fix", {"uri": uri, "range": SELECTION})
        # The server never writes the workspace: only the client applies the edit.
        assert (repo.root / "calc.py").read_text() == CALC
        assert list((tmp_path / "tmp").glob("fuse-ls-verify-*")) == []
        return dict(result), list(lsp.recorder.edits), repo
    finally:
        await stop()


def annotation(params: types.ApplyWorkspaceEditParams) -> tuple[types.ChangeAnnotation, str]:
    edit = params.edit
    assert edit.document_changes is not None and edit.change_annotations is not None
    change = edit.document_changes[0]
    assert isinstance(change, types.TextDocumentEdit)
    text_edit = change.edits[0]
    assert isinstance(text_edit, types.AnnotatedTextEdit)
    return edit.change_annotations[text_edit.annotation_id], text_edit.new_text


def new_text(params: types.ApplyWorkspaceEditParams) -> str:
    edit = params.edit
    if edit.changes is not None:
        return next(iter(edit.changes.values()))[0].new_text
    return annotation(params)[1]


@pytest.mark.parametrize("profile", ["neovim", "visual-studio-code"])
async def test_a_passing_fix_says_its_checks_passed(
    profile: str, emulator_factory: Any, tmp_path: Path
) -> None:
    result, edits, _ = await run_fix(profile, emulator_factory(fixes(GOOD, GOOD, GOOD)), tmp_path)
    checks = result["checks"]
    assert checks["passed"] is True and result["applied"] is True
    assert checks["summary"].startswith("checks passed (1 command, ")
    [params] = edits
    assert "a + b" in new_text(params)
    if profile == "visual-studio-code":
        label = annotation(params)[0].label
        assert label.startswith("Fused fix: checks passed (1 command, ")


async def test_a_failing_fix_shows_its_failing_lines_in_the_preview(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(fixes(BAD, BAD, BAD))
    result, edits, _ = await run_fix("visual-studio-code", emu, tmp_path)
    assert result["checks"]["passed"] is False
    assert "AssertionError: 6" in result["checks"]["failingLines"]
    [params] = edits
    note, text = annotation(params)
    assert note.label.startswith("Fused fix (apply anyway?): checks failed: `")
    assert note.needs_confirmation is True
    assert note.description is not None and "AssertionError: 6" in note.description
    assert "a * b" in text


async def test_a_failing_fix_is_not_applied_where_no_preview_shows_it(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(fixes(BAD, BAD, BAD))
    result, edits, _ = await run_fix("neovim", emu, tmp_path)
    assert edits == []
    assert result["applied"] is False and "checks failed" in result["reason"]


async def test_the_judge_takes_the_candidate_that_passes(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(fixes(BAD, GOOD, BAD))
    result, edits, _ = await run_fix("neovim", emu, tmp_path)
    [params] = edits
    assert "a + b" in new_text(params)
    candidates = {c["model"]: c["passed"] for c in result["checks"]["candidates"]}
    assert candidates == {"emu/fast": False, "emu/mid": True, "emu/slow": False}
    judged = [r for r in emu.requests if r.model == JUDGE and "<check_output" in str(r.body)]
    assert judged, "the judge was shown the failing output"


async def test_a_findings_quick_fix_is_verified_on_request(
    emulator_factory: Any, tmp_path: Path
) -> None:
    rule = {"match": "a - b", "message": "add subtracts", "severity": "error", "replace": "a + b"}
    models = {m: {"findings": [rule]} for m in ("emu/fast", "emu/mid", "emu/slow")}
    emu = emulator_factory({"models": {**models, JUDGE: {}}})
    repo = workspace_repo(tmp_path)
    lsp, stop = await start_session(
        "neovim", emu, tmp_path, init_options(verify={"commands": [CHECK]}, workspaceTrusted=True)
    )
    try:
        uri = lsp.open("calc.py", CALC)
        await lsp.execute("fuse-ls.review", {"uri": uri})
        [diagnostic] = [d for d in lsp.diagnostics(uri) if not plain(d.data).get("provisional")]
        finding_id = plain(diagnostic.data)["findingId"]
        result = await lsp.execute("fuse-ls.verifyFinding", {"uri": uri, "findingId": finding_id})
        assert result["checks"]["passed"] is True, result
        assert result["checks"]["summary"].startswith("checks passed (1 command, ")
        assert (repo.root / "calc.py").read_text() == CALC  # verified, not applied
        assert list((tmp_path / "tmp").glob("fuse-ls-verify-*")) == []
    finally:
        await stop()


BAD_FINDING = {
    "match": "a - b",
    "message": "add subtracts",
    "severity": "error",
    "replace": "a * b",
}


async def _reviewed(
    profile: str, emu: Emulator, tmp_path: Path
) -> tuple[Any, Any, str, types.Diagnostic, Repo]:
    repo = workspace_repo(tmp_path)
    lsp, stop = await start_session(
        profile, emu, tmp_path, init_options(verify={"commands": [CHECK]}, workspaceTrusted=True)
    )
    uri = lsp.open("calc.py", CALC)
    await lsp.execute("fuse-ls.review", {"uri": uri})
    [diagnostic] = [d for d in lsp.diagnostics(uri) if not plain(d.data).get("provisional")]
    return lsp, stop, uri, diagnostic, repo


def _finding_script(rule: dict[str, str]) -> dict[str, Any]:
    models = {m: {"findings": [rule]} for m in ("emu/fast", "emu/mid", "emu/slow")}
    return {"models": {**models, JUDGE: {}}}


async def test_the_verify_code_action_checks_the_quick_fix_then_offers_it_labelled(
    emulator_factory: Any, tmp_path: Path
) -> None:
    rule = {"match": "a - b", "message": "add subtracts", "severity": "error", "replace": "a + b"}
    emu = emulator_factory(_finding_script(rule))
    lsp, stop, uri, diagnostic, repo = await _reviewed("visual-studio-code", emu, tmp_path)
    try:
        listed = await lsp.code_actions(uri, (1, 0), (1, 0), [diagnostic], only=["quickfix"])
        verify = [a for a in listed if a.get("kind") == "quickfix.fuse-ls.verify"]
        assert [a["title"] for a in verify] == ["Verify, then apply: add subtracts"]
        command = verify[0]["command"]
        # The VS Code extension adds the key it matches the fix's notification by.
        [args] = command["arguments"]
        result = await lsp.execute(command["command"], {**args, "requestKey": "vsc-verify-7"})
        assert result["checks"]["passed"] is True and result["applied"] is True, result
        [params] = lsp.recorder.edits
        assert list(params.edit.change_annotations or {}) == ["vsc-verify-7"]
        note, text = annotation(params)
        assert note.label.startswith("Fused fix: checks passed (1 command, ")
        assert text.strip() == "return a + b"
        assert (repo.root / "calc.py").read_text() == CALC  # the client applies, not the server
    finally:
        await stop()


async def test_a_failing_quick_fix_asks_apply_anyway_or_is_withheld(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emu = emulator_factory(_finding_script(BAD_FINDING))
    lsp, stop, uri, diagnostic, _ = await _reviewed("visual-studio-code", emu, tmp_path)
    try:
        finding_id = plain(diagnostic.data)["findingId"]
        args = {"uri": uri, "findingId": finding_id, "apply": True}
        result = await lsp.execute("fuse-ls.verifyFinding", args)
        assert result["checks"]["passed"] is False
        [params] = lsp.recorder.edits
        note, _ = annotation(params)
        assert note.label.startswith("Fused fix (apply anyway?): checks failed: `")
        assert note.needs_confirmation is True
        assert note.description is not None and "AssertionError: 6" in note.description
    finally:
        await stop()
    # A client that cannot preview an annotated edit never gets the failing fix.
    plain_client = await _reviewed(
        "neovim", emulator_factory(_finding_script(BAD_FINDING)), tmp_path / "p"
    )
    lsp, stop, uri, diagnostic, _ = plain_client
    try:
        args = {"uri": uri, "findingId": plain(diagnostic.data)["findingId"], "apply": True}
        result = await lsp.execute("fuse-ls.verifyFinding", args)
        assert result["applied"] is False and "checks failed" in result["reason"]
        assert lsp.recorder.edits == []
    finally:
        await stop()


async def test_a_quick_fix_is_not_sent_when_the_code_changed_during_its_checks(
    emulator_factory: Any, tmp_path: Path
) -> None:
    slow = f"{shlex.quote(sys.executable)} -c " + shlex.quote(
        "import pathlib, time\n"
        "pathlib.Path('started').write_text('1')\n"
        f"while not pathlib.Path({str(tmp_path / 'go')!r}).exists(): time.sleep(0.05)"
    )
    rule = {"match": "a - b", "message": "add subtracts", "severity": "error", "replace": "a + b"}
    emu = emulator_factory(_finding_script(rule))
    repo = workspace_repo(tmp_path)
    lsp, stop = await start_session(
        "visual-studio-code",
        emu,
        tmp_path,
        init_options(verify={"commands": [slow]}, workspaceTrusted=True),
    )
    try:
        uri = lsp.open("calc.py", CALC)
        await lsp.execute("fuse-ls.review", {"uri": uri})
        [diagnostic] = [d for d in lsp.diagnostics(uri) if not plain(d.data).get("provisional")]
        args = {"uri": uri, "findingId": plain(diagnostic.data)["findingId"], "apply": True}
        running = lsp.execute_async("fuse-ls.verifyFinding", args)
        await wait_for(lambda: list((tmp_path / "tmp").glob("fuse-ls-verify-*/tree/started")))
        lsp.edit(uri, (0, 0), (0, 0), "# edited\n")
        (tmp_path / "go").write_text("1")
        result = await asyncio.wait_for(running, 30)
        assert result["applied"] is False and "changed while the checks ran" in result["reason"]
        assert lsp.recorder.edits == []
        assert (repo.root / "calc.py").read_text() == CALC
    finally:
        await stop()
