"""The recorder writes conformant Rudel/Claude-Code transcripts from real FusionEvents."""

from __future__ import annotations

import itertools
import json
import logging
import os
import stat
from pathlib import Path

import attrs
import pytest
from telemetry_events import (
    CODE,
    JUDGE,
    POOL,
    Clock,
    failed,
    finding,
    ok,
    run_fusion,
    session_files,
    usage,
    validate_transcript,
)

from fuse_ls.config import TelemetrySettings
from fuse_ls.core import events as ev
from fuse_ls.core.types import CandidateResult, JudgeResult
from fuse_ls.telemetry import store
from fuse_ls.telemetry.recorder import SessionRecorder
from fuse_ls.telemetry.stats import compute_stats, load_sessions

WS = Path("/work/ws")


def make(tmp_path: Path, **kw: object) -> tuple[SessionRecorder, Clock, Path]:
    root = tmp_path / "data"
    settings = TelemetrySettings(data_dir=str(root), **kw)  # type: ignore[arg-type]
    clock = Clock()
    rec = SessionRecorder(
        settings, WS, source="server", version="0.1.0", git_branch="main", clock=clock
    )
    return rec, clock, root


def full_session(rec: SessionRecorder, clock: Clock) -> None:
    run_fusion(rec, clock, "fa", mode="best-of", winner=POOL[0])
    rec.record_decision("fa", "fa-0", "applied", kind="finding")
    clock.advance(5)
    rec.record_decision("fa", "fa-1", "dismissed", kind="finding")
    clock.advance(30)
    run_fusion(
        rec,
        clock,
        "fb",
        task="fix",
        results=(ok(POOL[0], 0), failed(POOL[1], 1), ok(POOL[2], 2)),
        judge_ok=False,
    )
    rec.record_decision("fb", "fb", "applied", kind="fix")
    clock.advance(10)
    run_fusion(rec, clock, "fc", task="explain")
    rec.observe(ev.FusionStarted(fusion_id="fd"))
    rec.observe(ev.FusionFailed(fusion_id="fd", elapsed_s=0.1, message="Budget exceeded"))
    rec.close()


def test_conformance_of_every_line(tmp_path: Path) -> None:
    rec, clock, root = make(tmp_path)
    full_session(rec, clock)
    [path] = session_files(root)
    assert path.parent.name == "-work-ws"
    lines = validate_transcript(path)
    types = [(ln["type"], ln["fuseLs"]["event"]) for ln in lines]
    assert types[0] == ("system", "session_start")
    assert types[-1] == ("system", "session_end")
    assert ("user", "action") in types and ("user", "decision") in types
    assert ("user", "model_failed") in types and ("system", "fusion_failed") in types

    assistants = [ln for ln in lines if ln["type"] == "assistant"]
    models = {ln["message"]["model"] for ln in assistants}
    # Rudel prices by the vendor's own ids; the routed id stays in fuseLs.model.
    assert models == {"claude-sonnet-4-5", "gpt-5", "google/gemini-2.5-pro", "gpt-5-mini"}
    assert {ln["fuseLs"]["model"] for ln in assistants} == {*POOL, JUDGE}
    answers = [ln for ln in assistants if ln["fuseLs"]["event"] == "model_answer"]
    # 3 pool + judge, 2 pool (judge failed), 3 pool + judge
    assert len(answers) == 4 + 2 + 4
    ids = [ln["message"]["id"] for ln in assistants]
    assert len(ids) == len(set(ids)), "every answer has its own message.id"
    first = answers[0]["message"]
    # OpenAI-style prompt tokens (1200, incl. 200 cached + 50 written) -> Anthropic style
    assert first["usage"]["input_tokens"] == 950
    assert first["usage"]["cache_read_input_tokens"] == 200
    assert first["usage"]["cache_creation_input_tokens"] == 50
    assert first["usage"]["output_tokens"] == 400
    assert answers[0]["fuseLs"]["latencyS"] == 2.5

    text = path.read_text()
    # Rudel's analytics match these literal substrings.
    assert text.count('"is_error":true') == 2  # the failed pool model and the failed judge
    assert '"type":"tool_result"' in text
    # The code itself is not recorded by default, only its hash and size.
    assert "conn.query" not in text
    action = next(ln for ln in lines if ln["fuseLs"]["event"] == "action")
    assert action["fuseLs"]["path"] == "src/app.py"
    assert action["fuseLs"]["codeLines"] == 3
    assert action["fuseLs"]["startLine"] == 10 and action["fuseLs"]["endLine"] == 12
    assert len(action["fuseLs"]["codeSha256"]) == 64
    finished = next(ln for ln in lines if ln["fuseLs"]["event"] == "fusion_finished")
    assert finished["fuseLs"]["winner"] == POOL[0]
    assert [f["votes"] for f in finished["fuseLs"]["findings"]] == [3, 1]
    decision = next(ln for ln in lines if ln["fuseLs"]["event"] == "decision")
    # votes are looked up from the fusion when the caller does not pass them
    assert decision["fuseLs"]["votes"] == 3 and decision["fuseLs"]["poolSize"] == 3


