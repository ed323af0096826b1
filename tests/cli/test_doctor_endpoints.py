"""`fuse-ls doctor`'s endpoint and workspace-trust rows: what Neovim's :checkhealth shows
as they are, so they say what a user checking by hand would find (curl's /models, the
trust list)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.emulator import Emulator
from tests.loopback_http import LoopbackServer, QuietHandler
from tests.pool_sample import isolated_env, run_cli


def doctor(cwd: Path, *args: str, stdin: str | None = None, **env: str) -> dict[str, Any]:
    done = run_cli(list(args), isolated_env(cwd, **env), cwd, timeout=120, stdin=stdin)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout) if "--json" in args else {"stdout": done.stdout}


def rows(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in data["checks"]}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    return tmp_path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NotFound(QuietHandler):
    def do_GET(self) -> None:
        body = b'{"error": {"message": "no such route"}}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_each_endpoint_says_whether_it_answered_and_with_what(project: Path) -> None:
    """A listing endpoint, one answering HTTP 404 (reachable, but not an OpenAI-compatible
    base URL) and a closed port: three different rows, each naming the URL asked."""
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    with Emulator() as emu, LoopbackServer(NotFound) as wrong:
        settings = {
            "pool": [
                "anthropic/claude-sonnet-4.5",
                {"id": "emu/missing", "base_url": wrong.url + "/v1"},
                {"id": "emu/dead", "base_url": dead},
            ],
            "judge": "emu/not-listed",
        }
        data = doctor(
            project,
            *("doctor", "--json", "--editor-settings", "-"),
            stdin=json.dumps(settings),
            FUSE_LS_BASE_URL=emu.base_url,
        )
    by = rows(data)
    ok = by["endpoint " + emu.base_url]
    assert ok["status"] == "ok" and ok["detail"].startswith(
        f"reachable (GET {emu.base_url.rstrip('/')}/models), "
    )
    assert by["model anthropic/claude-sonnet-4.5"]["status"] == "ok"
    assert by["model emu/not-listed"]["status"] == "error"
    answered = by["endpoint " + wrong.url + "/v1"]
    assert answered["status"] == "error"
    assert answered["detail"].startswith(f"GET {wrong.url}/v1/models: ")
    assert "answered 404" in answered["detail"] and "not reachable" not in answered["detail"]
    refused = by["endpoint " + dead]
    assert refused["status"] == "error" and refused["detail"].startswith("not reachable: ")
    assert data["ok"] is False


def test_workspace_trust_names_what_trusts_it(project: Path) -> None:
    offline = ("doctor", "--json", "--offline")
    trust = rows(doctor(project, *offline))["workspace trust"]["detail"]
    assert trust.startswith(f"{project} is not trusted: ")
    assert f"run `fuse-ls trust {project}`" in trust

    trust = rows(doctor(project, *offline, "--trust"))["workspace trust"]["detail"]
    assert trust.startswith(f"{project} is trusted: --trust.")

    doctor(project, "trust", str(project))
    trust = rows(doctor(project, *offline))["workspace trust"]["detail"]
    assert trust.startswith(f"{project} is trusted: on your trust list (`fuse-ls trust`).")
    (project / "sub").mkdir()
    config = str(project / ".config")
    data = doctor(project / "sub", *offline, "--trust", XDG_CONFIG_HOME=config)
    trust = rows(data)["workspace trust"]["detail"]
    assert trust.startswith(f"{project / 'sub'} is trusted: on your trust list")
    assert "and --trust." in trust


def test_untrusted_says_whether_there_is_a_config_file_to_hold_back(project: Path) -> None:
    """A new user's first doctor run was told to trust a repository with no config file,
    where trust changes nothing."""
    offline = ("doctor", "--json", "--offline")
    bare = rows(doctor(project, *offline))["workspace trust"]["detail"]
    assert "it has no config file of its own" in bare and "nothing is held back" in bare
    (project / ".fuse-ls.toml").write_text('mode = "debate"\n')
    held = rows(doctor(project, *offline))["workspace trust"]["detail"]
    assert "its config file cannot choose endpoints, keys or check commands" in held
    assert "no config file" not in held
    (project / ".fuse-ls.toml").unlink()
    (project / "pyproject.toml").write_text('[tool.fuse-ls]\nmode = "debate"\n')
    held = rows(doctor(project, *offline))["workspace trust"]["detail"]
    assert "its config file cannot choose" in held
    said = run_cli(["trust", str(project)], isolated_env(project), project)
    assert said.returncode == 0 and "verify.commands" in said.stderr


def test_doctor_with_a_broken_proxy_url_reports_it_in_a_row(tmp_path: Path) -> None:
    """A password with an unencoded '#' in HTTPS_PROXY crashed doctor (and so Neovim's
    :checkhealth) with a traceback quoting part of the password."""
    report = doctor(
        tmp_path,
        "doctor",
        "--json",
        FUSE_LS_BASE_URL="https://models.test/api/v1",
        FUSE_LS_MODELS="a/one,b/two",
        HTTPS_PROXY="http://me:pw#hunter2@127.0.0.1:3128",
    )
    rows = [c for c in report["checks"] if c["check"] == "endpoint https://models.test/api/v1"]
    assert len(rows) == 1 and rows[0]["status"] == "error"
    assert "HTTPS_PROXY (http://127.0.0.1:3128) is not a valid URL" in rows[0]["detail"]
    assert "hunter2" not in json.dumps(report)


def test_doctor_never_prints_a_password_in_a_base_url(tmp_path: Path) -> None:
    """`endpoint http://me:hunter2@...` was a row's name, and the detail said it twice;
    :checkhealth shows these rows. A base URL without its scheme was echoed in the
    settings error."""
    port = closed_port()
    editor = json.dumps({"provider": {"base_url": f"http://me:hunter2@127.0.0.1:{port}/v1"}})
    report = doctor(tmp_path, "doctor", "--json", "--editor-settings", "-", stdin=editor)
    assert f"endpoint http://127.0.0.1:{port}/v1" in [c["check"] for c in report["checks"]]
    assert "hunter2" not in json.dumps(report)
    report = doctor(
        tmp_path, "doctor", "--json", "--offline", FUSE_LS_BASE_URL="me:hunter2@gateway.test/v1"
    )
    assert any("FUSE_LS_BASE_URL" in c["detail"] for c in report["checks"])
    assert "hunter2" not in json.dumps(report)


def test_doctor_says_editor_settings_nested_too_deeply(tmp_path: Path) -> None:
    """JSON nested past Python's recursion limit was a traceback, not an error row."""
    deep = "[" * 100_000 + "]" * 100_000
    report = doctor(tmp_path, "doctor", "--json", "--offline", "--editor-settings", "-", stdin=deep)
    row = next(c for c in report["checks"] if c["check"] == "editor settings")
    assert row["status"] == "error" and "nested too deeply" in row["detail"]


