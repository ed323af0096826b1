"""Neovim 0.11 (headless, from PyPI) + editors/nvim plugin + the real fuse-ls server +
the model emulator, end to end."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from editor_support import HERE, REPO, hermetic_env, require_ok, script_with, which

from tests.loopback_http import LoopbackServer, forward_proxy

pytestmark = pytest.mark.slow

API_KEY = "test-key-never-printed-3f9a"


def server_env(emulator: Any, **extra: str) -> dict[str, str]:
    # The OpenRouter key never goes to a local server: the emulator's has its own variable.
    return {
        "FUSE_LS_BASE_URL": emulator.base_url,
        "FUSE_LS_PROVIDER__API_KEY_ENV": "FUSE_TEST_EMU_KEY",
        "FUSE_TEST_EMU_KEY": API_KEY,
        **extra,
    }


def test_review_selection_diagnostics_and_quick_fix(
    run_nvim: Any, emulator: Any, workspace: Path
) -> None:
    run = run_nvim("review.lua", workspace=workspace, env=server_env(emulator))
    report = require_ok(run)
    diags = [
        d for d in report["data"]["diagnostics"] if not (d.get("data") or {}).get("provisional")
    ]
    assert any("3/3 models" in d["message"] for d in diags), diags
    assert report["data"]["after_quickfix"][4] == "    value = ast.literal_eval(text)"


def test_explain_opens_markdown(run_nvim: Any, emulator: Any, workspace: Path) -> None:
    run = run_nvim("explain.lua", workspace=workspace, env=server_env(emulator))
    report = require_ok(run)
    assert "Consensus" in report["data"]["markdown"]


def test_fused_fix_confirm_decline_and_apply(run_nvim: Any, emulator: Any, workspace: Path) -> None:
    run = run_nvim("fix.lua", workspace=workspace, env=server_env(emulator))
    report = require_ok(run)
    assert report["data"]["after"][4] == "    value = ast.literal_eval(text)"


def test_cancel_slow_review(run_nvim: Any, emulator_factory: Any, workspace: Path) -> None:
    latency_ms = 3000
    emulator = emulator_factory(script_with(ttft_ms=latency_ms))
    run = run_nvim(
        "cancel.lua",
        workspace=workspace,
        env=server_env(emulator, FUSE_TEST_LATENCY_MS=str(latency_ms)),
    )
    report = require_ok(run)
    assert report["data"]["diagnostics"] == []
    # The cancel took effect well before the models would have answered.
    assert report["data"]["cancel_ms"] < latency_ms, report["data"]


@pytest.mark.parametrize("style", ["setup", "lspconfig"])
def test_attaches_to_every_filetype(
    run_nvim: Any, emulator: Any, workspace: Path, style: str
) -> None:
    run = run_nvim(
        "attach.lua", workspace=workspace, env=server_env(emulator, FUSE_TEST_STYLE=style)
    )
    require_ok(run)


def _health(run_nvim: Any, workspace: Path, env: dict[str, str]) -> list[str]:
    run = run_nvim("health.lua", workspace=workspace, env=env)
    report = require_ok(run)
    lines: list[str] = report["data"]["health"]
    assert API_KEY not in "\n".join(lines), "the API key value must never be printed"
    return lines


def _has(lines: list[str], *needles: str) -> bool:
    return any(all(n in line for n in needles) for line in lines)


# The health tests' emulator lists the pool's and judge's ids in /models, as OpenRouter
# lists its models: fuse-ls doctor checks each id is there.
LISTED_SCRIPT = script_with()
LISTED_SCRIPT["models"].update({m: {} for m in ("emu/alpha", "emu/beta", "emu/gamma", "emu/judge")})


@pytest.fixture
def listing_emulator(emulator_factory: Any) -> Any:
    return emulator_factory(LISTED_SCRIPT)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: a host that must fail, without the network."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/v1"


# Tests about the key rules name remote hosts (and OpenRouter): they ask no endpoint.
NO_ENDPOINTS = {"FUSE_TEST_HEALTH_OPTS": json.dumps({"health": {"endpoints": False}})}


def test_checkhealth_ok(run_nvim: Any, listing_emulator: Any, workspace: Path) -> None:
    lines = _health(run_nvim, workspace, server_env(listing_emulator))
    text = "\n".join(lines)
    base = listing_emulator.base_url
    assert _has(lines, "OK", "server executable"), text
    assert _has(lines, "OK", "version: fuse-ls"), text
    assert _has(lines, "OK", "all settings valid"), text
    assert _has(lines, "config sources", "editor settings"), text
    assert _has(lines, "OK", "$FUSE_TEST_EMU_KEY is set (value not shown)"), text
    assert _has(lines, "OK", base, "reachable (GET " + base.rstrip("/") + "/models)"), text
    assert _has(lines, "OK", "model emu/alpha: listed by the endpoint"), text
    assert _has(lines, "OK", "model emu/judge: listed by the endpoint"), text
    trust = ("workspace trust:", f"{workspace} is not trusted", "fuse-ls trust", "fuse_ls-trust")
    assert _has(lines, *trust), text
    assert not _has(lines, "Neovim passes --trust"), text
    assert "ERROR" not in text, text


def test_checkhealth_endpoint_rows_are_doctors(
    run_nvim: Any, listing_emulator: Any, workspace: Path
) -> None:
    """What each endpoint answers, from `fuse-ls doctor` with the server's HTTP client:
    an endpoint nothing listens on, and a model id its endpoint does not list."""
    dead = closed_port_url()
    settings = {
        "pool": ["emu/alpha", "emu/no-such-model", {"id": "emu/beta", "base_url": dead}],
    }
    env = server_env(listing_emulator, FUSE_TEST_HEALTH_SETTINGS=json.dumps(settings))
    lines = _health(run_nvim, workspace, env)
    text = "\n".join(lines)
    assert _has(lines, "OK", listing_emulator.base_url, "reachable"), text
    assert _has(lines, "OK", "model emu/alpha: listed by the endpoint"), text
    assert _has(lines, "ERROR", "model emu/no-such-model: not listed by the endpoint"), text
    assert _has(lines, "ERROR", dead, "not reachable"), text
    assert not _has(lines, "curl"), text


def test_checkhealth_checks_with_the_servers_environment(
    run_nvim: Any, listing_emulator: Any, workspace: Path
) -> None:
    """The endpoint and key set only in the plugin's `cmd_env` (the server's environment)
    are the ones checked, not Neovim's own: here Neovim's environment has another
    endpoint and a proxy (dead) that cmd_env clears for the server."""
    dead = closed_port_url()
    cmd_env = server_env(listing_emulator, http_proxy="", HTTP_PROXY="")
    env = {
        "FUSE_LS_BASE_URL": dead,
        "http_proxy": dead.removesuffix("/v1"),
        "HTTP_PROXY": dead.removesuffix("/v1"),
        "FUSE_TEST_HEALTH_OPTS": json.dumps({"cmd_env": cmd_env}),
    }
    lines = _health(run_nvim, workspace, env)
    text = "\n".join(lines)
    assert _has(lines, "OK", "$FUSE_TEST_EMU_KEY is set (value not shown)"), text
    assert _has(lines, "OK", listing_emulator.base_url, "reachable"), text
    assert not _has(lines, dead.removesuffix("/v1")), text
    assert "ERROR" not in text, text


def test_checkhealth_says_when_an_endpoint_gives_no_answer(
    run_nvim: Any, emulator: Any, workspace: Path
) -> None:
    """An endpoint that accepts the connection and never answers. Doctor gives it
    timeouts.connect_s + 5 s: inside health.timeout_ms, its one run says so and has every
    other row."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        base = server_env(emulator, FUSE_LS_BASE_URL=url)
        bounded = {"FUSE_TEST_HEALTH_SETTINGS": json.dumps({"timeouts": {"connect_s": 1}})}
        lines = _health(run_nvim, workspace, {**base, **bounded})
    text = "\n".join(lines)
    assert _has(lines, "ERROR", url, "got no answer within 6s"), text
    assert _has(lines, "OK", "all settings valid"), text
    assert _has(lines, "OK", "$FUSE_TEST_EMU_KEY is set"), text
    # Doctor's own bound, not the health check's --timeout: no advice to wait longer.
    assert not _has(lines, "health.timeout_ms less 2 s"), text


