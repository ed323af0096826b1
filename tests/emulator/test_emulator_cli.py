"""`python -m fuse_ls.emulator` prints its address, serves, and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from fuse_ls.emulator.__main__ import main

PREFIX = "fuse-ls emulator listening on "


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"models": {"acme/model": {"text": "scripted answer"}}}))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fuse_ls.emulator",
            "--port",
            "0",
            "--script",
            str(script),
            "--require-key",
            "k1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(PREFIX), line + (process.stderr.read() if process.stderr else "")
        base_url = line[len(PREFIX) :].strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/v1")
        request = {"model": "acme/model", "messages": [{"role": "user", "content": "hi"}]}
        denied = httpx.post(base_url + "/chat/completions", json=request, timeout=10)
        assert denied.status_code == 401
        answer = httpx.post(
            base_url + "/chat/completions",
            json=request,
            headers={"Authorization": "Bearer k1"},
            timeout=10,
        )
        assert answer.json()["choices"][0]["message"]["content"] == "scripted answer"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""  # exactly one line
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_bad_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": {"a/b": {"nope": 1}}}')
    assert main(["--script", str(bad)]) == 2
