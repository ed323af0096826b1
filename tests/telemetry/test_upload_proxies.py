"""`fuse-ls upload` takes the proxy a model call would take (fuse_ls/core/proxies.py): a
Rudel on this machine is reached directly even with a proxy variable set (httpx's own
reading of the variables sent it to the proxy), a remote one goes through the proxy."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rudel_stub import RudelStub

from fuse_ls.telemetry.upload import upload_main
from tests.loopback_http import LoopbackServer, QuietHandler

KEY = "rk-test-" + "fedcba9876543210" * 2
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


def refusing_proxy(seen: list[str]) -> type[QuietHandler]:
    """A proxy that notes what it was asked to carry and carries nothing (403)."""

    class Proxy(QuietHandler):
        def _refuse(self) -> None:
            seen.append(f"{self.command} {self.path}")
            self.send_response(403)
            self.send_header("content-length", "0")
            self.end_headers()

        do_GET = do_POST = do_CONNECT = _refuse

    return Proxy


@pytest.fixture
def proxy() -> Iterator[tuple[LoopbackServer, list[str]]]:
    seen: list[str] = []
    with LoopbackServer(refusing_proxy(seen)) as server:
        yield server, seen


@pytest.fixture
def recorded(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data dir holding one recorded CLI session (a real `fuse-ls` run would write the
    same); proxy variables of this test's own only."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("RUDEL_API_KEY", KEY)
    from telemetry_events import CODE, POOL, Clock, ok, run_fusion

    from fuse_ls.config import TelemetrySettings
    from fuse_ls.telemetry.recorder import SessionRecorder

    ws = tmp_path / "ws"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / "a.py").write_text(CODE)
    root = tmp_path / "data"
    rec = SessionRecorder(
        TelemetrySettings(data_dir=str(root), record_content=True),
        ws,
        source="cli",
        version="0.1.0",
        clock=Clock(),
    )
    run_fusion(rec, None, "f0", code=CODE, path=str(ws / "a.py"), results=(ok(POOL[0], 0),))
    rec.close()
    return root


def upload(argv: list[str], **kw: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = upload_main(argv, version="9.9.9", backoff_s=0.01, out=out, err=err, **kw)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_a_rudel_on_this_machine_is_reached_directly_with_a_proxy_set(
    recorded: Path,
    proxy: tuple[LoopbackServer, list[str]],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    server, seen = proxy
    monkeypatch.setenv(variable, server.url)
    with RudelStub() as rudel:
        rudel.api_keys[KEY] = "user-1"
        code, out, err = upload(["--url", rudel.url, "--all", "--data-dir", str(recorded)])
    assert code == 0, err
    assert "uploaded " in out
    assert len(rudel.requests) == 1
    assert seen == []


def test_a_remote_rudel_goes_through_the_proxy_and_the_error_names_it(
    recorded: Path, proxy: tuple[LoopbackServer, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, seen = proxy
    port = server.url.rpartition(":")[2]
    # A user and password in the variable: used, never shown.
    monkeypatch.setenv("HTTPS_PROXY", f"http://me:hunter2@127.0.0.1:{port}")
    # rudel.test is reserved (RFC 2606): nothing resolves it; only the proxy is asked.
    code, _, err = upload(
        ["--url", "https://rudel.test", "--all", "--data-dir", str(recorded)], attempts=2
    )
    assert code == 1
    assert seen == ["CONNECT rudel.test:443"] * 2
    assert f"through the proxy http://127.0.0.1:{port} from HTTPS_PROXY" in err
    assert "hunter2" not in err


def test_an_unusable_proxy_url_is_named_without_quoting_it(
    recorded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://me:pa/ss@proxy.test:3128")
    code, _, err = upload(["--url", "https://rudel.test", "--all", "--data-dir", str(recorded)])
    assert code == 2
    assert "HTTPS_PROXY" in err and "must be percent-encoded" in err
    assert "pa/ss" not in err