def test_decision_lines_say_when_a_pool_member_did_not_answer(tmp_path: Path) -> None:
    """A transcript's decision reads as every other output does: not a bare "2/2 models"
    when the third model failed, whether the votes come from the fusion or the caller."""
    rec, clock, root = make(tmp_path)
    two_of_three = attrs.evolve(finding("fe", 0, 2, 2), did_not_answer=1)
    run_fusion(
        rec,
        clock,
        "fe",
        results=(ok(POOL[0], 0), ok(POOL[1], 1), failed(POOL[2], 2)),
        findings=(two_of_three, finding("fe", 1, 1, 2)),
    )
    rec.record_decision("fe", "fe-0", "applied", kind="finding")  # known from the fusion
    # The server passes what it published (a fusion recorded before a restart, say).
    rec.record_decision(
        "gone", "gone-0", "dismissed", kind="finding", votes=1, pool_size=2, did_not_answer=1
    )
    rec.record_decision("fe", "fe", "applied", kind="fix")  # a fix has no votes
    rec.close()
    [path] = session_files(root)
    decisions = [ln for ln in validate_transcript(path) if ln["fuseLs"]["event"] == "decision"]
    assert [d["message"]["content"] for d in decisions] == [
        "[fuse-ls] finding applied (2/2 models; 1 of 3 did not answer)",
        "[fuse-ls] finding dismissed (1/2 models; 1 of 3 did not answer)",
        "[fuse-ls] fix applied",
    ]
    # A fact without a value is left out of the line.
    assert [d["fuseLs"].get("didNotAnswer") for d in decisions] == [1, 1, None]
    assert [d["fuseLs"].get("votes") for d in decisions] == [2, 1, None]
    finished = next(
        ln for ln in validate_transcript(path) if ln["fuseLs"]["event"] == "fusion_finished"
    )
    assert [f["didNotAnswer"] for f in finished["fuseLs"]["findings"]] == [1, 0]


