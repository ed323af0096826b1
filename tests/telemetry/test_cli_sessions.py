"""CLI runs close together in one workspace are one session, as an editor's lifetime is (Rudel
classes a lone short run as abandoned); never two runs at once, never a server session."""

from __future__ import annotations

import json
import time
from pathlib import Path

from telemetry_events import POOL, Clock, ok, run_fusion, session_files, validate_transcript

from fuse_ls.config import TelemetrySettings
from fuse_ls.telemetry.recorder import SessionRecorder
from fuse_ls.telemetry.session import CLI_CONTINUE_S
from fuse_ls.telemetry.stats import compute_stats, load_sessions

WS = Path("/work/app")


def cli_run(root: Path, clock: Clock, fid: str, *, source: str = "cli") -> SessionRecorder:
    rec = SessionRecorder(
        TelemetrySettings(data_dir=str(root)),
        WS,
        source=source,  # type: ignore[arg-type]
        version="0.1.0",
        git_branch="main",
        clock=clock,
        continue_within_s=CLI_CONTINUE_S if source == "cli" else None,
    )
    run_fusion(rec, clock, fid, results=(ok(POOL[0], 0), ok(POOL[1], 1)))
    return rec


def test_runs_minutes_apart_are_one_session(tmp_path: Path) -> None:
    clock = Clock(time.time())
    cli_run(tmp_path, clock, "f1").close()
    clock.advance(10 * 60)
    cli_run(tmp_path, clock, "f2").close()
    [path] = session_files(tmp_path)
    lines = validate_transcript(path)  # one parent chain, ordered timestamps, one id
    events = [ln["fuseLs"]["event"] for ln in lines]
    assert events.count("action") == 2 and events.count("session_start") == 1
    assert "session_continued" in events
    footers = [
        ln["message"]["content"][-1]["text"]
        for ln in lines
        if ln["type"] == "assistant" and "fusionCostUsd" in ln["fuseLs"]
    ]
    # 2 answers at $0.01 + the judge at $0.002 per run; the total carries over.
    assert footers[1].endswith("this session so far $0.0440"), footers
    stats = compute_stats(load_sessions(tmp_path))
    assert stats["totals"]["sessions"] == 1 and stats["totals"]["actions"] == 2


def test_a_long_pause_starts_a_new_session(tmp_path: Path) -> None:
    clock = Clock(time.time())
    cli_run(tmp_path, clock, "f1").close()
    clock.advance(CLI_CONTINUE_S + 60)
    cli_run(tmp_path, clock, "f2").close()
    assert len(session_files(tmp_path)) == 2


def test_a_running_session_is_never_shared(tmp_path: Path) -> None:
    clock = Clock(time.time())
    cli_run(tmp_path, clock, "f1").close()
    clock.advance(60)
    second = cli_run(tmp_path, clock, "f2")  # continues the first, still running
    third = cli_run(tmp_path, clock, "f3")  # meanwhile: must not write into it
    third.close()
    second.close()
    files = session_files(tmp_path)
    assert len(files) == 2
    for path in files:
        validate_transcript(path)
    assert not list(tmp_path.rglob("*.lock"))  # locks go with the runs


def test_server_sessions_are_not_continued(tmp_path: Path) -> None:
    clock = Clock(time.time())
    cli_run(tmp_path, clock, "f1", source="server").close()
    clock.advance(60)
    cli_run(tmp_path, clock, "f2").close()
    assert len(session_files(tmp_path)) == 2


def test_a_damaged_session_is_not_continued(tmp_path: Path) -> None:
    clock = Clock(time.time())
    cli_run(tmp_path, clock, "f1").close()
    [path] = session_files(tmp_path)
    with path.open("a") as f:
        f.write('{"type":"user","torn')  # a run that died mid-line
    clock.advance(60)
    cli_run(tmp_path, clock, "f2").close()
    assert len(session_files(tmp_path)) == 2
    first = json.loads(path.read_text().splitlines()[0])
    assert first["fuseLs"]["event"] == "session_start"
