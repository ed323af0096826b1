"""What a `fuse-ls` process imports decides most of how long it takes to start (a
pre-commit hook pays it on every commit): commands import what they run, not the
language server, the emulator, the HTTP stack of a call they never make, or the
verify machinery. Checked on the modules a real process ends with, never by timing
(bench/bench_startup.py measures the time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

import fuse_ls
from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.pool_sample import JUDGE, POOL, outside_env

# Runs the CLI's `main` as `python -m fuse_ls` would, then writes what was imported.
RUN = """
import json, sys
from fuse_ls.cli import main
try:
    code = main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
with open(sys.argv[1], "w") as fh:
    # A None entry marks a module as absent (fuse_ls/__init__.py does so for httpx._main).
    json.dump({"code": code, "modules": sorted(k for k, v in sys.modules.items() if v)}, fh)
"""

# Never needed by a CLI review: the language server, the emulator's web stack, the
# evaluation and telemetry-export code, SQL lineage (no SQL here), and httpx's own
# command-line client (click, pygments).
NEVER_ON_REVIEW = (
    "pygls",
    "lsprotocol",
    "uvicorn",
    "starlette",
    "watchfiles",
    "opentelemetry",
    "sqlglot",
    "click",
    "pygments",
    "httpx._main",
    "fuse_ls.server",
    "fuse_ls.emulator",
    "fuse_ls.eval",
)

# What only asking a model needs: a cached rerun builds none of it.
ENGINE_AND_CALLS = (
    "httpx",
    "fuse_ls.fusion.engine",
    "fuse_ls.fusion.modes",
    "fuse_ls.fusion.provider",
    "fuse_ls.fusion.budget",
    "fuse_ls.changes.calls",
    "fuse_ls.changes.limits",
    "fuse_ls.changes.ledger",
    "fuse_ls.core.events",
)


def imported(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[object, set[str]]:
    out = cwd.parent / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(out), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    return data["code"], set(data["modules"])


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m in names or m.startswith(tuple(n + "." for n in names)))


def test_version_imports_no_settings_review_or_http(tmp_path: Path) -> None:
    code, modules = imported(["--version"], tmp_path, outside_env())
    assert code == 0
    review_stack = ("fuse_ls.config", "fuse_ls.changes", "fuse_ls.fusion", "httpx", "rich")
    # The version is written in the package: no search of the installed distributions.
    assert loaded(modules, (*review_stack, "cattrs", "importlib.metadata")) == []
    # Nor the typed values (attrs classes): the parser's choices are plain constants.
    assert loaded(modules, ("attr", "attrs", "fuse_ls.core.types")) == []


def test_help_imports_no_attrs_settings_or_rich(tmp_path: Path) -> None:
    """`--help` of the program and of a command only build the parser."""
    for args in (["--help"], ["review", "--help"], ["fix", "--help"]):
        code, modules = imported(args, tmp_path, outside_env())
        assert code == 0, args
        heavy = ("attr", "attrs", "cattrs", "rich", "httpx", "fuse_ls.config", "fuse_ls.fusion")
        assert loaded(modules, (*heavy, "fuse_ls.core.types")) == [], args


def test_cached_rerun_of_staged_review_imports_no_engine_http_redaction_or_server(
    tmp_path: Path,
) -> None:
    repo = Repo(tmp_path / "repo")
    repo.write("app.py", "import os\n\n\ndef add(a, b):\n    return a + b\n")
    repo.commit("base")
    repo.write(
        "app.py",
        "import os\n\n\ndef add(a, b):\n    return a - b\n\n\ndef run(cmd):\n"
        "    return eval(cmd)\n",
    )
    repo.git("add", "app.py")
    env = outside_env()
    env.update(GIT_ENV)
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / ".config"),
        FUSE_LS_DATA_DIR=str(tmp_path / ".data"),
        FUSE_LS_MODELS=",".join(POOL),
        FUSE_LS_JUDGE=JUDGE,
    )
    with Emulator() as emu:
        env["FUSE_LS_BASE_URL"] = emu.base_url
        code, first = imported(["review", "--staged"], repo.root, env)
        assert code == 0
        asked = len(emu.requests)
        assert asked > 0 and "httpcore" in first  # the first run did ask the models
        # The first run's telemetry session recorded the models' answers.
        sessions = sorted((tmp_path / ".data" / "sessions").rglob("*.jsonl"))
        assert len(sessions) == 1 and '"event":"model_answer"' in sessions[0].read_text()
        recorded = sessions[0].read_text()
        code, modules = imported(["review", "--staged"], repo.root, env)
        assert code == 0
        assert len(emu.requests) == asked  # the rerun asked nothing, not even /models
    # Nothing to record: no session was opened (so no telemetry imports either).
    assert sorted((tmp_path / ".data" / "sessions").rglob("*.jsonl")) == sessions
    assert sessions[0].read_text() == recorded
    assert "fuse_ls.changes.review" in modules  # it did run the change review
    assert loaded(modules, NEVER_ON_REVIEW) == []
    # No request, so no connection pool, TLS context, async socket layer or retry
    # machinery; every unit came from the cache, so no redaction rules were compiled; no
    # fix was tried.
    assert loaded(modules, ("httpcore", "anyio", "h11", "stamina", "tenacity")) == []
    assert loaded(modules, ("fuse_ls.core.redact",)) == []
    assert loaded(modules, ("detect_secrets", "fuse_ls.verify")) == []
    # Nothing to ask: no fusion engine (nor its modes and events), no HTTP client
    # (httpx itself), no call scheduling or spend ledger. The units were cut to
    # the models' windows all the same: from the price list the first run saved.
    assert loaded(modules, ENGINE_AND_CALLS) == []
    # No session to open, so no telemetry and no lookup of the installed version.
    assert loaded(modules, ("fuse_ls.telemetry", "importlib.metadata")) == []
    assert "fuse_ls.fusion.pricing" in modules


# What `fuse-ls serve` needs only once a command runs (or, for the first three, loads
# after `initialize` is answered, off the event loop): the engine and its HTTP stack,
# answer parsing and clustering, redaction rules, fix checks, repository context, the
# change review, telemetry, SQL lineage, the terminal UI.
NOT_BEFORE_INITIALIZE = (
    "fuse_ls.fusion.engine",
    "fuse_ls.context",
    "fuse_ls.telemetry",
    "fuse_ls.fusion.findings",
    "fuse_ls.fusion.answers",
    "fuse_ls.core.redact",
    "fuse_ls.verify",
    "fuse_ls.changes",
    "httpx",
    "stamina",
    "detect_secrets",
    "sqlglot",
    "opentelemetry",
    "rich",
)


def _send(stream: IO[bytes], message: dict[str, Any]) -> None:
    body = json.dumps(message).encode()
    stream.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    stream.flush()


def _answer(stream: IO[bytes], msg_id: int) -> dict[str, Any]:
    """The response to request `msg_id` (notifications before it are skipped)."""
    while True:
        length = 0
        while (line := stream.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        assert length, "the server closed its output"
        message: dict[str, Any] = json.loads(stream.read(length))
        if message.get("id") == msg_id and "method" not in message:
            return message


def test_serve_answers_initialize_without_loading_what_only_commands_use(
    tmp_path: Path,
) -> None:
    """An editor waits for `initialize` before anything else: the server answers it, and
    shuts down when asked, having imported none of what its commands load later (no
    `initialized` is sent, so the post-start loading never begins)."""
    env = outside_env("XDG_")
    env.update(XDG_CONFIG_HOME=str(tmp_path / ".config"), FUSE_LS_DATA_DIR=str(tmp_path / ".data"))
    out = tmp_path / "modules.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, str(out), "serve"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        params = {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}}
        _send(proc.stdin, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
        result = _answer(proc.stdout, 1)["result"]
        assert result["serverInfo"]["name"] == "fuse-ls"
        assert "fuse-ls.review" in result["capabilities"]["executeCommandProvider"]["commands"]
        _send(proc.stdin, {"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        assert _answer(proc.stdout, 2).get("error") is None
        _send(proc.stdin, {"jsonrpc": "2.0", "method": "exit"})
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    data = json.loads(out.read_text())
    assert data["code"] == 0
    modules = set(data["modules"])
    assert "fuse_ls.server.server" in modules and "lsprotocol.types" in modules
    assert loaded(modules, NOT_BEFORE_INITIALIZE) == []
    assert result["serverInfo"]["version"] == fuse_ls.__version__
    assert loaded(modules, ("importlib.metadata",)) == []
