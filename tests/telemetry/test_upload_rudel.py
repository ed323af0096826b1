"""`fuse-ls upload` does what Rudel's CLI does (credentials, organization) and names the real
cause of each refusal, against the loopback stand-in that checks what Rudel's handler checks."""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rudel_stub import RudelStub
from telemetry_events import CODE, Clock, ok, run_fusion, session_files

from fuse_ls.config import TelemetrySettings
from fuse_ls.core.redact import redact
from fuse_ls.retry_after import retry_after_seconds
from fuse_ls.telemetry.recorder import SessionRecorder
from fuse_ls.telemetry.rudel import remote_key
from fuse_ls.telemetry.upload import upload_main

USER = "user-1"
# Built at runtime: no committed file holds anything shaped like a live credential.
KEY = "rudel_" + "k3y" * 12


def _tok(prefix: str, alphabet: str, n: int) -> str:
    return prefix + "".join(alphabet[(i * 7 + 3) % len(alphabet)] for i in range(n))


ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
NPM = _tok("npm" + "_", ALNUM, 36)
SENDGRID = _tok("SG" + ".", ALNUM, 22) + _tok(".", ALNUM + "-_", 43)
TWILIO = _tok("S" + "K", "0123456789abcdef", 32)


@pytest.fixture
def rudel() -> Iterator[RudelStub]:
    with RudelStub() as server:
        server.api_keys[KEY] = USER
        server.sessions[KEY] = USER
        yield server


def _git(ws: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ws), "-c", "user.email=t@e.st", "-c", "user.name=t", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def make_ws(tmp_path: Path, remote: str | None = "git@github.com:acme/widgets.git") -> Path:
    ws = tmp_path / "ws"
    ws.mkdir(parents=True)
    _git(ws, "init", "-q", "-b", "main")
    if remote:
        _git(ws, "remote", "add", "origin", remote)
    (ws / "a.py").write_text(CODE)
    _git(ws, "add", "a.py")
    _git(ws, "commit", "-q", "-m", "init")
    return ws


def record(root: Path, ws: Path, text: str = "Looks fine.", fusions: int = 1) -> Path:
    rec = SessionRecorder(
        TelemetrySettings(data_dir=str(root), record_content=True),
        ws,
        source="server",
        version="0.1.0",
        clock=Clock(),
    )
    for i in range(fusions):
        run_fusion(
            rec, None, f"f{i}", path=str(ws / "a.py"), results=(ok("openai/gpt-5", 0, text=text),)
        )
    rec.close()
    return sorted(session_files(root), key=lambda p: p.stat().st_mtime)[-1]


def credentials(home: Path, rudel: RudelStub, **extra: Any) -> None:
    folder = home / ".rudel"
    folder.mkdir(exist_ok=True)
    (folder / "credentials.json").write_text(
        json.dumps({"token": KEY, "apiBaseUrl": rudel.url, **extra})
    )


def set_org(home: Path, key: str, org: str) -> None:
    """What `rudel set-org` writes."""
    folder = home / ".rudel"
    folder.mkdir(exist_ok=True)
    (folder / "projects.json").write_text(
        json.dumps({"projects": {key: {"organizationId": org}}}, indent=2)
    )