def test_checkhealth_keeps_every_row_when_an_endpoint_outlasts_its_timeout(
    run_nvim: Any, emulator: Any, workspace: Path
) -> None:
    """The same endpoint with timeouts.connect_s = 300: doctor's own bound (305 s) is far
    past health.timeout_ms. The health check passes `doctor --timeout` (timeout_ms less
    2 s), so the one run still ends in time with its settings, trust and key rows, and the
    endpoint's row says how long it was asked. It killed doctor at timeout_ms, and every
    section said "not checked"."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        env = {
            **server_env(emulator, FUSE_LS_BASE_URL=url),
            "FUSE_TEST_HEALTH_SETTINGS": json.dumps({"timeouts": {"connect_s": 300}}),
            "FUSE_TEST_HEALTH_OPTS": json.dumps({"health": {"timeout_ms": 6000}}),
        }
        lines = _health(run_nvim, workspace, env)
    text = "\n".join(lines)
    assert not _has(lines, "not checked"), text
    assert _has(lines, "OK", "all settings valid"), text
    assert _has(lines, "workspace trust:", f"{workspace} is not trusted"), text
    assert _has(lines, "OK", "$FUSE_TEST_EMU_KEY is set (value not shown)"), text
    assert _has(lines, "ERROR", url, "got no answer within 4s"), text
    assert _has(lines, "at most 4 s (health.timeout_ms less 2 s)", "timeout_ms = 60000"), text


def _older_fuse_ls(tmp_path: Path) -> tuple[Path, Path]:
    """A `fuse-ls` on PATH as one from before `doctor --timeout`: it logs each start, stops
    at that flag with argparse's usage error (exit 2), else runs the real CLI."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "starts.log"
    wrapper = bin_dir / "fuse-ls"
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        f"with open({str(log)!r}, 'a') as f: f.write(' '.join(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1:2] == ['doctor'] and '--timeout' in sys.argv:\n"
        "    sys.stderr.write('usage: fuse-ls [-h] [--version] COMMAND ...\\n'\n"
        "                     'fuse-ls: error: unrecognized arguments: --timeout 4\\n')\n"
        "    sys.exit(2)\n"
        f"os.execv({sys.executable!r}, [{sys.executable!r}, '-m', 'fuse_ls', *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o755)
    return bin_dir, log


