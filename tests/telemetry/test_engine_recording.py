"""The real engine's event stream, against the loopback model emulator, recorded and then
checked line by line, summarised by `stats`, and prepared for upload."""

from __future__ import annotations

from pathlib import Path

import pytest
from telemetry_events import run_engine, session_files, validate_transcript

from fuse_ls.config import Settings
from fuse_ls.core.errors import FuseError
from fuse_ls.emulator import Emulator
from fuse_ls.telemetry.recorder import SessionRecorder
from fuse_ls.telemetry.stats import compute_stats, load_sessions
from fuse_ls.telemetry.upload import prepare
from tests.pool_sample import JUDGE, A, B, C, pool_settings

# The emulator wants this key, from a variable named for it: a real key is in flight, and
# the transcript (which records content here) must still not carry it.
KEY_ENV, KEY = "FUSE_TEST_EMU_KEY", "emu-key-" + "5d1c" * 6
CODE = """\
def load(user_input, rows=[]):
    value = eval(user_input)
    query = "SELECT * FROM t WHERE id = " + user_input
    API_TOKEN = "ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    return rows, query
"""


def settings_for(emu: Emulator, data: Path, mode: str) -> Settings:
    more = {
        "provider.api_key_env": KEY_ENV,
        "retries.max_attempts": 1,
        "telemetry.record_content": True,
    }
    return pool_settings(emu.base_url, data, mode, more)


@pytest.mark.parametrize("mode", ["merge", "best-of", "debate"])
async def test_engine_events_make_a_conformant_transcript(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    data = tmp_path / "data"
    script = {
        "models": {
            C: {"fault": {"kind": "http", "status": 429, "message": "slow down"}},
            "*": {"cached_tokens": 100, "reasoning_tokens": 20},
        }
    }
    with Emulator(script, require_key=KEY) as emu:
        settings = settings_for(emu, data, mode)
        rec = SessionRecorder(
            settings.telemetry, Path("/repo"), source="server", version="0.1.0", git_branch="m"
        )
        review = await run_engine(settings, CODE, rec.observe)
        await run_engine(settings, CODE, rec.observe, "explain")
        for f in review.findings:
            rec.record_decision(review.fusion_id, f.id, "applied", kind="finding")
        rec.close()

    [path] = session_files(data)
    lines = validate_transcript(path)
    text = path.read_text()
    assert "ghp_A1b2C3d4" not in text  # the recorder redacts recorded code and answers
    assert KEY not in text
    assert text.count('"is_error":true') >= 2  # C failed in both fusions
    models = {ln["message"]["model"] for ln in lines if ln["type"] == "assistant"}
    # Vendor ids where the vendor is known (Rudel's rate card prices them), else routed.
    # (A, B and JUDGE are Anthropic's and OpenAI's models; C's vendor is not on the card.)
    assert {"claude-sonnet-4-5", "gpt-5", C, "gpt-5-mini"} <= models
    routed = {ln["fuseLs"]["model"] for ln in lines if ln["type"] == "assistant"}
    assert {A, B, C, JUDGE} <= routed
    # Each fusion's last assistant line is the judge's, and says what the fusion cost.
    for f in ("review", "explain"):
        fid = next(ln["fuseLs"]["fusionId"] for ln in lines if ln["fuseLs"].get("action") == f)
        calls = [
            ln for ln in lines if ln["type"] == "assistant" and ln["fuseLs"]["fusionId"] == fid
        ]
        judged = any(ln["fuseLs"]["role"] == "judge" for ln in calls)
        last = calls[-1]["fuseLs"]
        assert (last["role"], last["event"]) == (("judge" if judged else "pool"), "model_answer")
        footer = calls[-1]["message"]["content"][-1]["text"]
        assert footer.startswith(f"[fuse-ls] this {f} cost $"), footer
    answers = [ln for ln in lines if ln["fuseLs"]["event"] == "model_answer"]
    assert any(ln["message"]["usage"]["cache_read_input_tokens"] == 100 for ln in answers)
    assert all(ln["fuseLs"]["latencyS"] is not None for ln in answers)
    finished = [ln["fuseLs"] for ln in lines if ln["fuseLs"]["event"] == "fusion_finished"]
    assert [f["action"] for f in finished] == ["review", "explain"]
    assert [f["id"] for f in finished[0]["findings"]] == [f.id for f in review.findings]

    stats = compute_stats(load_sessions(data))
    by_model = {m["model"]: m for m in stats["models"]}
    assert by_model[C]["failureRate"] == 1.0
    assert by_model[A]["failureRate"] == 0.0
    shown = sum(r["shown"] for r in stats["acceptance"]["byVotes"])
    applied = sum(r["applied"] for r in stats["acceptance"]["byVotes"])
    assert shown == applied == len(review.findings)
    if mode == "best-of":
        assert sum(m["bestOf"]["wins"] for m in stats["models"]) == 2

    item = prepare(path, "0.1.0")
    assert item is not None and item.envelope["sessionId"] == path.stem


async def test_failed_fusion_is_recorded(tmp_path: Path) -> None:
    data = tmp_path / "data"
    script = {"models": {"*": {"fault": {"kind": "http", "status": 503}}}}
    with Emulator(script) as emu:
        settings = settings_for(emu, data, "merge")
        rec = SessionRecorder(settings.telemetry, Path("/repo"), source="cli", version="0.1.0")
        with pytest.raises(FuseError):
            await run_engine(settings, CODE, rec.observe)
        rec.close()
    [path] = session_files(data)
    lines = validate_transcript(path)
    failed = [ln for ln in lines if ln["fuseLs"]["event"] == "fusion_failed"]
    assert len(failed) == 1 and failed[0]["level"] == "error"
    stats = compute_stats(load_sessions(data))
    assert stats["totals"]["fusionsFailed"] == 1
    assert stats["earlyErrors"]["withEarlyErrors"]["sessions"] == 1
