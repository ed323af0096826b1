"""What `fuse-ls upload` must do exactly as Rudel's own CLI does, so a team sees one Rudel.

- **Credentials**: `credentials.json` in Rudel's config folder (`RUDEL_CONFIG_DIR`, else
  `~/.rudel`), written by `rudel login`. The key travels as `Authorization: Bearer` unless
  the file says `"authType": "api-key"` (then `x-api-key`), as in Rudel's CLI.
  `RUDEL_API_KEY` (ours, for CI) is an ingest API key and so always goes in `x-api-key`,
  the only header Rudel reads API keys from.
- **Organization**: `--org`, else the organization `rudel set-org` mapped the project to in
  `projects.json` (same folder). The project key is the `origin` remote normalised the way
  Rudel's CLI normalises it, else the repository's top folder, else the folder itself.
  Without one Rudel puts the session in the uploader's personal workspace.
- **Errors**: Rudel's RPC (oRPC) answers `{"json": {"code", "status", "message", "data"}}`;
  `explain` turns the code (not only the HTTP status) into the real cause and what to do.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Final, Literal

from attrs import frozen

from fuse_ls.core.errors import UploadError
from fuse_ls.telemetry.gitinfo import git

# Error codes Rudel's ingestSession declares (packages/api-routes in Rudel's repository).
OWNERSHIP_CONFLICT: Final = "SESSION_OWNERSHIP_CONFLICT"
SHRINK_REJECTED: Final = "SESSION_UPLOAD_SHRINK_REJECTED"
BUDGET_EXCEEDED: Final = "REDACTION_BUDGET_EXCEEDED"
NOT_CONVERGED: Final = "REDACTION_DID_NOT_CONVERGE"
JSON_INTEGRITY: Final = "SECRET_FILTER_JSON_INTEGRITY"


@frozen
class Credentials:
    key: str
    header: Literal["x-api-key", "authorization"]
    origin: str  # where the key came from, for messages (never the key itself)
    api_base: str | None = None

    def headers(self) -> dict[str, str]:
        if self.header == "authorization":
            return {"authorization": f"Bearer {self.key}"}
        return {"x-api-key": self.key}

    def __repr__(self) -> str:  # keep the key out of tracebacks and debug prints
        return f"Credentials(header={self.header!r}, origin={self.origin!r})"


def config_dir() -> Path:
    override = os.environ.get("RUDEL_CONFIG_DIR")
    return Path(override) if override else Path.home() / ".rudel"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise UploadError(f"Cannot read {path}: {type(e).__name__}.") from None


def load_credentials() -> Credentials | None:
    key = os.environ.get("RUDEL_API_KEY", "").strip()
    if key:
        return Credentials(key, "x-api-key", "RUDEL_API_KEY")
    path = config_dir() / "credentials.json"
    data = _read_json(path)
    if data is None:
        return None
    token = data.get("token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token.strip():
        raise UploadError(f"{path} has no token. Run `rudel login` or set RUDEL_API_KEY.")
    header: Literal["x-api-key", "authorization"] = (
        "x-api-key" if data.get("authType") == "api-key" else "authorization"
    )
    base = data.get("apiBaseUrl")
    return Credentials(token.strip(), header, str(path), base if isinstance(base, str) else None)


# --- organization -----------------------------------------------------------------------

_USERINFO: Final = re.compile(r"^([a-z][a-z\d+.-]*://)[^/]+@", re.IGNORECASE)
_SCHEME: Final = re.compile(r"^(https?://|git@|ssh://)")


def remote_key(url: str) -> str:
    """A remote URL in the form Rudel's CLI keys `projects.json` (and sends as `gitRemote`):
    credentials and scheme dropped, the first `:` made a `/`, `.git` removed;
    `git@github.com:acme/app.git` -> `github.com/acme/app`."""
    text = _SCHEME.sub("", _USERINFO.sub(r"\1", url), count=1)
    text = text.replace(":", "/", 1)
    return text[: -len(".git")] if text.endswith(".git") else text


def project_key(cwd: str) -> str:
    remote = git(cwd, "remote", "get-url", "origin")
    if remote:
        return remote_key(remote)
    return git(cwd, "rev-parse", "--show-toplevel") or cwd


def organization_for(cwd: str, override: str | None) -> tuple[str | None, str]:
    """(organization id or None, where it came from) for sessions of the folder `cwd`."""
    if override:
        return override, "--org"
    if not cwd:
        return None, ""
    path = config_dir() / "projects.json"
    data = _read_json(path)
    projects = data.get("projects") if isinstance(data, dict) else None
    if not isinstance(projects, dict):
        return None, ""
    entry = projects.get(project_key(cwd))
    org = entry.get("organizationId") if isinstance(entry, dict) else None
    if isinstance(org, str) and org:
        return org, f"{path} (rudel set-org)"
    return None, ""


# --- errors -----------------------------------------------------------------------------


@frozen
class RpcError:
    status: int
    code: str
    message: str
    data: dict[str, Any]


def parse_error(status: int, body: bytes) -> RpcError:
    """Rudel's oRPC error body, or whatever a proxy said instead (code `""`)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return RpcError(status, "", body.decode("utf-8", "replace")[:300], {})
    inner = payload.get("json", payload) if isinstance(payload, dict) else None
    if not isinstance(inner, dict):
        return RpcError(status, "", json.dumps(payload)[:300], {})
    data = inner.get("data")
    message = inner.get("message") or inner.get("error") or ""
    return RpcError(
        status,
        str(inner.get("code") or ""),
        str(message),
        data if isinstance(data, dict) else {},
    )


