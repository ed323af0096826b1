"""A workspace folder's name comes from whoever made the tarball or zip: `tar xf` makes
`proj\\e]0;owned\\a\\e[2Jx/` as readily as `proj/`. `fuse-ls doctor`, `trust`, `trust
--list` and the config-file messages printed that path raw, so the terminal ran its ESC
sequences (retitle the window, clear the screen, write the clipboard with OSC 52). Now
each is shown with escapes, still recognisable; `--json` keeps the name exact."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from fuse_ls.emulator import Emulator
from tests.pool_sample import CODE, JUDGE, POOL, home_env, run_cli

# Retitle the window, write the clipboard (OSC 52), clear the screen, a bidi override.
HOSTILE = "proj\x1b]0;owned\x07\x1b]52;c;ZWNobyBvd25lZA==\x07\x1b[2J\u202ex"
SHOWN = "proj\\x1b]0;owned\\x07\\x1b]52;c;ZWNobyBvd25lZA==\\x07\\x1b[2J\\u202ex"


def _clean(res: subprocess.CompletedProcess[str]) -> str:
    out = res.stdout + res.stderr
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out, repr(out)
    return out


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / HOSTILE
    ws.mkdir()
    (ws / "app.py").write_text(CODE)
    return ws


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = home_env("http://127.0.0.1:9/v1", tmp_path / "home")
    env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="500")
    return env


def test_trust_and_its_list_show_the_name_escaped(workspace: Path, env: dict[str, str]) -> None:
    res = run_cli(["trust"], env, workspace)
    assert res.returncode == 0
    assert f"Trusted: {workspace.parent}/{SHOWN}." in _clean(res)
    res = run_cli(["trust", "--list"], env, workspace)
    assert res.returncode == 0
    assert res.stdout.strip() == f"{workspace.parent}/{SHOWN}"
    _clean(res)
    res = run_cli(["doctor", "--offline"], env, workspace)
    assert SHOWN in _clean(res) and "is trusted: on your trust list" in res.stdout
    res = run_cli(["trust", "--remove", "."], env, workspace)
    assert res.returncode == 0 and f"No longer trusted: {workspace.parent}/{SHOWN}" in _clean(res)


def test_doctor_and_config_errors_show_the_name_escaped(
    workspace: Path, env: dict[str, str]
) -> None:
    (workspace / ".fuse-ls.toml").write_text("x = [")
    res = run_cli(["doctor", "--offline"], env, workspace)
    out = _clean(res)
    assert f"{SHOWN} is not trusted" in out
    assert f"Cannot use config file {workspace.parent}/{SHOWN}/.fuse-ls.toml" in out
    # JSON escapes the ESC itself: the data keeps the folder's real name.
    res = run_cli(["doctor", "--offline", "--json"], env, workspace)
    rows = {row["check"]: row["detail"] for row in json.loads(res.stdout)["checks"]}
    assert rows["workspace trust"].startswith(f"{workspace} is not trusted")
    assert "\x1b" not in res.stdout
    with Emulator({"models": {**{m: {"findings": []} for m in POOL}, JUDGE: {}}}) as emu:
        env["FUSE_LS_BASE_URL"] = emu.base_url
        res = run_cli(["review", "app.py"], env, workspace)
    assert res.returncode == 0, res.stderr
    assert f"config: Cannot use config file {workspace.parent}/{SHOWN}/.fuse-ls.toml" in _clean(res)


def test_the_trust_command_offered_pastes_back_as_the_same_folder(
    workspace: Path, env: dict[str, str]
) -> None:
    # An untrusted workspace file choosing the endpoint is held back, with the command
    # that trusts it: escaped so the terminal does not run it, yet the same folder to bash.
    (workspace / ".fuse-ls.toml").write_text('[provider]\nbase_url = "http://127.0.0.1:9/v1"\n')
    res = run_cli(["doctor", "--offline"], env, workspace)
    out = _clean(res)
    assert f"{workspace.parent}/{SHOWN}/.fuse-ls.toml sets provider.base_url, ignored" in out
    flat = " ".join(line.strip(" │") for line in out.splitlines())
    quoted = flat.split("run `fuse-ls trust ", 1)[1].split("`", 1)[0]
    assert quoted.startswith("$'") and "\x1b" not in quoted
    said = subprocess.run(
        ["bash", "-c", f"printf %s {quoted}"], capture_output=True, check=True
    ).stdout
    assert said == bytes(workspace)


def test_dismiss_names_the_folder_escaped(workspace: Path, env: dict[str, str]) -> None:
    res = run_cli(["dismiss", "3f9a0c1d2b4e5f60"], env, workspace)
    assert res.returncode == 0, res.stderr
    assert f"3f9a0c1d2b4e5f60: dismissed in {workspace.parent}/{SHOWN}" in _clean(res)
