"""The language server with an unusable proxy URL in its environment: the review fails
with words naming the variable and never the password, and the server answers on."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from fuse_ls.emulator import Emulator
from tests.server.conftest import init_options, start_session
from tests.server.test_review import selection


async def test_a_broken_proxy_url_fails_a_review_clearly_and_the_server_goes_on(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A password with an unencoded '#': httpx read "pw" as the port and its error (and
    # the traceback in the server's log) quoted the rest of the URL's pieces.
    monkeypatch.setenv("HTTPS_PROXY", "http://me:pw#hunter2@127.0.0.1:3128")
    remote = "https://models.test/api/v1"  # a reserved name: only a proxy could carry it
    options = init_options(pool=[{"id": m, "baseUrl": remote} for m in ("emu/a", "emu/b")])
    lsp, stop = await start_session("neovim", emulator, tmp_path, options)
    try:
        uri = lsp.open()
        said = ""
        try:
            result = await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
            said = str(result)
        except JsonRpcException as exc:
            said = str(exc)
        said += " ".join(lsp.messages())
        assert "HTTPS_PROXY (http://127.0.0.1:3128) is not a valid URL" in said, said
        assert "hunter2" not in said
        assert await lsp.code_actions(uri, (3, 0), (8, 0))  # still answering
    finally:
        await stop()