def test_checkhealth_runs_an_older_doctor_without_timeout(
    run_nvim: Any, emulator: Any, workspace: Path, tmp_path: Path
) -> None:
    """A fuse-ls without `doctor --timeout` refuses the flag: the health check asks it
    again without, as before, and past health.timeout_ms it still stops waiting and says
    what was not checked and why, in every section."""
    bin_dir, log = _older_fuse_ls(tmp_path)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        env = {
            **server_env(emulator, FUSE_LS_BASE_URL=url),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FUSE_TEST_HEALTH_CMD": json.dumps(["fuse-ls", "serve"]),
            "FUSE_TEST_HEALTH_SETTINGS": json.dumps({"timeouts": {"connect_s": 300}}),
            "FUSE_TEST_HEALTH_OPTS": json.dumps({"health": {"timeout_ms": 6000}}),
        }
        lines = _health(run_nvim, workspace, env)
    text = "\n".join(lines)
    for what in ("settings", "API keys", "endpoints"):
        assert _has(lines, "WARNING", what + " not checked", "did not finish within 6 s"), text
    assert _has(lines, "without `doctor --timeout`", "timeouts.connect_s + 5 s"), text
    assert _has(lines, "health = { timeout_ms = 60000 }", "health = { endpoints = false }"), text
    doctors = [s for s in log.read_text().splitlines() if s.startswith("doctor")]
    assert len(doctors) == 2 and "--timeout 4" in doctors[0], doctors
    assert "--timeout" not in doctors[1], doctors


def test_checkhealth_workspace_trust_comes_from_doctor(
    run_nvim: Any, emulator: Any, workspace: Path, tmp_path: Path
) -> None:
    """A workspace on the user's trust list (`fuse-ls trust DIR`) is trusted whatever the
    editor's option says; when the option trusts it, the report says so."""
    env = {**server_env(emulator), **NO_ENDPOINTS}
    opts = {"trusted": True, "health": {"endpoints": False}}
    by_option = {"FUSE_TEST_HEALTH_OPTS": json.dumps(opts)}
    lines = _health(run_nvim, workspace, {**env, **by_option})
    text = "\n".join(lines)
    assert _has(lines, "workspace trust:", f"{workspace} is trusted: --trust."), text
    assert _has(lines, "Neovim passes --trust", "option `trusted`"), text

    subprocess.run(
        [sys.executable, "-m", "fuse_ls", "trust", str(workspace)],
        env=hermetic_env(tmp_path),
        check=True,
        capture_output=True,
    )
    lines = _health(run_nvim, workspace, env)
    text = "\n".join(lines)
    assert _has(lines, "workspace trust:", f"{workspace} is trusted: on your trust list"), text
    assert not _has(lines, "not trusted"), text
    assert not _has(lines, "Neovim passes --trust"), text


