"""A pool of one model (a local server, one Ollama model) is a plausible set-up: the
editor's words about it count one model, not "1 models"."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lsprotocol import types

from fuse_ls.emulator import Emulator
from tests.server.conftest import EVAL_LINE, JUDGE, init_options, script, start_session


async def test_a_one_model_pool_is_spoken_of_in_the_singular(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator_factory(script())
    options = init_options(pool=["emu/fast"], judge=JUDGE)
    lsp, stop = await start_session("visual-studio-code", emu, tmp_path, options=options)
    try:
        lsp.recorder.apply = True
        uri = lsp.open()
        lines = {
            "start": {"line": EVAL_LINE, "character": 0},
            "end": {"line": EVAL_LINE + 1, "character": 0},
        }
        await lsp.execute("fuse-ls.review", {"uri": uri, "range": lines})
        [token] = list(lsp.client.progress_reports)
        begin = lsp.client.progress_reports[token][0]
        assert isinstance(begin, types.WorkDoneProgressBegin)
        assert begin.message == "asking 1 model"

        await lsp.execute("fuse-ls.fix", {"uri": uri, "range": lines})
        [params] = lsp.recorder.edits
        annotations = params.edit.change_annotations or {}
        [label] = [a.description or "" for a in annotations.values()]
        assert "Rewrite fused from 1 model (" in label, label
    finally:
        await stop()
