"""`fuse-ls upload` against a loopback Rudel stand-in that checks the envelope."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rudel_stub import RudelStub
from telemetry_events import CODE, POOL, Clock, ok, run_fusion, session_files

from fuse_ls.config import TelemetrySettings
from fuse_ls.telemetry import store
from fuse_ls.telemetry.recorder import SessionRecorder
from fuse_ls.telemetry.upload import (
    UploadError,
    check_url,
    is_loopback,
    normalize_remote,
    redact_jsonl,
    upload_main,
)

KEY = "rk-test-" + "0123456789abcdef" * 2
SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


USER = "user-1"


@pytest.fixture
def rudel() -> Iterator[RudelStub]:
    with RudelStub() as server:
        server.api_keys[KEY] = USER
        server.sessions[KEY] = USER  # the same secret as a login session (Bearer)
        yield server


@pytest.fixture
def env(home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An isolated HOME with no Rudel credentials; returns the workspace (a git repo)."""
    monkeypatch.delenv("FUSE_LS_DATA_DIR", raising=False)
    ws = tmp_path / "ws"
    ws.mkdir()
    git = ["git", "-C", str(ws), "-c", "user.email=t@e.st", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "feature/telemetry"], check=True)
    subprocess.run([*git, "remote", "add", "origin", "git@github.com:acme/widgets.git"], check=True)
    (ws / "a.py").write_text(CODE)
    subprocess.run([*git, "add", "a.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "init"], check=True)
    return ws


def record(
    root: Path, ws: Path, fusions: int = 1, recorder: SessionRecorder | None = None
) -> SessionRecorder:
    rec = recorder or SessionRecorder(
        TelemetrySettings(data_dir=str(root), record_content=True),
        ws,
        source="server",
        version="0.1.0",
        git_branch="feature/telemetry",
        clock=Clock(),
    )
    for i in range(fusions):
        run_fusion(
            rec,
            None,
            f"f{i}-{id(rec)}",
            code=CODE + f'TOKEN = "{SECRET}"\n',
            path=str(ws / "a.py"),
            results=(ok(POOL[0], 0, text=f"the token {SECRET} is exposed"),),
        )
    return rec


def run(argv: list[str], **kw: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = upload_main(argv, version="9.9.9", backoff_s=0.01, out=out, err=err, **kw)
    return code, out.getvalue(), err.getvalue()


def test_envelope(
    rudel: RudelStub, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    record(root, env).close()
    monkeypatch.setenv("RUDEL_API_KEY", KEY)
    code, out, err = run(["--url", rudel.url, "--all", "--data-dir", str(root)])
    assert code == 0, err
    [req] = rudel.requests
    assert req["path"] == "/rpc/ingestSession"
    assert req["headers"]["x-api-key"] == KEY
    assert req["headers"]["content-type"] == "application/json"
    env_ = req["body"]["json"]
    [path] = session_files(root)
    assert env_["sessionId"] == path.stem
    assert env_["projectPath"] == str(env)
    assert env_["source"] == "claude_code"
    assert env_["upload_mode"] == "manual"
    assert env_["cli_version"] == "9.9.9"
    assert env_["platform_os"] in ("linux", "macos", "windows")
    assert env_["gitRemote"] == "github.com/acme/widgets"
    assert env_["gitBranch"] == "feature/telemetry"
    assert len(env_["gitSha"]) == 40
    assert "force_replace" not in env_
    lines = env_["content"].splitlines()
    assert len(lines) == path.read_text().count("\n")
    for line in lines:
        json.loads(line)  # still valid JSONL after redaction
        assert ": " not in line or '"' in line.split(": ")[0]  # compact
    assert SECRET not in env_["content"]
    assert "[REDACTED:github-token]" in env_["content"]
    assert KEY not in out + err
    assert "uploaded" in out


def test_secret_in_a_file_is_redacted_before_upload(
    rudel: RudelStub, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A line written by an older version (or by hand) that carries a raw secret.
    root = tmp_path / "data"
    record(root, env).close()
    path = inject_raw_secret(root)
    monkeypatch.setenv("RUDEL_API_KEY", KEY)
    assert run(["--url", rudel.url, path.stem, "--data-dir", str(root)])[0] == 0
    content = rudel.requests[0]["body"]["json"]["content"]
    assert SECRET not in content and "hunter2!x" not in content
    for ln in content.splitlines():
        json.loads(ln)


def test_redact_jsonl_keeps_json_valid() -> None:
    raw = store.dumps({"s": 'api_key = \\"sk-' + "a" * 40 + '\\"', "n": 1}) + "\n"
    text, counts = redact_jsonl(raw)
    assert json.loads(text)["n"] == 1 and counts


def test_credentials_file_and_bearer(rudel: RudelStub, env: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    record(root, env).close()
    cred_dir = Path.home() / ".rudel"
    cred_dir.mkdir()
    (cred_dir / "credentials.json").write_text(
        json.dumps({"token": KEY, "apiBaseUrl": rudel.url, "authType": "bearer"})
    )
    code, out, err = run(["--all", "--data-dir", str(root)])  # URL from the credentials
    assert code == 0, err
    assert rudel.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"
    assert "x-api-key" not in rudel.requests[0]["headers"]
    assert KEY not in out + err


def test_grew_only_reupload(
    rudel: RudelStub, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUDEL_API_KEY", KEY)
    root = tmp_path / "data"
    rec = record(root, env)
    argv = ["--url", rudel.url, "--all", "--data-dir", str(root)]
    assert run(argv)[0] == 0
    assert len(rudel.requests) == 1
    code, out, _ = run(argv)
    assert code == 0 and "unchanged" in out
    assert len(rudel.requests) == 1
    record(root, env, recorder=rec)  # the live session grows
    assert run(argv)[0] == 0
    assert len(rudel.requests) == 2
    assert len(rudel.requests[1]["body"]["json"]["content"]) > len(
        rudel.requests[0]["body"]["json"]["content"]
    )
    rec.close()
    state = json.loads((root / "upload-state.json").read_text())
    assert list(state) == [rudel.url]
    # --force sends again and asks the server to replace
    assert run([*argv, "--force"])[0] == 0
    assert rudel.requests[-1]["body"]["json"]["force_replace"] is True


def test_retries_transient_failures(
    rudel: RudelStub, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUDEL_API_KEY", KEY)
    root = tmp_path / "data"
    record(root, env).close()
    rudel.faults = [(503, {}, {}), (502, {}, {"retry-after": "0"}), (408, {}, {})]
    code, _out, err = run(["--url", rudel.url, "--all", "--data-dir", str(root)])
    assert code == 0, err
    assert len(rudel.requests) == 4
    rudel.faults = [(503, {}, {})] * 10
    code, _, err = run(["--url", rudel.url, "--all", "--force", "--data-dir", str(root)])
    assert code == 1 and "gave up" in err and "503" in err


def test_connection_refused_is_retried_then_reported(
    env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUDEL_API_KEY", KEY)
    root = tmp_path / "data"
    record(root, env).close()
    code, _, err = run(["--url", "http://127.0.0.1:9", "--all", "--data-dir", str(root)])
    assert code == 1 and "cannot reach" in err and "4 attempts" in err


def test_plain_http_only_to_loopback(
    rudel: RudelStub, env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUDEL_API_KEY", KEY)
    root = tmp_path / "data"
    record(root, env).close()
    code, _out, err = run(["--url", "http://rudel.example.com", "--all", "--data-dir", str(root)])
    assert code == 2
    assert "Refusing to send sessions over plain http to rudel.example.com" in err
    assert rudel.requests == []


def test_check_url() -> None:
    assert check_url("https://rudel.example.com/") == "https://rudel.example.com"
    assert check_url("https://h.example/base/rpc") == "https://h.example/base"
    for ok_url in (
        "http://127.0.0.1:4010",
        "http://127.9.9.9",
        "http://[::1]:8080",
        "http://localhost",
    ):
        assert check_url(ok_url).startswith("http://")
    for bad in (
        "http://10.0.0.1",
        "http://example.com",
        "http://127.0.0.1.nip.io",
        "ftp://127.0.0.1",
        "https://u:p@h.example",
        "https://h.example/?x=1",
        "not a url",
    ):
        with pytest.raises(UploadError):
            check_url(bad)
    assert is_loopback("::1") and not is_loopback("::2")


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("git@github.com:acme/widgets.git", "github.com/acme/widgets"),
        ("ssh://git@github.com:22/acme/widgets.git", "github.com/acme/widgets"),
        ("https://github.com/acme/widgets", "github.com/acme/widgets"),
        (
            "https://user:tok3n@gitlab.example.com/grp/sub/repo.git",
            "gitlab.example.com/grp/sub/repo",
        ),
        ("https://GitHub.com/acme/widgets.git/", "github.com/acme/widgets"),
        ("", None),
    ],
)
def test_normalize_remote(remote: str, expected: str | None) -> None:
    assert normalize_remote(remote) == expected


def inject_raw_secret(root: Path) -> Path:
    """Append a line carrying a raw secret, as an older version or a hand edit could."""
    [path] = session_files(root)
    line = json.loads(path.read_text().splitlines()[1])
    line["message"]["content"] = f'password = "hunter2!x" and url https://u:{SECRET}@h/x\\n"'
    f = store.AppendOnlyFile(path)
    f.append(store.dumps(line))
    f.close()
    return path


def test_dry_run_sends_nothing(rudel: RudelStub, env: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    record(root, env).close()
    inject_raw_secret(root)
    # no key at all: a dry run still shows what would be sent
    code, out, err = run(["--url", rudel.url, "--all", "--dry-run", "--data-dir", str(root)])
    assert code == 0, err
    assert rudel.requests == []
    assert "nothing is sent" in out
    assert "no API key found: set RUDEL_API_KEY or run `rudel login`" in out
    assert f"{rudel.url}/rpc/ingestSession" in out
    assert '"sessionId"' in out and '"gitRemote": "github.com/acme/widgets"' in out
    assert "bytes" in out and "redacted before sending: github-token: 1" in out
    assert not (root / "upload-state.json").exists()
    code, out, _ = run(
        ["--url", rudel.url, "--all", "--dry-run", "--show-content", "--data-dir", str(root)]
    )
    assert '"type":"assistant"' in out and SECRET not in out
    assert rudel.requests == []


def test_usage_errors(env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "data"
    assert run(["--url", "https://r.example", "--data-dir", str(root)])[0] == 2  # no sessions
    code, _, err = run(["--url", "https://r.example", "--all", "--data-dir", str(root)])
    assert code == 2 and "RUDEL_API_KEY" in err  # no key
    monkeypatch.setenv("RUDEL_API_KEY", KEY)
    code, _, err = run(["--all", "--data-dir", str(root)])
    assert code == 2 and "--url" in err  # no server
    code, _, err = run(["--url", "https://r.example", "nosuchsession", "--data-dir", str(root)])
    assert code == 2 and "No recorded session" in err
