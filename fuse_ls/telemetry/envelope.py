"""The envelope `fuse-ls upload` sends for one session file (Rudel's ingestSession input).

The file's complete lines (a torn last line is dropped) are redacted once more, string by
string, so the content stays valid JSONL whatever a secret looked like; the git facts,
the project path and the organization (as Rudel's CLI decides it) go alongside.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from attrs import define

from fuse_ls.core.redact import redact
from fuse_ls.telemetry import store
from fuse_ls.telemetry.gitinfo import git
from fuse_ls.telemetry.rudel import organization_for

MAX_ID_CHARS: Final = 200


@define
class Prepared:
    path: Path
    session_id: str
    envelope: dict[str, Any]
    size: int  # bytes of complete lines on disk (what "grew" compares)
    lines: int
    redactions: dict[str, int]


_SCP_LIKE: Final = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>[^/].*)$")


def normalize_remote(remote: str) -> str | None:
    """`git@github.com:o/r.git`, `ssh://git@github.com:22/o/r`, `https://u:t@github.com/o/r`
    -> `github.com/o/r` (never any credentials)."""
    remote = remote.strip()
    if not remote:
        return None
    if "://" in remote:
        parts = urlsplit(remote)
        host = (parts.hostname or "").lower()
        path = parts.path
    else:
        m = _SCP_LIKE.match(remote)
        if m is None:
            return None
        host, path = m.group("host").lower(), m.group("path")
    path = path.strip("/")
    if path.endswith(".git"):
        path = path[:-4]
    if not host or not path:
        return None
    return f"{host}/{path}"


# --- preparing the envelope -------------------------------------------------------------


def redact_jsonl(text: str) -> tuple[str, dict[str, int]]:
    """Redact every string inside every JSON line and re-serialise compactly.

    Working on decoded strings (not the raw text) keeps escaped quotes and `\\n` intact,
    so redaction can never turn a line into invalid JSON.
    """
    counts: dict[str, int] = {}

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            if len(value) < 8:
                return value
            result = redact(value)
            for rule, n in result.counts.items():
                counts[rule] = counts.get(rule, 0) + n
            return result.text
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        return value

    out: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        out.append(store.dumps(walk(obj)))
    return ("\n".join(out) + "\n" if out else ""), counts


def prepare(path: Path, version: str, org: str | None = None) -> Prepared | None:
    """The envelope for one session file; `org` is `--org` (else `projects.json` decides)."""
    raw = store.complete_bytes(path)
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if '"type":"user"' not in text and '"type":"assistant"' not in text:
        return None  # only system lines: Rudel would answer 400, there is nothing to analyse
    lines = text.count("\n")
    content, counts = redact_jsonl(text)
    first: dict[str, Any] = {}
    last: dict[str, Any] = {}
    for line in (text.splitlines()[0], text.splitlines()[-1]):
        with contextlib.suppress(ValueError):
            obj = json.loads(line)
            if isinstance(obj, dict):
                if not first:
                    first = obj
                last = obj
    cwd = str(first.get("cwd") or last.get("cwd") or "")
    branch = last.get("gitBranch") or first.get("gitBranch") or None
    remote = normalize_remote(git(cwd, "remote", "get-url", "origin") or "") if cwd else None
    sha = git(cwd, "rev-parse", "HEAD") if cwd else None
    if branch is None and cwd:
        branch = git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
    project = cwd.replace("\\", "/") or path.parent.name
    if len(project) > MAX_ID_CHARS:
        project = project[-MAX_ID_CHARS:]  # the tail names the project; the head is home dirs
    session_id = path.stem[:MAX_ID_CHARS]
    envelope: dict[str, Any] = {
        "sessionId": session_id,
        "projectPath": project,
        "source": "claude_code",
        "upload_mode": "manual",
        "cli_version": version,
        "platform_os": store.platform_os(),
        "content": content,
    }
    # Rudel refuses the whole upload (400) when any of these is over 200 characters.
    for key, value in (("gitRemote", remote), ("gitBranch", branch), ("gitSha", sha)):
        if value:
            envelope[key] = str(value)[:MAX_ID_CHARS]
    organization, _origin = organization_for(cwd, org)
    if organization:
        envelope["organizationId"] = organization[:MAX_ID_CHARS]
    return Prepared(path, session_id, envelope, len(raw), lines, counts)
