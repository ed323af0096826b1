"""The real server records one session per editor session, with the branch the review ran on,
and exports the fusion to an OpenTelemetry collector when the settings ask for it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import init_options, script, start_session

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is part of the test extra")

from tests.telemetry.otlp_collector import Collector, attributes, spans_of


def _git(ws: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(ws), "-c", "user.email=t@e.st", "-c", "user.name=t", *args],
        check=True,
        capture_output=True,
    )


def selection(start: int, end: int) -> dict[str, Any]:
    return {"start": {"line": start, "character": 0}, "end": {"line": end, "character": 0}}


async def test_editor_session_is_recorded_with_its_branch_and_exported(
    emulator_factory: Any, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    _git(ws, "init", "-q", "-b", "feature/lsp")
    _git(ws, "commit", "-q", "--allow-empty", "-m", "init")
    emu = emulator_factory(script())
    with Collector() as collector:
        options = init_options(telemetry={"otel": True, "otelEndpoint": collector.url})
        lsp, stop = await start_session("neovim", emu, tmp_path, options)
        try:
            uri = lsp.open()
            await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
            _git(ws, "checkout", "-q", "-b", "fix/eval")
            await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
        finally:
            await stop()  # shutdown closes the session: session_end, spans flushed

        files = sorted((lsp.data / "sessions").glob("*/*.jsonl"))
        assert len(files) == 1  # one session for the whole editor session, not per fusion
        lines = [json.loads(x) for x in files[0].read_text().splitlines()]
        assert lines[-1]["fuseLs"]["event"] == "session_end"
        actions = [ln for ln in lines if ln["fuseLs"]["event"] == "action"]
        assert [a["gitBranch"] for a in actions] == ["feature/lsp", "fix/eval"]
        assert {ln["entrypoint"] for ln in lines} == {"fuse-ls"}

        roots = [sp for sp in spans_of(collector) if not sp.parent_span_id]
        assert [sp.name for sp in roots] == ["fuse-ls review", "fuse-ls review"]
        assert all(attributes(sp.attributes)["fuse_ls.mode"] == "merge" for sp in roots)
        calls = [sp for sp in spans_of(collector) if sp.parent_span_id]
        assert calls and all(
            attributes(sp.attributes)["gen_ai.operation.name"] == "chat" for sp in calls
        )


async def test_a_decision_is_recorded_with_who_did_not_answer(
    emulator_factory: Any, tmp_path: Path
) -> None:
    """The transcript says what the editor said: "2/2 models; 1 of 3 did not answer"."""
    (tmp_path / "ws").mkdir()
    emu = emulator_factory(script(faults={"emu/slow": [{"kind": "http", "status": 401}]}))
    lsp, stop = await start_session("neovim", emu, tmp_path, init_options())
    try:
        uri = lsp.open()
        result = await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
        [found] = [f for f in result["findings"] if f["category"] == "security"]
        await lsp.execute(
            "fuse-ls.findingDecision",
            {"uri": uri, "findingId": found["findingId"], "decision": "applied"},
        )
    finally:
        await stop()
    [file] = sorted((lsp.data / "sessions").glob("*/*.jsonl"))
    lines = [json.loads(x) for x in file.read_text().splitlines()]
    [decision] = [ln for ln in lines if ln["fuseLs"]["event"] == "decision"]
    said = "2/2 models; 1 of 3 did not answer"
    assert decision["message"]["content"] == f"[fuse-ls] finding applied ({said})"
    assert (decision["fuseLs"]["votes"], decision["fuseLs"]["didNotAnswer"]) == (2, 1)