def test_checkhealth_checks_the_workspace_the_server_has(
    run_nvim: Any, emulator: Any, workspace: Path, tmp_path: Path
) -> None:
    """Neovim started in another project (its own .fuse-ls.toml), a file of the workspace
    open: the server's workspace is that file's root, and the health check's doctor runs
    there. It ran in the folder Neovim was started in (:checkhealth shows its own buffer,
    whose root is the working directory's), so settings and trust were another project's."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".fuse-ls.toml").write_text("# another project\n")
    env = {
        **server_env(emulator),
        **NO_ENDPOINTS,
        "FUSE_TEST_HEALTH_OPEN": str(workspace / "sample.py"),
    }
    report = require_ok(run_nvim("health.lua", workspace=workspace, env=env, cwd=elsewhere))
    lines: list[str] = report["data"]["health"]
    text = "\n".join(lines)
    assert _has(lines, "client", f"root {workspace}"), text
    assert _has(lines, "workspace trust:", f"{workspace} is not trusted"), text
    assert not _has(lines, str(elsewhere)), text


def test_checkhealth_waits_one_timeout_for_a_doctor_that_never_finishes(
    run_nvim: Any, workspace: Path
) -> None:
    """health.timeout_ms bounds the whole check: one doctor, waited for once."""
    stuck = (
        "import sys, time\n"
        "if '--version' in sys.argv: print('fuse-ls 0.1.0')\n"
        "else: time.sleep(300)"
    )
    env = {
        "FUSE_TEST_HEALTH_CMD": json.dumps([sys.executable, "-c", stuck, "serve"]),
        "FUSE_TEST_HEALTH_OPTS": json.dumps({"health": {"timeout_ms": 4000}}),
    }
    report = require_ok(run_nvim("health.lua", workspace=workspace, env=env))
    lines: list[str] = report["data"]["health"]
    text = "\n".join(lines)
    for what in ("settings", "API keys"):
        assert _has(lines, "WARNING", what + " not checked", "did not finish within 4 s"), text
    # One timeout (4 s) and `--version`; a second wait for another doctor would be 8 s.
    assert report["data"]["health_ms"] < 7000, report["data"]["health_ms"]


def test_checkhealth_runs_doctor_once(
    run_nvim: Any, listing_emulator: Any, workspace: Path, tmp_path: Path
) -> None:
    """One `fuse-ls doctor` serves every section (settings, trust, keys, endpoints): an
    online and an offline one ran side by side, two Python processes per :checkhealth.
    `fuse-ls` on PATH is a wrapper that logs each start, then runs the real CLI."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "starts.log"
    wrapper = bin_dir / "fuse-ls"
    wrapper.write_text(
        f'#!/bin/sh\necho "$*" >> {shlex.quote(str(log))}\n'
        f'exec {shlex.quote(sys.executable)} -m fuse_ls "$@"\n'
    )
    wrapper.chmod(0o755)
    env = {
        **server_env(listing_emulator),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FUSE_TEST_HEALTH_CMD": json.dumps(["fuse-ls", "serve"]),
    }
    lines = _health(run_nvim, workspace, env)
    text = "\n".join(lines)
    assert _has(lines, "OK", "server executable", str(wrapper)), text
    assert _has(lines, "OK", "all settings valid"), text
    assert _has(lines, "workspace trust:", f"{workspace} is not trusted"), text
    assert _has(lines, "OK", "$FUSE_TEST_EMU_KEY is set (value not shown)"), text
    assert _has(lines, "OK", listing_emulator.base_url, "reachable"), text
    starts = log.read_text().splitlines()
    doctors = [s for s in starts if s.startswith("doctor")]
    assert len(doctors) == 1, starts
    assert "--offline" not in doctors[0], starts
    assert "--timeout 28" in doctors[0], starts


EDITOR_STDIN = ("--editor-settings", "-")


def _doctor_keys(workspace: Path, env: dict[str, str], settings: dict[str, Any]) -> list[Any]:
    """`fuse-ls doctor`'s key rows for the health test's settings: the words to expect."""
    done = subprocess.run(
        [sys.executable, "-m", "fuse_ls", "doctor", "--json", "--offline", *EDITOR_STDIN],
        input=json.dumps(settings),
        env=hermetic_env(workspace.parent / "doctor-home", env),
        cwd=workspace,
        capture_output=True,
        text=True,
        check=False,
    )
    return [c for c in json.loads(done.stdout)["checks"] if c["check"].startswith("key ")]


def test_checkhealth_says_the_openrouter_key_is_not_sent_to_a_local_server(
    run_nvim: Any, listing_emulator: Any, workspace: Path
) -> None:
    emulator = listing_emulator
    env = {"FUSE_LS_BASE_URL": emulator.base_url, "OPENROUTER_API_KEY": API_KEY}
    lines = _health(run_nvim, workspace, env)
    text = "\n".join(lines)
    local = emulator.base_url.removesuffix("/").removesuffix("/api/v1")
    said = "$OPENROUTER_API_KEY is set (value not shown). No key is sent to " + local
    assert _has(lines, said, "only goes to OpenRouter", "api_key_env"), text
    assert not _has(lines, "OK", "$OPENROUTER_API_KEY"), text
    assert "ERROR" not in text, text


# Loopback spellings fuse_ls/core/hosts.is_loopback accepts that the plugin's own copy of
# the rule (localhost, 127.*, [::1]) did not.
LOOPBACK_V6 = "http://[0:0:0:0:0:0:0:1]:8080/v1"


