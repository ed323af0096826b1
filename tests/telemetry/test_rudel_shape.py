"""Sessions shaped so Rudel's analytics read them right: vendor model ids (priced by its rate
card), the judge's line last ("model used"), the cost in the transcript, the branch at
session time, and a marker telling fuse-ls sessions from Claude Code's."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from telemetry_events import (
    JUDGE,
    POOL,
    Clock,
    failed,
    ok,
    run_fusion,
    session_files,
    usage,
    validate_transcript,
)

from fuse_ls.config import TelemetrySettings
from fuse_ls.core import events as ev
from fuse_ls.core.types import CandidateResult, JudgeResult
from fuse_ls.telemetry.models import vendor_model_id, vendor_of
from fuse_ls.telemetry.recorder import SessionRecorder


@pytest.mark.parametrize(
    ("routed", "vendor_id"),
    [
        ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
        ("anthropic/claude-opus-4.1", "claude-opus-4-1"),
        ("anthropic/claude-3.7-sonnet:thinking", "claude-3-7-sonnet"),
        ("anthropic/claude-3.5-haiku-20241022", "claude-3-5-haiku-20241022"),
        ("anthropic/claude-3.5-sonnet", "claude-3-5-sonnet-20241022"),
        ("Anthropic/Claude-Haiku-4.5", "claude-haiku-4-5"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5-20250929"),
        ("openai/gpt-5", "gpt-5"),
        ("openai/gpt-4.1", "gpt-4.1"),
        ("openai/o4-mini", "o4-mini"),
        ("openai/gpt-5.1-codex:free", "gpt-5.1-codex"),
        ("gpt-5", "gpt-5"),
        ("google/gemini-2.5-pro", "google/gemini-2.5-pro"),
        ("deepseek/deepseek-chat-v3.1", "deepseek/deepseek-chat-v3.1"),
        ("my-local-model", "my-local-model"),
    ],
)
def test_vendor_model_ids_match_what_claude_code_and_codex_write(
    routed: str, vendor_id: str
) -> None:
    assert vendor_model_id(routed) == vendor_id


def test_vendor_is_known_only_for_anthropic_and_openai() -> None:
    assert vendor_of("anthropic/claude-sonnet-4.5") == "anthropic"
    assert vendor_of("openai/gpt-5-mini") == "openai"
    assert vendor_of("google/gemini-2.5-pro") is None
    assert vendor_of("meta-llama/llama-3.3-70b") is None


def _recorder(root: Path, ws: Path, **kw: object) -> tuple[SessionRecorder, Clock]:
    clock = Clock()
    rec = SessionRecorder(
        TelemetrySettings(data_dir=str(root)),
        ws,
        source="server",
        version="0.1.0",
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )
    return rec, clock


def test_judge_line_is_last_even_when_a_pool_failure_arrives_after_it(tmp_path: Path) -> None:
    """Rudel's "model used" is the last assistant line: it must be the judge's, not the
    model that failed (or was cancelled at quorum) while the judge was working."""
    rec, clock = _recorder(tmp_path / "data", tmp_path, git_branch="main")
    fid = "f1"
    rec.observe(ev.FusionStarted(fusion_id=fid))
    for i, model in enumerate(POOL[:2]):
        clock.advance(2)
        rec.observe(ev.ModelFinished(fusion_id=fid, model=model, index=i, candidate=ok(model, i)))
    clock.advance(1)
    judge = JudgeResult(JUDGE, "ok", 1.0, usage(3000, 500, 0, 0.002), "A is right.")
    rec.observe(ev.JudgeFinished(fusion_id=fid, model=JUDGE, judge=judge))
    clock.advance(1)
    late = failed(POOL[2], 2, kind="timeout", code=0)
    rec.observe(ev.ModelFailed(fusion_id=fid, model=POOL[2], index=2, candidate=late))
    rec.close()

    [path] = session_files(tmp_path / "data")
    lines = validate_transcript(path)
    assistants = [ln for ln in lines if ln["type"] == "assistant"]
    assert assistants[-1]["message"]["model"] == "gpt-5-mini"
    assert assistants[-1]["fuseLs"]["role"] == "judge"
    # The failure is still there (Rudel counts it), before the answers.
    kinds = [ln["fuseLs"]["event"] for ln in lines if ln["fuseLs"].get("fusionId") == fid]
    assert kinds.index("model_failed") < kinds.index("model_answer")
    assert '"is_error":true' in path.read_text()


def test_last_line_of_each_fusion_carries_its_cost_and_the_session_total(tmp_path: Path) -> None:
    rec, clock = _recorder(tmp_path / "data", tmp_path, git_branch="main")
    run_fusion(rec, clock, "fa")  # 3 pool answers at $0.01 + the judge at $0.002
    clock.advance(60)
    run_fusion(rec, clock, "fb", task="explain", results=(ok(POOL[2], 0),))
    rec.close()
    [path] = session_files(tmp_path / "data")
    lines = validate_transcript(path)
    texts = [
        ln["message"]["content"][-1]["text"]
        for ln in lines
        if ln["type"] == "assistant" and "fusionCostUsd" in ln["fuseLs"]
    ]
    assert texts == [
        "[fuse-ls] this review cost $0.0320 as reported by the provider; "
        "this session so far $0.0320",
        "[fuse-ls] this explain cost $0.0120 as reported by the provider; "
        "this session so far $0.0440",
    ]


def test_cost_is_stated_even_when_the_last_call_failed(tmp_path: Path) -> None:
    rec, clock = _recorder(tmp_path / "data", tmp_path, git_branch="main")
    run_fusion(rec, clock, "fa", results=(ok(POOL[0], 0), failed(POOL[1], 1)), judge_ok=False)
    rec.close()
    [path] = session_files(tmp_path / "data")
    lines = validate_transcript(path)
    last = [ln for ln in lines if ln["type"] == "assistant"][-1]
    assert last["fuseLs"]["role"] == "judge" and last["fuseLs"]["event"] == "model_call"
    blocks = last["message"]["content"]
    assert [b["type"] for b in blocks] == ["text", "tool_use"]
    assert blocks[0]["text"].startswith("[fuse-ls] this review cost $0.0100")


def test_unfinished_fusion_is_written_when_the_session_closes(tmp_path: Path) -> None:
    rec, _clock = _recorder(tmp_path / "data", tmp_path, git_branch="main")
    rec.observe(ev.FusionStarted(fusion_id="fz"))
    cand: CandidateResult = ok(POOL[0], 0)
    rec.observe(ev.ModelFinished(fusion_id="fz", model=POOL[0], index=0, candidate=cand))
    rec.close()
    [path] = session_files(tmp_path / "data")
    lines = validate_transcript(path)
    assert [ln["fuseLs"]["event"] for ln in lines][-2:] == ["model_answer", "session_end"]


def _git(ws: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(ws), "-c", "user.email=t@e.st", "-c", "user.name=t", *args],
        check=True,
        capture_output=True,
    )


def test_branch_is_recorded_at_session_time_and_follows_checkout(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "src").mkdir(parents=True)
    _git(ws, "init", "-q", "-b", "feature/login")
    _git(ws, "commit", "-q", "--allow-empty", "-m", "init")
    # The recorder is given no branch (as the server and the CLI build it).
    rec, clock = _recorder(tmp_path / "data", ws / "src")
    run_fusion(rec, clock, "fa", path=str(ws / "src" / "a.py"))
    _git(ws, "checkout", "-q", "-b", "fix/sql")
    clock.advance(10)
    run_fusion(rec, clock, "fb", path=str(ws / "src" / "a.py"))
    _git(ws, "checkout", "-q", "--detach")
    clock.advance(10)
    run_fusion(rec, clock, "fc", path=str(ws / "src" / "a.py"))
    rec.close()
    [path] = session_files(tmp_path / "data")
    lines = validate_transcript(path)
    branch = {
        ln["fuseLs"]["fusionId"]: ln["gitBranch"] for ln in lines if "fusionId" in ln["fuseLs"]
    }
    assert branch == {"fa": "feature/login", "fb": "fix/sql", "fc": "HEAD"}
    assert lines[0]["gitBranch"] == "feature/login"  # the session's first line too


def test_branch_in_a_git_worktree(tmp_path: Path) -> None:
    main = tmp_path / "main"
    main.mkdir()
    _git(main, "init", "-q", "-b", "main")
    _git(main, "commit", "-q", "--allow-empty", "-m", "init")
    _git(main, "worktree", "add", "-q", "-b", "wt-branch", str(tmp_path / "wt"))
    rec, clock = _recorder(tmp_path / "data", tmp_path / "wt")
    run_fusion(rec, clock, "fa", path=str(tmp_path / "wt" / "a.py"))
    rec.close()
    [path] = session_files(tmp_path / "data")
    assert {json.loads(x)["gitBranch"] for x in path.read_text().splitlines()} == {"wt-branch"}


def test_every_line_is_marked_as_fuse_ls(tmp_path: Path) -> None:
    rec, clock = _recorder(tmp_path / "data", tmp_path, git_branch="")
    run_fusion(rec, clock, "fa")
    rec.close()
    [path] = session_files(tmp_path / "data")
    assert {ln["entrypoint"] for ln in validate_transcript(path)} == {"fuse-ls"}
