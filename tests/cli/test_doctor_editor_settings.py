"""`fuse-ls doctor --editor-settings`: the settings an editor sends the server, checked
with the files and environment, so an editor's health check shows doctor's own rows
(Neovim's :checkhealth does) instead of re-deriving them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.pool_sample import isolated_env, run_cli

REMOTE = "https://llm.example.invalid/v1"


def doctor(
    cwd: Path, *args: str, stdin: str | None = None, **env: str
) -> tuple[int, dict[str, Any]]:
    done = run_cli(
        ["doctor", "--json", "--offline", *args], isolated_env(cwd, **env), cwd, stdin=stdin
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def rows(data: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in data["checks"] if c["check"].startswith(prefix)}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    return tmp_path


def test_a_pool_entrys_own_endpoint_and_key_variable_come_from_the_editor(
    project: Path,
) -> None:
    settings = {
        "pool": [
            "vendor/model-a",
            {"id": "proxy/model-b", "baseUrl": REMOTE, "apiKeyEnv": "FUSE_TEST_PROXY_KEY"},
        ],
        "judge": {"id": "local/judge", "base_url": "http://[::1]:8080/v1", "api_key_env": "J"},
    }
    code, data = doctor(project, "--editor-settings", "-", stdin=json.dumps({"fuseLs": settings}))
    keys = rows(data, "key ")
    assert keys["key FUSE_TEST_PROXY_KEY"] == {
        "check": "key FUSE_TEST_PROXY_KEY",
        "status": "warning",
        "detail": "not set: https://llm.example.invalid gets no key. If it needs one, "
        "export FUSE_TEST_PROXY_KEY=...; if it needs none, remove api_key_env.",
    }
    assert keys["key J"]["status"] == "skipped"  # the judge's own server is on this machine
    assert keys["key OPENROUTER_API_KEY"]["status"] == "error"  # model-a goes to OpenRouter
    assert set(rows(data, "endpoint ")) == {
        "endpoint https://openrouter.ai/api/v1",
        "endpoint " + REMOTE,
        "endpoint http://[::1]:8080/v1",
    }
    assert code == 1
    sources = rows(data, "config sources")["config sources"]["detail"]
    assert sources.startswith("defaults, editor settings, environment")


def test_the_later_editor_layer_wins_and_the_environment_wins_over_both(
    project: Path, tmp_path: Path
) -> None:
    start_up = {"provider": {"base_url": "http://localhost:11434/v1"}, "mode": "debate"}
    pulled = {"provider": {"baseUrl": REMOTE, "apiKeyEnv": "FUSE_TEST_PROXY_KEY"}}
    path = tmp_path / "editor.json"
    path.write_text(json.dumps([start_up, pulled]))
    code, data = doctor(project, "--editor-settings", str(path), FUSE_TEST_PROXY_KEY="x")
    assert rows(data, "key ")["key FUSE_TEST_PROXY_KEY"]["status"] == "ok"
    assert list(rows(data, "endpoint ")) == ["endpoint " + REMOTE]
    assert code == 0, data
    code, data = doctor(
        project, "--editor-settings", str(path), FUSE_LS_BASE_URL="http://127.0.0.2:9/v1"
    )
    assert rows(data, "key ")["key FUSE_TEST_PROXY_KEY"]["status"] == "skipped"
    assert code == 0, data


def test_the_openrouter_key_is_withheld_from_a_local_server_the_editor_names(
    project: Path,
) -> None:
    secret = "sk-or-v1-" + "0123456789ab" * 5
    editor = json.dumps({"provider": {"base_url": "http://localhost.localdomain.localhost/v1"}})
    code, data = doctor(project, "--editor-settings", "-", stdin=editor, OPENROUTER_API_KEY=secret)
    key = rows(data, "key ")["key OPENROUTER_API_KEY"]
    assert key["status"] == "info" and key["detail"].startswith("set (value not shown). ")
    assert "No key is sent to http://localhost.localdomain.localhost" in key["detail"]
    assert code == 0 and secret not in json.dumps(data)


def test_bad_editor_settings_are_rows_not_a_crash(project: Path) -> None:
    code, data = doctor(project, "--editor-settings", "-", stdin='{"mode": "vote", "pool": [}')
    [row] = [c for c in data["checks"] if c["check"] == "editor settings"]
    assert row["status"] == "error" and row["detail"].startswith("not valid JSON")
    assert code == 1
    code, data = doctor(project, "--editor-settings", "-", stdin='["merge"]')
    [row] = [c for c in data["checks"] if c["check"] == "editor settings"]
    assert row["detail"] == "expected a JSON object of settings, or a list of them"
    code, data = doctor(project, "--editor-settings", str(project / "missing.json"))
    [row] = [c for c in data["checks"] if c["check"] == "editor settings"]
    assert row["detail"].startswith("cannot be read")
    code, data = doctor(project, "--editor-settings", "-", stdin='{"mode": "vote"}')
    [config] = [c for c in data["checks"] if c["check"] == "config"]
    assert config["status"] == "error" and code == 1
    assert "'mode' (from editor settings): got 'vote'" in config["detail"]