def test_checkhealth_keys_follow_each_pool_entrys_own_endpoint(
    run_nvim: Any, workspace: Path
) -> None:
    """A pool entry with its own base_url and api_key_env is judged against its own
    endpoint, in `fuse-ls doctor`'s words: a remote proxy's unset key is a warning, a
    local server's unset key no failure, though the rest of the pool is on OpenRouter."""
    settings = {
        "pool": [
            "emu/alpha",
            {"id": "emu/beta", "baseUrl": "https://llm.example.invalid/v1", "apiKeyEnv": "PROXY_K"},
            {"id": "emu/gamma", "base_url": LOOPBACK_V6, "api_key_env": "FUSE_TEST_LOCAL_KEY"},
        ],
        "verify": {"commands": ["true"]},
    }
    env = {
        "OPENROUTER_API_KEY": API_KEY,
        "FUSE_TEST_HEALTH_SETTINGS": json.dumps(settings),
        **NO_ENDPOINTS,
    }
    lines = _health(run_nvim, workspace, env)
    text = "\n".join(lines)
    keys = {c["check"]: c for c in _doctor_keys(workspace, env, settings)}
    assert keys["key PROXY_K"]["status"] == "warning", keys
    assert _has(lines, "WARNING", "$PROXY_K is " + keys["key PROXY_K"]["detail"]), text
    assert "llm.example.invalid gets no key" in keys["key PROXY_K"]["detail"]
    local = "$FUSE_TEST_LOCAL_KEY is not set; a local server may not need one."
    assert keys["key FUSE_TEST_LOCAL_KEY"]["status"] == "skipped", keys
    assert _has(lines, local) and not _has(lines, "ERROR", "FUSE_TEST_LOCAL_KEY"), text
    assert not _has(lines, "WARNING", "FUSE_TEST_LOCAL_KEY"), text
    assert _has(lines, "OK", "$OPENROUTER_API_KEY is set (value not shown)"), text
    # Every setting the server knows is valid here, `verify` too.
    assert _has(lines, "OK", "all settings valid") and not _has(lines, "ERROR", "verify"), text


def test_checkhealth_a_loopback_server_needs_no_key_and_gets_no_openrouter_key(
    run_nvim: Any, workspace: Path
) -> None:
    settings = {
        "provider": {"base_url": LOOPBACK_V6, "api_key_env": "FUSE_TEST_LOCAL_KEY"},
        "judge": {"id": "emu/judge", "api_key_env": "OPENROUTER_API_KEY"},
    }
    env = {
        "OPENROUTER_API_KEY": API_KEY,
        "FUSE_TEST_HEALTH_SETTINGS": json.dumps(settings),
        **NO_ENDPOINTS,
    }
    lines = _health(run_nvim, workspace, env)
    text = "\n".join(lines)
    assert _has(lines, "$FUSE_TEST_LOCAL_KEY is not set; a local server may not need one."), text
    assert _has(lines, LOOPBACK_V6 + ": not checked (option health.endpoints is false)"), text
    assert not _has(lines, "WARNING", "FUSE_TEST_LOCAL_KEY"), text
    # The judge names the OpenRouter key, but its server is this machine's.
    withheld = "$OPENROUTER_API_KEY is set (value not shown). No key is sent to http://[0:0:0:0:0:0:0:1]:8080"
    assert _has(lines, withheld, "only goes to OpenRouter"), text
    assert not _has(lines, "OK", "$OPENROUTER_API_KEY"), text
    assert not _has(lines, "ERROR", "KEY"), text


def test_checkhealth_server_missing(run_nvim: Any, emulator: Any, workspace: Path) -> None:
    env = server_env(emulator, FUSE_TEST_HEALTH_CMD=json.dumps(["/nonexistent/fuse-ls", "serve"]))
    lines = _health(run_nvim, workspace, env)
    text = "\n".join(lines)
    assert _has(lines, "ERROR", "server executable not found", "/nonexistent/fuse-ls"), text
    assert _has(lines, "`pipx install .` inside the clone"), text
    # No copy of the key rules guesses instead: it says what was not checked.
    assert _has(lines, "WARNING", "API keys not checked: fuse-ls not found"), text
    assert not _has(lines, "FUSE_TEST_EMU_KEY"), text


def test_checkhealth_says_what_it_could_not_check_when_doctor_fails(
    run_nvim: Any, workspace: Path
) -> None:
    # An older fuse-ls: `--version` works, `doctor --editor-settings` is unknown to it.
    old = (
        "import sys\n"
        "if '--version' in sys.argv: print('fuse-ls 0.0.9')\n"
        "else: sys.exit('fuse-ls: error: unrecognized arguments: --editor-settings -')"
    )
    env = {
        "OPENROUTER_API_KEY": API_KEY,
        "FUSE_TEST_HEALTH_CMD": json.dumps([sys.executable, "-c", old, "serve"]),
    }
    lines = _health(run_nvim, workspace, env)
    text = "\n".join(lines)
    assert _has(lines, "OK", "version: fuse-ls 0.0.9"), text
    for what in ("settings", "API keys", "endpoints"):
        assert _has(lines, "WARNING", what + " not checked", "unrecognized arguments"), text
    assert _has(lines, "upgrade it"), text
    assert not _has(lines, "$OPENROUTER_API_KEY"), text