Kind = Literal["session", "stop", "retry"]


@frozen
class Explained:
    message: str
    kind: Kind  # session: this session failed; stop: the rest will fail too; retry: transient
    wait_s: float | None = None


def explain(err: RpcError, sid: str, org: str | None, detail: str) -> Explained:
    """The cause and the remedy of a refused upload, from Rudel's error code first.

    `detail` is the server's message, already cleaned of our key and of secrets.
    """
    code, status, data = err.code, err.status, err.data
    said = f" (HTTP {status}{': ' + detail if detail else ''})"
    if code == OWNERSHIP_CONFLICT:
        return Explained(
            f"Session {sid} is already stored in this organization under another member's "
            f"account{said}. --force will not help: only the member who uploaded it first "
            "can replace it. Upload it from that account, or to another organization (--org).",
            "session",
        )
    if code == SHRINK_REJECTED:
        before, now = data.get("previousContentBytes"), data.get("currentContentBytes")
        sizes = f" ({now} bytes now, {before} stored)" if before is not None else ""
        return Explained(
            f"Rudel holds a larger copy of session {sid}{sizes} and refused the smaller "
            f"upload{said}. If replacing it is intended, run `fuse-ls upload --force {sid}`.",
            "session",
        )
    if code == BUDGET_EXCEEDED:
        rules = ", ".join(str(r) for r in data.get("ruleIds") or []) or "unknown rules"
        share = ""
        if isinstance(data.get("inputBytes"), int) and data["inputBytes"] > 0:
            share = f" {100 * int(data.get('redactedBytes') or 0) / data['inputBytes']:.1f}% ("
            share += f"{data.get('redactedBytes')} of {data['inputBytes']} bytes),"
        return Explained(
            f"Rudel's secret filter would remove{share} over its 20% budget from session "
            f"{sid} ({rules}){said}. Nothing was stored. See what it matches with "
            f"`fuse-ls upload --dry-run --show-content {sid}`; sessions recorded with "
            "telemetry.record_content = true carry the most text.",
            "session",
        )
    if code == NOT_CONVERGED:
        return Explained(
            f"Rudel's secret filter did not settle on session {sid} within "
            f"{data.get('maxPasses', 'its')} passes{said}; nothing was stored. The session "
            "holds text that keeps matching after redaction: check it with `fuse-ls upload "
            f"--dry-run --show-content {sid}`.",
            "session",
        )
    if code == JSON_INTEGRITY:
        return Explained(
            f"Rudel's secret filter could not keep session {sid} valid JSON{said}; nothing "
            "was stored. Please report this with `fuse-ls upload --dry-run` output.",
            "session",
        )
    lower = err.message.lower()
    if status == 400 and "choose an organization" in lower:
        return Explained(
            f"Rudel needs to know the organization for session {sid}: you belong to several"
            f"{said}. Run `rudel set-org` in the workspace, or pass --org ID.",
            "session",
        )
    if status == 400 and "no organization" in lower:
        return Explained(
            f"Your Rudel account has no organization to store session {sid} in{said}. "
            "Create or join one in Rudel first.",
            "stop",
        )
    if status == 403 and "member" in lower:
        return Explained(
            f"Your Rudel account is not a member of organization {org}{said}. Check the id "
            "(`rudel set-org` lists yours) or ask the organization's admin for an invite.",
            "session",
        )
    if status == 400 and "validation" in lower:
        issues = data.get("issues")
        shown = "; ".join(_issue_text(i) for i in issues[:5]) if isinstance(issues, list) else ""
        return Explained(
            f"Rudel refused the upload's fields for session {sid}{said}"
            f"{': ' + shown if shown else ''}. This is a fuse-ls bug: please report it with "
            f"`fuse-ls upload --dry-run {sid}`.",
            "session",
        )
    if status == 400:
        return Explained(
            f"Rudel rejected session {sid} as invalid{said}. It needs at least one "
            "user/assistant line with an ISO timestamp; the file may be empty or damaged.",
            "session",
        )
    if status in (401, 403):
        return Explained(
            f"Rudel refused the credentials{said}. Run `rudel login` again, or check "
            "RUDEL_API_KEY.",
            "stop",
        )
    if status == 413:
        return Explained(
            f"Session {sid} is larger than Rudel accepts in one request{said}.", "session"
        )
    if status == 429:
        window = data.get("windowSeconds")
        limit = data.get("limit")
        per = f" ({limit} per {round(window / 60)} min)" if limit and window else ""
        return Explained(
            f"Rudel's upload rate limit is reached{per}{said}. Wait, then run the same "
            "command again: sessions already sent are skipped.",
            "stop",
        )
    if status in (408, 425, 500, 502, 503, 504):
        wait_ms = data.get("retryAfterMs")
        wait = wait_ms / 1000 if isinstance(wait_ms, int | float) and wait_ms >= 0 else None
        return Explained(f"HTTP {status}{': ' + detail if detail else ''}", "retry", wait)
    return Explained(f"Rudel answered {status} for session {sid}{said}.", "session")


def _issue_text(issue: Any) -> str:
    """One validation issue (`{"path": [...], "message": ...}` from oRPC) as text."""
    if isinstance(issue, dict):
        path = ".".join(str(p) for p in issue.get("path") or [])
        return f"{path}: {issue.get('message', '')}" if path else str(issue.get("message", ""))
    return str(issue)[:100]