def test_decision_lines_tell_a_member_not_waited_for_from_one_that_failed(
    tmp_path: Path,
) -> None:
    rec, clock, root = make(tmp_path)
    quorum_met = attrs.evolve(finding("fq", 0, 2, 2), not_waited_for=1)
    run_fusion(
        rec,
        clock,
        "fq",
        results=(ok(POOL[0], 0), ok(POOL[1], 1), failed(POOL[2], 2)),
        findings=(quorum_met,),
    )
    rec.record_decision("fq", "fq-0", "applied", kind="finding")
    rec.record_decision(
        "gone", "gone-0", "dismissed", kind="finding", votes=1, pool_size=3, not_waited_for=1
    )
    rec.close()
    [path] = session_files(root)
    lines = validate_transcript(path)
    decisions = [ln for ln in lines if ln["fuseLs"]["event"] == "decision"]
    assert [d["message"]["content"] for d in decisions] == [
        "[fuse-ls] finding applied (2/2 models; 1 of 3 not waited for)",
        "[fuse-ls] finding dismissed (1/3 models; 1 of 4 not waited for)",
    ]
    assert [d["fuseLs"].get("notWaitedFor") for d in decisions] == [1, 1]
    assert decisions[0]["fuseLs"]["didNotAnswer"] == 0
    finished = next(ln for ln in lines if ln["fuseLs"]["event"] == "fusion_finished")
    assert [f["notWaitedFor"] for f in finished["fuseLs"]["findings"]] == [1]


def test_message_ids_are_stable(tmp_path: Path) -> None:
    rec1, clock1, root1 = make(tmp_path / "a")
    rec2, clock2, root2 = make(tmp_path / "b")
    rec2.root_session_id = rec2.session_id = rec1.root_session_id
    for rec, clock in ((rec1, clock1), (rec2, clock2)):
        run_fusion(rec, clock, "fx")
        rec.close()

    def ids(root: Path) -> list[str]:
        [p] = session_files(root)
        return [
            json.loads(ln)["message"]["id"]
            for ln in p.read_text().splitlines()
            if '"type":"assistant"' in ln
        ]

    assert ids(root1) == ids(root2)


def test_two_judge_calls_in_one_fusion_get_distinct_ids(tmp_path: Path) -> None:
    rec, _clock, root = make(tmp_path)
    judge = JudgeResult(JUDGE, "ok", 1.0, usage(), "stage one")
    rec.observe(ev.FusionStarted(fusion_id="fj"))
    rec.observe(ev.JudgeFinished(fusion_id="fj", elapsed_s=1.0, model=JUDGE, judge=judge))
    rec.observe(ev.JudgeFinished(fusion_id="fj", elapsed_s=2.0, model=JUDGE, judge=judge))
    rec.close()
    [path] = session_files(root)
    ids = [ln["message"]["id"] for ln in validate_transcript(path) if ln["type"] == "assistant"]
    assert len(ids) == 2 and ids[0] != ids[1]


def test_record_content_redacts(tmp_path: Path) -> None:
    rec, clock, root = make(tmp_path, record_content=True)
    secret = "sk-" + "proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh"
    code = CODE + f'OPENAI_KEY = "{secret}"\n'
    run_fusion(
        rec,
        clock,
        "fr",
        code=code,
        results=(ok(POOL[0], 0, text=f"You leaked {secret} on line 4"),),
    )
    rec.close()
    [path] = session_files(root)
    validate_transcript(path)
    text = path.read_text()
    assert "conn.query" in text  # content recorded on request...
    assert secret not in text  # ...but never the secret
    assert "[REDACTED:openai-key]" in text


def test_off_switch_writes_nothing(tmp_path: Path) -> None:
    rec, clock, root = make(tmp_path, enabled=False)
    full_session(rec, clock)
    assert not root.exists()
    assert rec.path is None


def test_nothing_written_until_first_event(tmp_path: Path) -> None:
    rec, _clock, root = make(tmp_path)
    rec.close()
    assert not root.exists()