def test_checkhealth_missing_key_and_bad_settings(
    run_nvim: Any, emulator: Any, workspace: Path
) -> None:
    bad = {"mode": "vote", "quorum": {"deadlineS": "x"}}
    env = {
        "FUSE_LS_BASE_URL": "https://api.example.invalid/v1",
        "FUSE_LS_PROVIDER__API_KEY_ENV": "FUSE_TEST_PROXY_KEY",
        "FUSE_TEST_HEALTH_SETTINGS": json.dumps(bad),
        **NO_ENDPOINTS,
    }
    lines = _health(run_nvim, workspace, env)
    text = "\n".join(lines)
    # A remote server the user named a key for: a warning, saying what `fuse-ls doctor`
    # says, word for word (it may take no key, so neither fails on it).
    [key] = _doctor_keys(workspace, env, bad)
    assert key["status"] == "warning" and "api.example.invalid gets no key" in key["detail"]
    assert _has(lines, "WARNING", "$FUSE_TEST_PROXY_KEY is " + key["detail"]), text
    assert not _has(lines, "ERROR", "FUSE_TEST_PROXY_KEY"), text
    assert _has(lines, "ERROR", "'mode'", "editor settings", "'vote'", "'best-of', 'merge'"), text
    assert _has(lines, "ERROR", "quorum.deadlineS"), text
    assert _has(lines, "api.example.invalid"), text


def test_python_is_the_venv() -> None:
    # The server runs as `sys.executable -m fuse_ls serve`; make sure that imports.
    assert Path(sys.executable).exists()


def test_help_tags_current_and_links_resolve(
    run_nvim: Any, nvim_bin: Path, workspace: Path, tmp_path: Path
) -> None:
    doc = Path(__file__).resolve().parents[2] / "editors" / "nvim" / "doc"
    fresh = tmp_path / "doc"
    fresh.mkdir()
    (fresh / "fuse_ls.txt").write_bytes((doc / "fuse_ls.txt").read_bytes())
    subprocess.run(
        [
            str(nvim_bin),
            "--headless",
            "--clean",
            "-u",
            "NONE",
            "-c",
            f"helptags {fresh}",
            "-c",
            "qa!",
        ],
        check=True,
        timeout=30,
        capture_output=True,
    )
    assert (fresh / "tags").read_text() == (doc / "tags").read_text(), (
        "editors/nvim/doc/tags is stale: run "
        "`nvim --headless --clean -u NONE -c 'helptags editors/nvim/doc' -c qa!`"
    )
    require_ok(run_nvim("help.lua", workspace=workspace))


