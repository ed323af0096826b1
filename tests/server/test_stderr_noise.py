"""What the server writes to stderr reaches the user: editors show it in their log panel."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def test_a_late_cancel_leaves_no_warning_on_stderr(tmp_path: Any) -> None:
    """A client's `$/cancelRequest` for a request that has finished is routine (the answer
    and the cancel cross), so it must not print pygls' "unknown message id" warning."""
    messages = [
        {"id": 1, "method": "initialize", "params": {"processId": None, "capabilities": {}}},
        {"method": "initialized", "params": {}},
        {"method": "$/cancelRequest", "params": {"id": 1}},
        {"method": "$/cancelRequest", "params": {"id": 424242}},
        {"id": 2, "method": "shutdown"},
        {"method": "exit"},
    ]
    done = subprocess.run(
        [sys.executable, "-m", "fuse_ls", "serve"],
        input=b"".join(_frame(m) for m in messages),
        capture_output=True,
        timeout=60,
        cwd=tmp_path,
        env={"FUSE_LS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert b'"id": 2' in done.stdout or b'"id":2' in done.stdout, done.stdout[-500:]
    assert b"unknown message id" not in done.stderr, done.stderr.decode(errors="replace")
