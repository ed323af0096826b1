"""Contract: Rudel's own transcript Zod schemas (vendored verbatim in tests/telemetry/rudel/,
run under Node with zod) accept every user and assistant line fuse-ls writes, and Rudel's
parser reads the whole conversation from our files (the real engine against the emulator).

Needs Node and `npm ci` in tests/telemetry/rudel (scripts/test-all.sh does it)."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from telemetry_events import session_files

from fuse_ls.core.types import FusionRequest
from fuse_ls.emulator import Emulator
from fuse_ls.fusion.engine import FusionEngine
from fuse_ls.telemetry.models import vendor_model_id
from fuse_ls.telemetry.recorder import SessionRecorder
from tests.pool_sample import C, pool_settings

HERE = Path(__file__).parent / "rudel"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None, reason="Node.js is not installed: Rudel's Zod schemas run under Node"
)


def rudel_check(*args: Path | str) -> dict[str, Any]:
    if not (HERE / "node_modules" / "zod").is_dir():
        pytest.fail(
            f"Rudel contract test needs its Node packages: run `npm ci` in {HERE} "
            "(scripts/test-all.sh does)."
        )
    assert NODE is not None
    out = subprocess.run(
        [NODE, str(HERE / "check.mjs"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    report: dict[str, Any] = json.loads(out.stdout)
    return report


async def _record(tmp_path: Path, record_content: bool) -> Path:
    data = tmp_path / f"data-{record_content}"
    script = {
        "models": {
            C: {"fault": {"kind": "http", "status": 429}},
            "*": {"cached_tokens": 100, "reasoning_tokens": 20},
        }
    }
    with Emulator(script) as emu:
        more = {"retries.max_attempts": 1, "telemetry.record_content": record_content}
        s = pool_settings(emu.base_url, data, more=more)
        rec = SessionRecorder(s.telemetry, tmp_path, source="server", version="0.1.0")
        async with FusionEngine(s, rng=random.Random(5)) as engine:
            for task in ("review", "explain", "fix"):
                req = FusionRequest(
                    task=task,  # type: ignore[arg-type]
                    path=str(tmp_path / "app.py"),
                    language="python",
                    code="def f(x):\n    return eval(x)\n",
                    start_line=1,
                    instruction="make it safe" if task == "fix" else None,
                )
                result = await engine.run(req, rec.observe)
                for f in result.findings:
                    rec.record_decision(result.fusion_id, f.id, "dismissed", kind="finding")
        rec.close()
    [path] = session_files(data)
    return path


@pytest.mark.parametrize("record_content", [False, True], ids=["summaries", "content"])
async def test_rudels_schemas_accept_every_conversation_line(
    tmp_path: Path, record_content: bool
) -> None:
    path = await _record(tmp_path, record_content)
    ours = [json.loads(x) for x in path.read_text().splitlines()]
    conversation = [o["type"] for o in ours if o["type"] in ("user", "assistant")]
    assert "assistant" in conversation and "user" in conversation
    assert any('"is_error":true' in x for x in path.read_text().splitlines())

    report = rudel_check(path)[str(path)]
    for flavour in ("api-routes", "web"):
        result = report[flavour]
        assert result["codex"] is False  # read as a Claude Code transcript
        bad = [
            (n, line["issues"])
            for n, line in enumerate(result["lines"])
            if line["type"] in ("user", "assistant") and not line["ok"]
        ]
        assert bad == [], f"{flavour}: {bad}"
        # Rudel's parser keeps every conversation line, in order; our system lines (like
        # Claude Code's own) are not part of its conversation view.
        assert result["parsed"] == conversation, flavour


def test_the_contract_check_can_fail(tmp_path: Path) -> None:
    """A line shaped wrongly for Rudel (assistant content as a plain string, no uuid) is
    reported, so the test above would notice a regression."""
    bad = tmp_path / "bad.jsonl"
    line = {
        "type": "assistant",
        "timestamp": "2025-01-01T00:00:00.000Z",
        "sessionId": "s",
        "message": {"role": "assistant", "content": "plain text"},
    }
    bad.write_text(json.dumps(line) + "\n")
    report = rudel_check(bad)[str(bad)]
    for flavour in ("api-routes", "web"):
        [checked] = report[flavour]["lines"]
        assert checked["ok"] is False and any("uuid" in i for i in checked["issues"])
        assert report[flavour]["parsed"] == []


ROUTED = (
    "anthropic/claude-sonnet-4.5",
    "anthropic/claude-haiku-4.5",
    "anthropic/claude-opus-4.1",
    "anthropic/claude-opus-4",
    "anthropic/claude-sonnet-4",
    "anthropic/claude-3.7-sonnet:thinking",
    "anthropic/claude-3.5-sonnet",
    "anthropic/claude-3.5-haiku",
    "anthropic/claude-3-haiku",
    "anthropic/claude-3-opus",
    "openai/gpt-5",
    "openai/gpt-5-codex",
    "openai/gpt-4.1",
    "openai/o3",
    "openai/o4-mini",
)


def test_rudels_rate_card_prices_the_ids_we_write() -> None:
    """Rudel's own resolver (vendored rate card) prices every Anthropic and OpenAI model in
    the id we write, and none of the routed ids we wrote before."""
    ids = [vendor_model_id(m) for m in ROUTED]
    priced = rudel_check("--price", "2025-10-20", *ids, *ROUTED)
    for routed, ours in zip(ROUTED, ids, strict=True):
        entry = priced[ours]
        assert entry is not None, f"{routed} -> {ours} is not priced by Rudel"
        assert entry["provider"] == routed.split("/")[0]
        assert priced[routed] is None  # the routed id: unpriced, the bug of issue 14
    assert rudel_check("--price", "2025-10-20", "google/gemini-2.5-pro") == {
        "google/gemini-2.5-pro": None
    }


async def test_recorded_answers_are_priced_by_rudel(tmp_path: Path) -> None:
    path = await _record(tmp_path, False)
    answers = [json.loads(x) for x in path.read_text().splitlines() if '"type":"assistant"' in x]
    by_model = {a["message"]["model"]: a["timestamp"][:10] for a in answers}
    day = max(by_model.values())
    priced = rudel_check("--price", day, *by_model)
    assert priced["claude-sonnet-4-5"] is not None and priced["gpt-5"] is not None
    # Not on Rudel's card: their cost is in the text of each fusion's last line.
    assert priced["google/gemini-2.5-pro"] is None and priced["gpt-5-mini"] is None
    notes = [b["text"] for a in answers for b in a["message"]["content"] if b["type"] == "text"]
    assert any(n.startswith("[fuse-ls] this review cost $") for n in notes)
