"""One vote policy everywhere: the language server and the CLI (table, --json, --sarif,
--fail-on) show the same findings at the same severity for one set of answers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types

from fuse_ls.emulator import Emulator
from tests.server.conftest import (
    EVAL_LINE,
    JUDGE,
    NONE_LINE,
    POOL,
    SOURCE,
    script,
    server_env,
    start_session,
)

LSP_TO_SEVERITY = {
    types.DiagnosticSeverity.Error: "error",
    types.DiagnosticSeverity.Warning: "warning",
    types.DiagnosticSeverity.Information: "info",
    types.DiagnosticSeverity.Hint: "hint",
}


def run_cli(workspace: Path, emulator: Emulator, home: Path, target: str, *args: str) -> Any:
    env = server_env(emulator, home)
    env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "fuse_ls", "review", target, "--quiet", *args],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_server_and_cli_apply_the_same_policy(
    emulator_factory: Callable[..., Emulator], tmp_path: Path
) -> None:
    # The judge always fails, so no finding is confirmed: only the votes decide. All three
    # models flag eval() (error, 3/3); one flags `== None` (warning, 1/3: a minority).
    emu = emulator_factory(script(faults={JUDGE: [{"kind": "http", "status": 500}] * 20}))
    lsp, stop = await start_session("neovim", emu, tmp_path)
    try:
        uri = lsp.open(text=SOURCE)
        await lsp.execute("fuse-ls.review", {"uri": uri})
        server = {
            (d.range.start.line + 1, d.code): LSP_TO_SEVERITY[d.severity]
            for d in lsp.diagnostics(uri)
            if d.severity is not None
        }
    finally:
        await stop()
    assert server == {(EVAL_LINE + 1, "security"): "error", (NONE_LINE + 1, "style"): "hint"}

    workspace = lsp.workspace
    (workspace / ".git").mkdir(exist_ok=True)
    (workspace / ".fuse-ls.toml").write_text("[retries]\nmax_attempts = 1\n")

    def cli(target: str, *args: str) -> Any:
        return asyncio.to_thread(run_cli, workspace, emu, tmp_path, target, *args)

    as_json = await cli("app.py", "--json")
    assert as_json.returncode == 0, as_json.stderr
    findings = json.loads(as_json.stdout)["findings"]
    assert {(f["start_line"], f["category"]): f["severity"] for f in findings} == server

    sarif = json.loads((await cli("app.py", "--sarif")).stdout)
    levels = {
        (r["locations"][0]["physicalLocation"]["region"]["startLine"], r["ruleId"]): r["level"]
        for r in sarif["runs"][0]["results"]
    }
    assert levels == {
        (EVAL_LINE + 1, "fuse-ls/security"): "error",
        (NONE_LINE + 1, "fuse-ls/style"): "note",
    }

    # --fail-on sees the same severities: only the minority finding is in lines 6-7, and a
    # hint does not fail a `warning` gate (it does fail a `hint` gate).
    lines = f"app.py:{NONE_LINE + 1}-{NONE_LINE + 2}"
    for threshold, code in (("warning", 0), ("hint", 1)):
        res = await cli(lines, "--fail-on", threshold)
        assert res.returncode == code, (threshold, res.stdout, res.stderr)
        assert "hint" in res.stdout
