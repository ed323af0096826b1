"""A loopback stand-in for Rudel's `ingestSession` that checks what Rudel's handler checks.

Modelled on Rudel's API (apps/api: request size limit, auth context, ingest middleware,
`ingestSession` handler; packages/api-routes: `IngestSessionInputSchema` and its declared
errors), in the order Rudel checks them:

1. route `POST /rpc/ingestSession` (oRPC RPC protocol, body `{"json": input}`);
2. body size (413, plain JSON `{"error"}` as Rudel's HTTP layer answers);
3. credentials: an API key only in `x-api-key`, a login session only as
   `Authorization: Bearer` (401 `UNAUTHORIZED` otherwise);
4. the input schema (400 `BAD_REQUEST` "Input validation failed" with issues);
5. the secret filter's 20% budget (422 `REDACTION_BUDGET_EXCEEDED` with its data);
6. a user/assistant line with a parseable timestamp (400 `BAD_REQUEST`);
7. the organization: a named one must have the user as a member (403 `FORBIDDEN`),
   else the personal workspace, else the only one, else 400 "Choose an organization";
8. session ownership in that organization (409 `SESSION_OWNERSHIP_CONFLICT`);
9. a smaller re-upload without `force_replace` (409 `SESSION_UPLOAD_SHRINK_REJECTED`).

Errors use oRPC's body: `{"json": {"defined", "code", "status", "message", "data"}, "meta": []}`.
`faults` are answered first, before any check (proxies, outages, rate limits).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from tests.loopback_http import LoopbackServer, QuietHandler

MAX_BODY = 8 * 1024 * 1024
ENUMS = {
    "source": {"claude_code", "codex"},
    "tag": {"research", "new_feature", "bug_fix", "refactoring", "documentation", "tests", "other"},
    "client_surface": {"cli", "hook"},
    "upload_mode": {"hook", "manual", "retry"},
    "platform_os": {"macos", "windows", "linux"},
}
MAX200 = (
    "sessionId",
    "projectPath",
    "gitRemote",
    "packageName",
    "packageType",
    "gitBranch",
    "gitSha",
    "organizationId",
    "cli_version",
)
# What the server's secret filter would still find if a client sent secrets unredacted
# (a few of the families Rudel's gitleaks-derived rules cover).
SERVER_SECRET_RULES = {
    "github-pat": re.compile(r"ghp_[0-9A-Za-z]{36}"),
    "npm-access-token": re.compile(r"npm_[0-9A-Za-z]{36}"),
    "sendgrid-api-token": re.compile(r"SG\.[0-9A-Za-z_-]{22}\.[0-9A-Za-z_-]{43}"),
    "twilio-api-key": re.compile(r"SK[0-9a-fA-F]{32}"),
}


class RudelStub(LoopbackServer):
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.faults: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self.api_keys: dict[str, str] = {}  # key -> user id
        self.sessions: dict[str, str] = {}  # bearer token -> user id
        self.memberships: dict[str, list[str]] = {}  # user id -> organization ids
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}  # (org, session) -> row
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                outer.requests.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                status, payload, headers = outer.handle(self.path, self.headers, raw, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler)

    # --- the handler --------------------------------------------------------------------

    @staticmethod
    def error(
        status: int, code: str, message: str, data: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        err = {"defined": True, "code": code, "status": status, "message": message}
        err["data"] = data or {}
        return status, {"json": err, "meta": []}, {}

    def handle(
        self, path: str, headers: Any, raw: bytes, body: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if self.faults:
            return self.faults.pop(0)
        if path != "/rpc/ingestSession":
            return self.error(404, "NOT_FOUND", "Not found")
        if len(raw) > MAX_BODY:
            return 413, {"error": "Request body too large."}, {}
        user = self.authenticate(headers)
        if user is None:
            return self.error(401, "UNAUTHORIZED", "Unauthorized")
        issues = validate_input(body)
        if issues:
            return self.error(400, "BAD_REQUEST", "Input validation failed", {"issues": issues})
        inp = body["json"]
        content: str = inp["content"]
        redacted = sum(
            len(m.group(0)) for rule in SERVER_SECRET_RULES.values() for m in rule.finditer(content)
        )
        total = len(content.encode())
        if total and redacted / total > 0.2:
            rules = sorted(r for r, rx in SERVER_SECRET_RULES.items() if rx.search(content))
            return self.error(
                422,
                "REDACTION_BUDGET_EXCEEDED",
                "Known-pattern redaction exceeded the transcript safety budget.",
                {"inputBytes": total, "redactedBytes": redacted, "ruleIds": rules},
            )
        if not has_timestamp(content):
            return self.error(
                400, "BAD_REQUEST", "Transcript has no timestamped user or assistant messages."
            )
        orgs = self.memberships.get(user, [user])
        org = inp.get("organizationId")
        if org is not None and org not in orgs:
            return self.error(403, "FORBIDDEN", "Not a member of the specified organization")
        if org is None:
            if user in orgs:
                org = user
            elif len(orgs) == 1:
                org = orgs[0]
            elif not orgs:
                return self.error(
                    400, "BAD_REQUEST", "No organization is available for this upload"
                )
            else:
                return self.error(
                    400, "BAD_REQUEST", "Choose an organization with --org or rudel set-org"
                )
        key = (org, inp["sessionId"])
        shape = {
            "user": user,
            "bytes": total,
            "assistant": sum(1 for ln in content.splitlines() if '"type":"assistant"' in ln),
        }
        before = self.stored.get(key)
        if before is not None and before["user"] != user:
            return self.error(
                409,
                "SESSION_OWNERSHIP_CONFLICT",
                "This session belongs to another organization member and cannot be replaced.",
            )
        if (
            before is not None
            and not inp.get("force_replace")
            and (shape["bytes"] < before["bytes"] or shape["assistant"] < before["assistant"])
        ):
            return self.error(
                409,
                "SESSION_UPLOAD_SHRINK_REJECTED",
                "This upload is smaller than the stored session and was refused.",
                {
                    "currentAssistantLineCount": shape["assistant"],
                    "currentContentBytes": shape["bytes"],
                    "previousAssistantLineCount": before["assistant"],
                    "previousContentBytes": before["bytes"],
                },
            )
        self.stored[key] = {**shape, "input": inp}
        reply = {"success": True, "sessionId": inp["sessionId"], "redacted": {}, "redactedBytes": 0}
        return 200, {"json": reply, "meta": []}, {}

    def authenticate(self, headers: Any) -> str | None:
        api_key = headers.get("x-api-key")
        if api_key is not None:
            return self.api_keys.get(api_key)
        auth = headers.get("authorization") or ""
        if auth.startswith("Bearer "):
            return self.sessions.get(auth[len("Bearer ") :])
        return None


def validate_input(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("json"), dict):
        return ["body must be {json: input}"]
    inp = body["json"]
    issues = [f"{k} is required" for k in ("sessionId", "projectPath", "content") if k not in inp]
    for k in (*MAX200, "content"):
        if k in inp and not isinstance(inp[k], str):
            issues.append(f"{k} must be a string")
        elif k in MAX200 and k in inp and len(inp[k]) > 200:
            issues.append(f"{k} longer than 200")
    for k, allowed in ENUMS.items():
        if k in inp and inp[k] not in allowed:
            issues.append(f"{k} must be one of {sorted(allowed)}")
    if "force_replace" in inp and not isinstance(inp["force_replace"], bool):
        issues.append("force_replace must be a boolean")
    return issues


def has_timestamp(content: str) -> bool:
    for line in content.split("\n"):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("type") in ("user", "assistant"):
            ts = obj.get("timestamp")
            if isinstance(ts, str):
                try:
                    datetime.fromisoformat(ts.replace("Z", "+00:00"))
                except ValueError:
                    continue
                return True
    return False
