"""The note "cost could not be estimated" only where it matters: a cost cap is set and a
model on a remote endpoint lists no price. Every review on a local server (Ollama,
llama.cpp, the emulator: nothing listed, nothing billed) carried it, and Neovim showed it
as a WARN each time. The terminal and the editor say the same."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.emulator import Emulator
from fuse_ls.fusion.pricing import names_paid_model
from tests.loopback_http import LoopbackServer, forward_proxy
from tests.lsp_sample import JUDGE, POOL, SOURCE
from tests.pool_sample import run_cli
from tests.server.conftest import init_options, server_env, start_session

# No model of this pool is in the emulator's /models: none has a price.
SCRIPT = {
    "models": {
        "*": {
            "findings": [
                {"match": "eval(", "severity": "error", "category": "security", "message": "eval"}
            ]
        }
    },
    "strict_models": False,
}
# A reserved name (RFC 2606) only the test's proxy carries (to the emulator): a remote
# endpoint as far as fuse-ls can tell.
REMOTE = "http://models.test/api/v1"
COST_NOTE = "cost could not be estimated"
PER_REQUEST = {"maxUsdPerRequest": 0.5, "maxUsdPerDay": None}
PER_DAY = {"maxUsdPerRequest": None, "maxUsdPerDay": 5.0}


def cost_notes(notes: list[str]) -> list[str]:
    return [n for n in notes if COST_NOTE in n]


async def notes_both_ways(
    emu: Emulator,
    tmp_path: Path,
    env: dict[str, str],
    cap: dict[str, float | None] = PER_REQUEST,
    pool: list[str] = POOL,
) -> tuple[list[str], list[str]]:
    """The notes of `fuse-ls review app.py --json` and of the editor's `fuse-ls.review`
    of the same file, both with the cost caps `cap` (the editor's settings)."""
    options = init_options(budget=cap, pool=pool)
    lsp, stop = await start_session("neovim", emu, tmp_path, options=options, env=env)
    try:
        uri = lsp.open("app.py", SOURCE)
        editor: dict[str, Any] = await lsp.execute("fuse-ls.review", {"uri": uri})
    finally:
        await stop()
    cli_env = {
        **server_env(emu, tmp_path),
        "FUSE_LS_MODELS": ",".join(pool),
        "FUSE_LS_JUDGE": JUDGE,
        "FUSE_LS_BUDGET__MAX_USD_PER_REQUEST": str(cap["maxUsdPerRequest"]),
        "FUSE_LS_BUDGET__MAX_USD_PER_DAY": str(cap["maxUsdPerDay"]),
        **env,
    }
    done = await asyncio.to_thread(run_cli, ["review", "app.py", "--json"], cli_env, lsp.workspace)
    assert done.returncode in (0, 1), done.stderr
    terminal = json.loads(done.stdout)
    assert editor["findings"] and terminal["findings"]  # the reviews ran
    return list(terminal["notes"]), list(editor["notes"])


async def test_no_cost_note_for_models_on_this_machine(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(SCRIPT)
    terminal, editor = await notes_both_ways(emu, tmp_path, {})
    assert cost_notes(terminal) == cost_notes(editor) == [], (terminal, editor)


@pytest.mark.parametrize(
    ("cap", "unchecked"),
    [(PER_REQUEST, "budget.max_usd_per_request"), (PER_DAY, "budget.max_usd_per_day")],
    ids=["per-request", "per-day"],
)
async def test_the_cost_note_stays_when_a_remote_model_has_no_price(
    emulator_factory: Callable[..., Emulator],
    tmp_path: Path,
    cap: dict[str, float | None],
    unchecked: str,
) -> None:
    emu = emulator_factory(SCRIPT)
    seen: list[str] = []
    with LoopbackServer(forward_proxy(emu.base_url, seen)) as proxy:
        env = {"FUSE_LS_BASE_URL": REMOTE, "HTTP_PROXY": proxy.url}
        terminal, editor = await notes_both_ways(emu, tmp_path, env, cap)
    assert any(url.startswith(REMOTE) for url in seen)  # the calls went "out"
    assert cost_notes(terminal) == cost_notes(editor), (terminal, editor)
    [note] = cost_notes(editor)
    # It names what has no price and what is not enforced.
    assert "(no price for emu/fast, emu/judge, emu/mid and 1 more)" in note, note
    # Only the cap that is set (a daily cap alone was reported as the per-request one).
    assert note.endswith(f": {unchecked} could not be checked"), note


# A proxy on this machine (LiteLLM, a company gateway) forwarding to a paid API: its
# `/models` lists the model without a price, yet every call is billed.
PAID = "openai/gpt-4o"


async def test_a_paid_model_through_a_local_proxy_is_not_free(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    """It counted as $0 (no note), so a daily cap never tripped. Its price is not known
    anywhere: the note says the cap could not be checked, in the editor and the terminal."""
    emu = emulator_factory(SCRIPT)  # the local proxy: lists no price for PAID
    terminal, editor = await notes_both_ways(emu, tmp_path, {}, PER_DAY, pool=[PAID, *POOL[:2]])
    assert cost_notes(terminal) == cost_notes(editor), (terminal, editor)
    [note] = cost_notes(editor)
    assert f"(no price for {PAID})" in note, note  # the local models are not named
    assert note.endswith(": budget.max_usd_per_day could not be checked"), note


async def test_a_paid_model_through_a_local_proxy_costs_what_a_price_list_says(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    """Where another endpoint of the configuration (here the judge's, as OpenRouter's
    would) lists a price for the model, the proxy's calls cost that: the daily cap trips."""
    proxy = emulator_factory(SCRIPT)
    listed = {"models": {PAID: {"price": {"prompt": "0.0000025", "completion": "0.00001"}}}}
    free = {"price": {"prompt": "0", "completion": "0"}}  # only PAID can trip the cap
    router = emulator_factory({"models": {**listed["models"], JUDGE: free}})
    options = init_options(
        pool=[PAID, *POOL[:2]],
        judge={"id": JUDGE, "base_url": router.base_url},
        budget={"maxUsdPerRequest": None, "maxUsdPerDay": 0.001},
    )
    lsp, stop = await start_session("neovim", proxy, tmp_path, options=options)
    try:
        uri = lsp.open("app.py", SOURCE)
        result: dict[str, Any] = await lsp.execute("fuse-ls.review", {"uri": uri})
    finally:
        await stop()
    assert "exceeds the daily budget of $0.001" in result.get("error", ""), result
    assert not [r for r in proxy.requests if r.path.endswith("/chat/completions")]


@pytest.mark.parametrize(
    ("model_id", "paid"),
    [
        ("openai/gpt-4o", True),
        ("gpt-4o", True),
        ("anthropic.claude-3-haiku-20240307-v1:0", True),  # Bedrock, through LiteLLM
        ("openai/o3-mini", True),
        ("gemini-2.5-pro", True),
        ("emu/fast", False),
        ("llama3.1:8b", False),  # Ollama
        ("gpt-oss:20b", False),  # open weights, also as openai/gpt-oss-20b
        ("openai/gpt-oss-20b", False),
        ("google/gemma-3-12b", False),  # LM Studio
        ("qwen2.5-coder:7b", False),
    ],
)
def test_which_model_ids_name_a_model_only_a_paid_api_serves(model_id: str, paid: bool) -> None:
    assert names_paid_model(model_id) is paid