def test_emacs_eglot_smoke(emulator: Any, workspace: Path, tmp_path: Path) -> None:
    """Emacs (Debian's emacs-nox + elpa-eglot), batch mode: eglot starts fuse-ls, lists the
    code actions and shows a fused review in flymake. Skipped where Emacs is not installed
    (`apt-get install emacs-nox elpa-eglot`)."""
    emacs = which("emacs")
    if emacs is None:
        pytest.skip("emacs not installed (apt-get install emacs-nox elpa-eglot)")
    out = tmp_path / "emacs.json"
    env = hermetic_env(
        tmp_path,
        {
            **server_env(emulator),
            "FUSE_TEST_OUT": str(out),
            "FUSE_TEST_WORKSPACE": str(workspace),
            "FUSE_TEST_EMACS_DIR": str(REPO / "editors" / "emacs"),
        },
    )
    proc = subprocess.run(
        [emacs, "--batch", "-Q", "-l", str(HERE / "emacs" / "smoke.el")],
        env=env,
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    if "Cannot open load file" in proc.stderr and "eglot" in proc.stderr:
        pytest.skip("eglot not installed (apt-get install elpa-eglot, or Emacs 29+)")
    report = json.loads(out.read_text()) if out.exists() else {}
    assert proc.returncode == 0 and "error" not in report, (report, proc.stderr[-3000:])
    assert {"Fused review of selection", "Explain with consensus", "Fused fix of selection"} <= set(
        report["actions"]
    ), report
    assert any("3/3 models" in d for d in report["diagnostics"]), report


def test_plugin_modules_load_alone_and_keep_the_api(run_nvim: Any, workspace: Path) -> None:
    report = require_ok(run_nvim("modules.lua", workspace=workspace))
    assert "fuse_ls.commands" in report["data"]["modules"]


def test_degraded_results_warn_with_the_reason(
    run_nvim: Any, emulator_factory: Any, workspace: Path
) -> None:
    """Issue 10 item 15: a judge that fell back to the votes, or failed pool models, is
    a warning that says why; a fusion that failed as a whole is not called finished."""
    script = script_with()
    script["models"]["emu/judge"] = {
        "faults": [{"kind": "http", "status": 500, "message": "judge overloaded"}]
    }
    script["models"]["emu/beta"] = {
        **script["models"]["*"],
        "faults": [{"kind": "http", "status": 503, "schemas": ["review_findings"]}],
    }
    every_fix_fails = {"kind": "http", "status": 500, "schemas": ["fix_result"]}
    for pool_model in ("emu/alpha", "emu/gamma"):
        script["models"][pool_model] = {**script["models"]["*"], "faults": [every_fix_fails]}
    # A finding only gamma raises, so the judge is asked (when all agree it is skipped).
    minority = {"match": "x * 2", "message": "doubles", "severity": "info", "category": "style"}
    script["models"]["emu/gamma"]["findings"] = [
        *script["models"]["*"]["findings"],
        minority,
    ]
    script["models"]["emu/beta"]["faults"].append(every_fix_fails)
    emulator = emulator_factory(script)
    report = require_ok(run_nvim("degraded.lua", workspace=workspace, env=server_env(emulator)))
    warning = next(
        m["msg"] for m in report["data"]["review"]["messages"] if "(degraded)" in m["msg"]
    )
    assert "judge overloaded" in warning, warning


def test_workspace_trust_is_sent_per_root(run_nvim: Any, emulator: Any, workspace: Path) -> None:
    report = require_ok(run_nvim("trust.lua", workspace=workspace, env=server_env(emulator)))
    assert report["data"]["init"]["workspaceTrusted"] is True


def test_trusted_option_decides_which_endpoint_a_workspace_may_choose(
    run_nvim: Any, emulator_factory: Any, workspace: Path, tmp_path: Path
) -> None:
    chosen_by_repo = emulator_factory(script_with())
    users_own = emulator_factory(script_with(findings=[]))
    other = tmp_path / "other"
    other.mkdir()
    (other / "sample.py").write_text((workspace / "sample.py").read_text())
    for ws in (workspace, other):
        (ws / ".fuse-ls.toml").write_text(f'[provider]\nbase_url = "{chosen_by_repo.base_url}"\n')
    user_config = tmp_path / "home" / "config" / "fuse-ls" / "config.toml"
    user_config.parent.mkdir(parents=True)
    user_config.write_text(f'[provider]\nbase_url = "{users_own.base_url}"\n')
    env = {"FUSE_TEST_OTHER_WS": str(other)}
    report = require_ok(run_nvim("trust_review.lua", workspace=workspace, env=env))
    assert report["data"]["trusted"]["findings"], report["data"]
    asked = {r.model for r in users_own.requests}
    assert asked and asked <= {"emu/alpha", "emu/beta", "emu/gamma", "emu/judge"}


def test_review_changes_command(run_nvim: Any, emulator_factory: Any, workspace: Path) -> None:
    """:FuseReviewChanges (issue 12): a real git repository whose uncommitted change adds
    an eval() to sample.py and to b.py."""
    git_env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=workspace, env=git_env, check=True, capture_output=True)

    changed = (workspace / "sample.py").read_text()
    (workspace / "sample.py").write_text(changed.replace("eval(text)", "text"))
    (workspace / "b.py").write_text("def save(path):\n    return path\n")
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    (workspace / "sample.py").write_text(changed)
    (workspace / "b.py").write_text("def save(path):\n    return eval(path)\n")
    script = script_with()
    script["models"]["emu/slow-a"] = script["models"]["emu/slow-b"] = {"ttft_ms": 60_000}
    emulator = emulator_factory(script)
    report = require_ok(run_nvim("changes.lua", workspace=workspace, env=server_env(emulator)))
    assert report["data"]["again"]["calls"] == 0
    assert report["data"]["cancel_ms"] < 10_000


def test_a_fix_that_fails_its_checks_asks_to_apply_anyway(
    run_nvim: Any, emulator: Any, workspace: Path
) -> None:
    check = f"{sys.executable} -c \"print('E   the tests fail'); raise SystemExit(1)\""
    env = server_env(emulator, FUSE_LS_VERIFY__COMMANDS=check)
    report = require_ok(run_nvim("verified_fix.lua", workspace=workspace, env=env, timeout=120))
    assert report["data"]["result"]["checks"]["summary"].startswith("checks failed: `")