def run(root: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = upload_main(
        [*argv, "--data-dir", str(root)], version="9.9.9", backoff_s=0.01, out=out, err=err
    )
    return code, out.getvalue(), err.getvalue()


# --- credentials ------------------------------------------------------------------------


def test_credentials_default_to_bearer_like_rudels_cli(
    rudel: RudelStub, home: Path, tmp_path: Path
) -> None:
    credentials(home, rudel)  # no authType: what `rudel login` writes for a login session
    del rudel.api_keys[KEY]  # the stub accepts it only as a Bearer session
    record(tmp_path / "data", make_ws(tmp_path))
    code, out, err = run(tmp_path / "data", "--all")
    assert code == 0, err
    [req] = rudel.requests
    assert req["headers"]["authorization"] == f"Bearer {KEY}"
    assert "x-api-key" not in req["headers"]
    assert KEY not in out + err


def test_api_key_credentials_use_x_api_key(rudel: RudelStub, home: Path, tmp_path: Path) -> None:
    credentials(home, rudel, authType="api-key")
    del rudel.sessions[KEY]  # only valid as an ingest API key
    record(tmp_path / "data", make_ws(tmp_path))
    code, _out, err = run(tmp_path / "data", "--all")
    assert code == 0, err
    assert rudel.requests[0]["headers"]["x-api-key"] == KEY
    assert "authorization" not in rudel.requests[0]["headers"]


def test_config_dir_moves_with_rudel_config_dir(
    rudel: RudelStub, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "cfg"
    elsewhere.mkdir()
    (elsewhere / "credentials.json").write_text(json.dumps({"token": KEY, "apiBaseUrl": rudel.url}))
    (elsewhere / "projects.json").write_text(
        json.dumps({"projects": {"github.com/acme/widgets": {"organizationId": "org-team"}}})
    )
    monkeypatch.setenv("RUDEL_CONFIG_DIR", str(elsewhere))
    rudel.memberships[USER] = [USER, "org-team"]
    record(tmp_path / "data", make_ws(tmp_path))
    code, out, err = run(tmp_path / "data", "--all")
    assert code == 0, err
    assert rudel.requests[0]["body"]["json"]["organizationId"] == "org-team"
    assert "to organization org-team" in out


# --- organization -----------------------------------------------------------------------


def test_mapped_project_lands_in_the_team_organization(
    rudel: RudelStub, home: Path, tmp_path: Path
) -> None:
    credentials(home, rudel)
    set_org(home, "github.com/acme/widgets", "org-team")
    rudel.memberships[USER] = [USER, "org-team"]
    path = record(tmp_path / "data", make_ws(tmp_path))
    code, _out, err = run(tmp_path / "data", "--all")
    assert code == 0, err
    assert ("org-team", path.stem) in rudel.stored
    assert (USER, path.stem) not in rudel.stored  # not the personal workspace


def test_org_flag_wins_over_the_mapping(rudel: RudelStub, home: Path, tmp_path: Path) -> None:
    credentials(home, rudel)
    set_org(home, "github.com/acme/widgets", "org-team")
    rudel.memberships[USER] = [USER, "org-team", "org-other"]
    path = record(tmp_path / "data", make_ws(tmp_path))
    assert run(tmp_path / "data", "--all", "--org", "org-other")[0] == 0
    assert ("org-other", path.stem) in rudel.stored


def test_project_without_remote_is_keyed_by_its_top_folder(
    rudel: RudelStub, home: Path, tmp_path: Path
) -> None:
    credentials(home, rudel)
    ws = make_ws(tmp_path, remote=None)
    set_org(home, _git(ws, "rev-parse", "--show-toplevel"), "org-team")
    rudel.memberships[USER] = [USER, "org-team"]
    record(tmp_path / "data", ws)
    assert run(tmp_path / "data", "--all")[0] == 0
    assert rudel.requests[0]["body"]["json"]["organizationId"] == "org-team"


def test_unmapped_project_goes_to_the_personal_workspace(
    rudel: RudelStub, home: Path, tmp_path: Path
) -> None:
    credentials(home, rudel)
    set_org(home, "github.com/acme/other", "org-team")
    record(tmp_path / "data", make_ws(tmp_path))
    code, out, _ = run(tmp_path / "data", "--all")
    assert code == 0
    assert "organizationId" not in rudel.requests[0]["body"]["json"]
    assert "personal workspace" in out


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("git@github.com:acme/widgets.git", "github.com/acme/widgets"),
        ("https://github.com/acme/widgets.git", "github.com/acme/widgets"),
        ("https://user:tok@gitlab.example.com/grp/repo.git", "gitlab.example.com/grp/repo"),
        ("ssh://git@host.example:2222/team/repo.git", "host.example/2222/team/repo"),
    ],
)
def test_remote_key_matches_rudels_cli(url: str, key: str) -> None:
    assert remote_key(url) == key


# --- the real cause of each refusal -------------------------------------------------------


def test_several_organizations_and_no_choice(rudel: RudelStub, home: Path, tmp_path: Path) -> None:
    credentials(home, rudel)
    rudel.memberships[USER] = ["org-a", "org-b"]  # no personal workspace
    record(tmp_path / "data", make_ws(tmp_path))
    code, _, err = run(tmp_path / "data", "--all")
    assert code == 1
    assert "rudel set-org" in err and "--org" in err and "invalid" not in err


