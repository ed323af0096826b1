"""A change review places each answer on the file as it is when the answer arrives, and
reads an unopened file from disk for that. What is there by then is anybody's: a file
swapped for a huge sparse one (free to make) was read whole, gigabytes on the server's
event loop, and a FIFO swapped in blocked the server for good."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from lsprotocol import types

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV
from tests.lsp_sample import POOL
from tests.security.memory_limit import CAP_BYTES, make_sparse
from tests.server.change_sample import B_NEW, changed_repo
from tests.server.conftest import start_session, wait_for


def capped_server(log: Path) -> list[str]:
    """The server with its address space capped (a whole read of the sparse file fails at
    once instead of taking gigabytes of the test machine) and its log in `log`."""
    return [
        sys.executable,
        "-c",
        "import resource, runpy, sys; "
        f"resource.setrlimit(resource.RLIMIT_AS, ({CAP_BYTES}, {CAP_BYTES})); "
        f"sys.argv = ['fuse_ls', 'serve', '--log-file', {str(log)!r}]; "
        "runpy.run_module('fuse_ls', run_name='__main__', alter_sys=True)",
    ]


@pytest.mark.parametrize("swap", ["sparse file", "fifo"])
async def test_an_unopened_file_swapped_mid_review_is_not_read_whole(
    swap: str, emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in GIT_ENV.items():
        monkeypatch.setenv(key, value)
    log = tmp_path / "server.log"
    s, stop = await start_session(
        "visual-studio-code", emu, tmp_path, server_command=capped_server(log)
    )
    try:
        repo = changed_repo(s.workspace)
        b_file = repo.root / "b.py"
        emu.hold(*POOL)
        running = s.execute_async("fuse-ls.reviewChanges", {"paths": ["b.py"]})
        await wait_for(lambda: {r.model for r in emu.requests} >= set(POOL), what="the pool asked")
        b_file.unlink()  # b.py was read; now it is something else
        if swap == "fifo":
            os.mkfifo(b_file)
        else:
            make_sparse(b_file, B_NEW)
        emu.release()
        result = await asyncio.wait_for(running, 30)
        assert result["units"] == 1 and not result["failedUnits"], result
        # The review's findings have no text left to land on.
        assert not s.diagnostics(b_file.as_uri())
        # Each answer was placed, not lost to an exception (MemoryError under the cap).
        assert "Traceback" not in await asyncio.to_thread(log.read_text, encoding="utf-8")
        # The server is still there and answers.
        uri = s.open("c.py", "x = 1\n")
        hover = s.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=0, character=0),
            )
        )
        assert await asyncio.wait_for(hover, 5) is None
    finally:
        await stop()
