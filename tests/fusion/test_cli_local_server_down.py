"""A real `fuse-ls review` pointed at a local model server that is not running: the error
says nothing answers there and what to start, not "Check the network" (no network is
involved on this machine)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from tests.loopback_http import LoopbackServer, QuietHandler
from tests.pool_sample import CODE, home_env, run_cli


def free_port(port: int = 0) -> int:
    """A loopback port nothing listens on (`port`, or any)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            pytest.skip(f"something listens on 127.0.0.1:{port}")
        return int(sock.getsockname()[1])


def review_on(base_url: str, home: Path) -> list[str]:
    (home / "app.py").write_text(CODE)
    env = home_env(base_url, home)
    env.update(FUSE_LS_MODELS="llama3.2", FUSE_LS_JUDGE="llama3.2")
    done = run_cli(["review", "app.py"], env, home)
    assert done.returncode == 3, done.stderr  # every model failed
    assert "Traceback" not in done.stderr
    return [line for line in done.stderr.splitlines() if line.startswith("- llama3.2: ")]


def test_a_local_server_that_is_not_running(tmp_path: Path) -> None:
    port = free_port()
    [said] = review_on(f"http://localhost:{port}/v1", tmp_path)
    assert said.startswith(f"- llama3.2: nothing answers at localhost:{port} (")
    assert said.endswith(
        "): is the local model server running? Start it, or check the base URL "
        f"http://localhost:{port}/v1."
    )
    assert "network" not in said and "ollama" not in said.lower()


def test_ollama_that_is_not_running(tmp_path: Path) -> None:
    port = free_port(11434)
    [said] = review_on(f"http://127.0.0.1:{port}/v1", tmp_path)
    assert said.startswith("- llama3.2: nothing answers at 127.0.0.1:11434 (")
    assert said.endswith(
        "): is Ollama running? Start it with `ollama serve`, or check the base URL "
        "http://127.0.0.1:11434/v1."
    )
    assert "network" not in said


class OneModel(QuietHandler):
    """A local server with one model pulled, as Ollama lists it at /v1/models."""

    def do_GET(self) -> None:
        body = json.dumps({"object": "list", "data": [{"id": "llama3.2", "object": "model"}]})
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


def test_doctor_counts_one_listed_model_in_the_singular(tmp_path: Path) -> None:
    """It said "1 models listed"."""
    with LoopbackServer(OneModel) as server:
        env = home_env(f"{server.url}/v1", tmp_path)
        env.update(FUSE_LS_MODELS="llama3.2", FUSE_LS_JUDGE="llama3.2", COLUMNS="200")
        done = run_cli(["doctor"], env, tmp_path)
    said = " ".join(done.stdout.split())
    assert f"reachable (GET {server.url}/v1/models), 1 model listed" in said, done.stdout