def test_not_a_member_is_not_a_bad_key(rudel: RudelStub, home: Path, tmp_path: Path) -> None:
    credentials(home, rudel)
    record(tmp_path / "data", make_ws(tmp_path))
    record(tmp_path / "data", make_ws(tmp_path / "second"))
    code, _, err = run(tmp_path / "data", "--all", "--org", "org-x")
    assert code == 1
    assert "not a member of organization org-x" in err and "credentials" not in err
    assert len(rudel.requests) == 2  # the next session is still tried


def test_session_owned_by_another_member(rudel: RudelStub, home: Path, tmp_path: Path) -> None:
    credentials(home, rudel)
    path = record(tmp_path / "data", make_ws(tmp_path))
    rudel.stored[(USER, path.stem)] = {"user": "someone-else", "bytes": 1, "assistant": 1}
    code, _, err = run(tmp_path / "data", "--all")
    assert code == 1
    assert "another member" in err and "--force will not help" in err


def test_smaller_reupload_names_force(rudel: RudelStub, home: Path, tmp_path: Path) -> None:
    credentials(home, rudel)
    path = record(tmp_path / "data", make_ws(tmp_path), fusions=3)
    assert run(tmp_path / "data", "--all")[0] == 0
    # The file lost lines (restored from a backup) and our state was reset.
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: len(lines) // 2]))
    (tmp_path / "data" / "upload-state.json").unlink()
    code, _, err = run(tmp_path / "data", "--all")
    assert code == 1 and f"fuse-ls upload --force {path.stem}" in err
    assert "bytes now" in err
    assert run(tmp_path / "data", "--all", "--force")[0] == 0


def test_redaction_budget_names_the_rules(rudel: RudelStub, home: Path, tmp_path: Path) -> None:
    credentials(home, rudel)
    record(tmp_path / "data", make_ws(tmp_path))
    body = {
        "json": {
            "defined": True,
            "code": "REDACTION_BUDGET_EXCEEDED",
            "status": 422,
            "message": "Known-pattern redaction exceeded the transcript safety budget.",
            "data": {"inputBytes": 1000, "redactedBytes": 400, "ruleIds": ["generic-api-key"]},
        },
        "meta": [],
    }
    rudel.faults = [(422, body, {})]
    code, _, err = run(tmp_path / "data", "--all")
    assert code == 1 and "40.0%" in err and "generic-api-key" in err and "--dry-run" in err


def test_filter_that_does_not_settle(rudel: RudelStub, home: Path, tmp_path: Path) -> None:
    credentials(home, rudel)
    record(tmp_path / "data", make_ws(tmp_path))
    body = {"json": {"code": "REDACTION_DID_NOT_CONVERGE", "status": 422, "message": "x",
                     "data": {"maxPasses": 8}}, "meta": []}  # fmt: skip
    rudel.faults = [(422, body, {})]
    code, _, err = run(tmp_path / "data", "--all")
    assert code == 1 and "did not settle" in err and "8 passes" in err


def test_bad_credentials_stop_the_run(rudel: RudelStub, home: Path, tmp_path: Path) -> None:
    credentials(home, rudel)
    rudel.sessions.clear()
    record(tmp_path / "data", make_ws(tmp_path))
    record(tmp_path / "data", make_ws(tmp_path / "second"))
    code, out, err = run(tmp_path / "data", "--all")
    assert code == 1 and "refused the credentials" in err and "rudel login" in err
    assert len(rudel.requests) == 1 and KEY not in out + err


def test_rate_limit_stops_without_hammering(rudel: RudelStub, home: Path, tmp_path: Path) -> None:
    credentials(home, rudel)
    record(tmp_path / "data", make_ws(tmp_path))
    body = {"json": {"code": "TOO_MANY_REQUESTS", "status": 429, "message": "slow down",
                     "data": {"limit": 100, "windowSeconds": 3600}}}  # fmt: skip
    rudel.faults = [(429, body, {})] * 5
    code, _, err = run(tmp_path / "data", "--all")
    assert code == 1 and "100 per 60 min" in err
    assert len(rudel.requests) == 1


def test_service_unavailable_waits_as_told_then_succeeds(
    rudel: RudelStub, home: Path, tmp_path: Path
) -> None:
    credentials(home, rudel)
    record(tmp_path / "data", make_ws(tmp_path))
    body = {"json": {"code": "SERVICE_UNAVAILABLE", "status": 503, "message": "queue full",
                     "data": {"retryAfterMs": 10}}}  # fmt: skip
    rudel.faults = [(503, body, {}), (503, {}, {"retry-after": "0"})]
    code, _, err = run(tmp_path / "data", "--all")
    assert code == 0, err
    assert len(rudel.requests) == 3