def test_verify_fix_checks_a_findings_fix_then_asks_to_apply(
    run_nvim: Any, emulator: Any, workspace: Path
) -> None:
    # Passes only where the fix is in place: the checks run on the fixed copy.
    check = (
        f"{sys.executable} -c \"import pathlib; s = pathlib.Path('sample.py').read_text(); "
        "assert 'ast.literal_eval(text)' in s, s\""
    )
    env = server_env(emulator, FUSE_LS_VERIFY__COMMANDS=check)
    report = require_ok(run_nvim("verify_finding.lua", workspace=workspace, env=env, timeout=120))
    assert report["data"]["applied"]["checks"]["summary"].startswith("checks passed (1 command, ")
    # The server wrote nothing itself: the editor applied the edit to its buffer.
    assert "    value = eval(text)\n" in (workspace / "sample.py").read_text()


def test_a_modeline_in_an_explanation_sets_nothing(run_nvim: Any, workspace: Path) -> None:
    """Explanations are model text saved to a file; showing one must not apply a modeline
    in it (filetype, tabstop: whatever Neovim allows a modeline to set)."""
    report = require_ok(run_nvim("hostile_explanation.lua", workspace=workspace))
    assert report["data"]["filetype"] == "markdown"


def test_a_fuse_ls_package_in_the_workspace_is_not_run(
    run_nvim: Any, emulator: Any, workspace: Path, tmp_path: Path
) -> None:
    """`{ "python", "-m", "fuse_ls", "serve" }` (what :checkhealth suggests) runs in the
    workspace, and `-m` puts that folder first on sys.path: a repository shipping
    fuse_ls/__init__.py ran its own code when a file of it was opened."""
    marker = tmp_path / "ran"
    (workspace / "fuse_ls").mkdir()
    code = f"open({str(marker)!r}, 'w').write('the repository ran code')\n"
    (workspace / "fuse_ls" / "__init__.py").write_text(code)
    (workspace / "fuse_ls" / "__main__.py").write_text(code)
    env = server_env(emulator, FUSE_TEST_MARKER=str(marker))
    require_ok(run_nvim("hostile_package.lua", workspace=workspace, env=env))
    assert not marker.exists()


def test_a_hidden_finding_is_information_not_a_warning(
    run_nvim: Any, emulator: Any, workspace: Path
) -> None:
    """Every review with a `# fuse-ls: ignore` line in it showed a WARN ("note: not shown:
    1 suppressed"), as if the review had gone wrong."""
    require_ok(run_nvim("quiet_note.lua", workspace=workspace, env=server_env(emulator)))


@pytest.mark.parametrize("where", ["this machine", "remote"])
def test_the_cost_note_warns_only_when_a_cap_cannot_be_checked(
    run_nvim: Any, emulator: Any, workspace: Path, where: str
) -> None:
    """No model of this pool has a price. On a server on this machine (Ollama, the
    emulator) that costs nothing: every review warned "cost could not be estimated".
    Through a remote endpoint (a name only the test's proxy carries to the emulator) the
    default cost cap really cannot be checked, and the warning stays."""
    seen: list[str] = []
    with LoopbackServer(forward_proxy(emulator.base_url, seen)) as proxy:
        env = server_env(emulator, FUSE_TEST_COST_NOTE="0")
        if where == "remote":
            env.update(
                FUSE_LS_BASE_URL="http://models.test/api/v1",
                HTTP_PROXY=proxy.url,
                FUSE_TEST_COST_NOTE="1",
            )
        require_ok(run_nvim("cost_note.lua", workspace=workspace, env=env))
    assert bool(seen) == (where == "remote")


@pytest.mark.parametrize("style", ["setup", "lspconfig"])
def test_the_server_runs_in_the_buffers_root(
    run_nvim: Any, emulator: Any, workspace: Path, tmp_path: Path, style: str
) -> None:
    """Neovim started in another folder (`nvim ~/proj/src/app.py` from ~): the server ran
    in Neovim's working directory, not in the root of the file it was started for."""
    home = tmp_path / "started-here"
    home.mkdir()
    env = server_env(emulator, FUSE_TEST_STYLE=style)
    require_ok(run_nvim("server_cwd.lua", workspace=workspace, env=env, cwd=home))


@pytest.mark.parametrize("style", ["setup", "lspconfig"])
def test_a_buffer_without_a_name_gets_a_server_once_it_has_one(
    run_nvim: Any, emulator: Any, workspace: Path, tmp_path: Path, style: str
) -> None:
    """An empty or new buffer (its filetype set before its name) started a server rooted
    in Neovim's working directory, and kept it once written into another workspace."""
    home = tmp_path / "started-here"
    home.mkdir()
    (home / ".fuse-ls.toml").write_text("# another project\n")
    env = server_env(emulator, FUSE_TEST_STYLE=style)
    require_ok(run_nvim("unnamed.lua", workspace=workspace, env=env, cwd=home, timeout=150))