def test_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        rec, clock, root = make(tmp_path)
        run_fusion(rec, clock, "fp")
        rec.close()
    finally:
        os.umask(old)
    [path] = session_files(root)
    for d in (root, root / "sessions", path.parent):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rotation_links_files(tmp_path: Path) -> None:
    rec, clock, root = make(tmp_path, max_lines_per_file=20)
    for i in range(12):
        run_fusion(rec, clock, f"f{i}")
        rec.record_decision(f"f{i}", f"f{i}-0", "applied", kind="finding")
        clock.advance(20)
    rec.close()
    files = session_files(root)
    assert len(files) >= 5
    parts = []
    for path in files:
        lines = validate_transcript(path)
        assert len(lines) <= 20
        parts.append(lines)
    parts.sort(key=lambda ls: ls[0]["fuseLs"]["part"])
    roots = {ls[0]["fuseLs"]["rootSessionId"] for ls in parts}
    assert roots == {rec.root_session_id}
    for prev, nxt in itertools.pairwise(parts):
        assert prev[-1]["fuseLs"] == {
            "event": "session_end",
            "reason": "rotated",
            "nextSessionId": nxt[0]["sessionId"],
        }
        assert nxt[0]["fuseLs"]["previousSessionId"] == prev[0]["sessionId"]
    stats = compute_stats(load_sessions(root))
    assert stats["totals"]["sessions"] == 1
    assert stats["totals"]["actions"] == 12
    assert stats["acceptance"]["byVotes"][-1]["applied"] == 12


def test_rotation_limit_is_clamped_below_rudel_limit(tmp_path: Path) -> None:
    rec, _clock, _root = make(tmp_path, max_lines_per_file=100_000)
    assert rec.max_lines == store.HARD_MAX_LINES < 8000


def test_observer_never_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "data"
    root.write_text("a file where the folder should be")
    settings = TelemetrySettings(data_dir=str(root))
    rec = SessionRecorder(settings, WS, source="cli", version="0.1.0")
    with caplog.at_level(logging.WARNING):
        run_fusion(rec, None, "fz")
        rec.record_decision("fz", "fz-0", "applied", kind="finding")
        rec.close()
    assert "telemetry disabled" in caplog.text
    # and garbage events are ignored, not raised
    rec2, _c, _r = make(tmp_path / "x")
    rec2.observe(ev.ModelFinished(fusion_id="f", model="m", index=0, candidate=None))  # type: ignore[arg-type]
    rec2.observe(ev.FusionFinished(fusion_id="f", result=None))  # type: ignore[arg-type]
    rec2.close()


def test_cancelled_call_is_not_an_error(tmp_path: Path) -> None:
    rec, clock, root = make(tmp_path)
    cancelled = CandidateResult(POOL[2], 2, "cancelled", error="quorum reached")
    run_fusion(rec, clock, "fq", results=(ok(POOL[0], 0), ok(POOL[1], 1), cancelled))
    rec.close()
    [path] = session_files(root)
    lines = validate_transcript(path)
    text = path.read_text()
    assert '"is_error"' not in text
    failed_line = next(ln for ln in lines if ln["fuseLs"]["event"] == "model_failed")
    assert failed_line["fuseLs"]["status"] == "cancelled"


def test_relative_paths(tmp_path: Path) -> None:
    rec, clock, root = make(tmp_path)
    run_fusion(rec, clock, "f1", path="file:///work/ws/pkg/mod%20x.py")
    run_fusion(rec, clock, "f2", path="/elsewhere/private/secret_plan.py")
    run_fusion(rec, clock, "f3", path="rel/path.py")
    rec.close()
    [path] = session_files(root)
    paths = [
        ln["fuseLs"]["path"]
        for ln in validate_transcript(path)
        if ln["fuseLs"]["event"] == "action"
    ]
    assert paths == ["pkg/mod x.py", "secret_plan.py", "rel/path.py"]


def test_code_lines_follow_the_editors_line_model(tmp_path: Path) -> None:
    """A form feed is no line break for the editor: the recorded size agrees with the
    recorded line range (it used to count 3 lines for lines 10-11)."""
    rec, clock, root = make(tmp_path)
    run_fusion(rec, clock, "ff", code="a = 1\n\fb = 2\n")
    rec.close()
    [path] = session_files(root)
    action = next(ln for ln in validate_transcript(path) if ln["fuseLs"]["event"] == "action")
    facts = action["fuseLs"]
    assert (facts["startLine"], facts["endLine"], facts["codeLines"]) == (10, 11, 2)