def test_a_proxy_page_is_not_a_success(rudel: RudelStub, home: Path, tmp_path: Path) -> None:
    credentials(home, rudel)
    record(tmp_path / "data", make_ws(tmp_path))
    rudel.faults = [(200, {"html": "<login>"}, {})]
    code, _, err = run(tmp_path / "data", "--all")
    assert code == 1 and "without Rudel's ingest confirmation" in err
    assert not (tmp_path / "data" / "upload-state.json").exists()


# --- what is sent -------------------------------------------------------------------------


def test_request_shape_is_what_rudels_handler_accepts(
    rudel: RudelStub, home: Path, tmp_path: Path
) -> None:
    credentials(home, rudel)
    set_org(home, "github.com/acme/widgets", "org-team")
    rudel.memberships[USER] = [USER, "org-team"]
    ws = make_ws(tmp_path)
    path = record(tmp_path / "data", ws)
    assert run(tmp_path / "data", "--all")[0] == 0
    [req] = rudel.requests
    assert req["path"] == "/rpc/ingestSession"
    assert req["headers"]["content-type"] == "application/json"
    assert list(req["body"]) == ["json"]
    env = req["body"]["json"]
    assert env["sessionId"] == path.stem and env["projectPath"] == str(ws)
    assert env["organizationId"] == "org-team"
    assert env["gitBranch"] == "main"  # recorded with the session, not guessed at upload
    assert env["source"] == "claude_code" and env["upload_mode"] == "manual"


def test_tokens_of_npm_sendgrid_and_twilio_never_leave(
    rudel: RudelStub, home: Path, tmp_path: Path
) -> None:
    """Text that is mostly such tokens would also push Rudel's filter over its budget."""
    credentials(home, rudel)
    text = " ".join([NPM, SENDGRID, TWILIO] * 20)
    path = record(tmp_path / "data", make_ws(tmp_path), text=text)
    # Written raw into the file, as an older fuse-ls (or a hand edit) could have.
    line = json.loads(path.read_text().splitlines()[1])
    line["message"]["content"] = text
    with path.open("a") as f:
        f.write(json.dumps(line, separators=(",", ":")) + "\n")
    code, _, err = run(tmp_path / "data", "--all")
    assert code == 0, err
    content = rudel.requests[0]["body"]["json"]["content"]
    for token in (NPM, SENDGRID, TWILIO):
        assert token not in content


@pytest.mark.parametrize("token", [NPM, SENDGRID, TWILIO], ids=["npm", "sendgrid", "twilio"])
def test_redactor_knows_the_token(token: str) -> None:
    out = redact(f"the model quoted {token} in its answer\nnext line\n")
    assert token not in out.text and out.text.count("\n") == 2


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = 1_750_000_000.0  # 2025-06-15T15:06:40Z
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Sun, 15 Jun 2025 15:07:40 GMT", now=now) == 60.0
    assert retry_after_seconds("Sun, 15 Jun 2025 15:00:00 GMT", now=now) == 0.0  # past
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_long_branch_names_do_not_fail_the_upload(
    rudel: RudelStub, home: Path, tmp_path: Path
) -> None:
    credentials(home, rudel)
    ws = make_ws(tmp_path)
    long_branch = "feature/" + "x" * 230
    _git(ws, "checkout", "-q", "-b", long_branch)
    record(tmp_path / "data", ws)
    code, _, err = run(tmp_path / "data", "--all")
    assert code == 0, err  # Rudel answers 400 for any field over 200 characters
    assert rudel.requests[0]["body"]["json"]["gitBranch"] == long_branch[:200]


def test_input_validation_names_the_fields(rudel: RudelStub, home: Path, tmp_path: Path) -> None:
    credentials(home, rudel)
    record(tmp_path / "data", make_ws(tmp_path))
    issue = {"path": ["gitBranch"], "message": "String must contain at most 200"}
    body = {"json": {"code": "BAD_REQUEST", "status": 400, "message": "Input validation failed",
                     "data": {"issues": [issue]}}}  # fmt: skip
    rudel.faults = [(400, body, {})]
    code, _, err = run(tmp_path / "data", "--all")
    assert code == 1 and "gitBranch: String must contain at most 200" in err
    assert "timestamp" not in err
