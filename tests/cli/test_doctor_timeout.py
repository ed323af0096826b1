"""`fuse-ls doctor --timeout SECONDS`: the endpoint checks end by then, so a caller that
stops waiting at some point (Neovim's :checkhealth) still gets every row. Without it an
endpoint that takes the connection and never answers holds doctor for
timeouts.connect_s + 5 s, and a caller that kills it first gets no row at all."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.pool_sample import isolated_env, run_cli


def test_timeout_bounds_the_endpoints_and_keeps_every_row(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    with socket.socket() as silent:
        # Listening: the kernel completes each connection; nothing ever reads or answers.
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        env = isolated_env(
            tmp_path,
            FUSE_LS_BASE_URL=url,
            FUSE_LS_PROVIDER__API_KEY_ENV="FUSE_TEST_LOCAL_KEY",
            FUSE_TEST_LOCAL_KEY="never-printed-5b1e",
        )
        # connect_s = 60: doctor's own bound would be 65 s, past the process timeout.
        args = ["doctor", "--json", "--timeout", "1", "--editor-settings", "-"]
        settings = json.dumps({"timeouts": {"connect_s": 60}})
        done = run_cli(args, env, tmp_path, timeout=50, stdin=settings)
    assert done.returncode == 1, done.stderr
    by = {c["check"]: c for c in json.loads(done.stdout)["checks"]}
    assert by["config"] == {"check": "config", "status": "ok", "detail": "all settings valid"}
    assert by["workspace trust"]["detail"].startswith(f"{tmp_path} is not trusted")
    assert by["key FUSE_TEST_LOCAL_KEY"]["detail"].startswith("set (value not shown)")
    endpoint = by["endpoint " + url]
    assert endpoint["status"] == "error", endpoint
    assert endpoint["detail"].endswith("got no answer within 1s"), endpoint
    assert "never-printed-5b1e" not in done.stdout + done.stderr


def test_timeout_must_be_a_positive_number_of_seconds(tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    for bad in ("0", "-3", "soon", "nan"):
        done = run_cli(["doctor", "--offline", "--timeout", bad], env, tmp_path)
        assert done.returncode == 2, (bad, done.stdout)
        assert "--timeout: expected a number of seconds" in done.stderr, (bad, done.stderr)