def test_doctor_never_prints_a_key_pasted_as_a_variable_name(tmp_path: Path) -> None:
    """A GitHub or Hugging Face token is also a valid variable name: pasted into
    api_key_env it was taken as one, and doctor printed it ("key ghp_...")."""
    token = "gh" + "p_" + "Zq8Xw3Lm5Rt7Vb2Nk4Jh6Gf9Dc1Sa0Pe3Yu5I"
    report = doctor(tmp_path, "doctor", "--json", "--offline", FUSE_LS_PROVIDER__API_KEY_ENV=token)
    assert token not in json.dumps(report)
    problem = next(
        c
        for c in report["checks"]
        if c["check"] == "config" and "FUSE_LS_PROVIDER__API_KEY_ENV" in c["detail"]
    )
    assert problem["status"] == "error" and "never a key" in problem["detail"]


def test_at_80_columns_each_detail_keeps_its_urls_whole(project: Path) -> None:
    """A detail column of its own was ~33 wide at 80 columns: every URL and the command
    to run broke mid-word (`.../api/v1/mod` / `els`). The detail goes under the name."""
    with Emulator() as emu:
        out = doctor(
            project, "doctor", FUSE_LS_BASE_URL=emu.base_url, FUSE_LS_MODELS="a/b", COLUMNS="80"
        )["stdout"]
    lines = out.splitlines()
    assert max(len(line) for line in lines[1:-1]) <= 80, out
    assert any(f"(GET {emu.base_url}/models)" in line for line in lines), out
    assert any(f"│ endpoint {emu.base_url} " in line for line in lines), out
    # Wide enough, the detail has its column again.
    with Emulator() as emu:
        wide = doctor(
            project, "doctor", FUSE_LS_BASE_URL=emu.base_url, FUSE_LS_MODELS="a/b", COLUMNS="160"
        )["stdout"]
    assert "┃ detail" in wide, wide
