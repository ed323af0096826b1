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
) -> tuple[list[str], list[str]]:
    """The notes of `fuse-ls review app.py --json` and of the editor's `fuse-ls.review`
    of the same file, both with the cost caps `cap` (the editor's settings)."""
    options = init_options(budget=cap)
    lsp, stop = await start_session("neovim", emu, tmp_path, options=options, env=env)
    try:
        uri = lsp.open("app.py", SOURCE)
        editor: dict[str, Any] = await lsp.execute("fuse-ls.review", {"uri": uri})
    finally:
        await stop()
    cli_env = {
        **server_env(emu, tmp_path),
        "FUSE_LS_MODELS": ",".join(POOL),
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
