"""`fuse-ls upload`: send recorded sessions to a (self-hosted) Rudel server.

Nothing leaves the machine unless the user runs this command. Then, for each session:

- its envelope is prepared (`envelope.py`: complete lines, redacted once more, git facts);
- the envelope from Rudel's `ingestSession` RPC is POSTed to `{url}/rpc/ingestSession`
  over HTTPS (plain HTTP only to a loopback address), with the organization the project
  is mapped to (see `rudel.py`: credentials, organization and error codes as Rudel's CLI);
- what was sent is remembered (`upload-state.json` in the data dir, per server URL) so a
  later run re-uploads only sessions that grew.

The key is never printed or logged; a server message echoing it is masked.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Final, TextIO
from urllib.parse import urlsplit

import httpx
import stamina
from attrs import frozen

from fuse_ls.config import TelemetrySettings
from fuse_ls.core import hosts
from fuse_ls.core.ci_log import ci_safe_json
from fuse_ls.core.counts import counted
from fuse_ls.core.errors import UploadError
from fuse_ls.core.proxies import environment_proxies, proxy_for, unusable
from fuse_ls.core.redact import redact
from fuse_ls.retry_after import retry_after_seconds
from fuse_ls.telemetry import store
from fuse_ls.telemetry.envelope import Prepared, normalize_remote, prepare, redact_jsonl
from fuse_ls.telemetry.rudel import (
    Credentials,
    config_dir,
    explain,
    load_credentials,
    parse_error,
)

__all__ = [
    "Credentials",
    "Prepared",
    "UploadError",
    "check_url",
    "load_credentials",
    "normalize_remote",
    "prepare",
    "redact_jsonl",
    "upload_main",
]

RPC_PATH: Final = "/rpc/ingestSession"
DEFAULT_ATTEMPTS: Final = 4
MAX_RETRY_AFTER_S: Final = 30.0  # a server asking for longer is better retried by the user


# --- URL, key, git ----------------------------------------------------------------------


def check_url(url: str) -> str:
    """Normalise the server base URL; refuse plain HTTP except to loopback."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UploadError(f"--url must be an https:// URL of a Rudel server, got {url!r}.")
    if parts.username or parts.password:
        raise UploadError("--url must not contain a user name or password; use RUDEL_API_KEY.")
    if parts.query or parts.fragment:
        raise UploadError("--url must not have a query string or fragment.")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UploadError(
            f"Refusing to send sessions over plain http to {parts.hostname}: the API key and "
            "the transcripts would travel unencrypted. Use https://, or http:// only to a "
            "loopback address (127.0.0.1, ::1, localhost) for a local Rudel."
        )
    path = parts.path.rstrip("/")
    if path.endswith("/rpc"):  # accept the RPC endpoint as well as the base
        path = path[: -len("/rpc")]
    netloc = parts.netloc
    return f"{parts.scheme}://{netloc}{path}"


is_loopback = hosts.is_loopback_host


def open_client(url: str) -> tuple[httpx.Client, str]:
    """The HTTP client for the server at `url` (checked), and how it is reached ("" or
    " through the proxy ... from HTTPS_PROXY") for error messages.

    The proxy is the one a model call to the same URL would take (`core.proxies`): a Rudel
    on this machine is reached directly even with a proxy variable set, where httpx's own
    reading of the variables would send it to a proxy that cannot reach this machine.
    """
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    proxy = proxy_for(parts.scheme, parts.hostname or "", port, environment_proxies())
    via = ""
    if proxy is not None:
        problem = unusable(proxy.url)
        if problem is not None:
            raise UploadError(f"{proxy.variable} ({proxy.shown}) {problem}")
        via = f" through the proxy {proxy.shown} from {proxy.variable}"
    try:
        # A transport of our own: httpx then reads no proxy variable itself (it still
        # reads SSL_CERT_FILE / SSL_CERT_DIR through the TLS context, like model calls).
        transport = httpx.HTTPTransport(
            verify=httpx.create_ssl_context(), proxy=None if proxy is None else proxy.url
        )
    except ImportError as exc:  # a socks proxy without socksio
        assert proxy is not None
        raise UploadError(f"{proxy.variable} ({proxy.shown}): {exc}") from None
    timeout = httpx.Timeout(60.0, connect=10.0)
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False), via


# --- state --------------------------------------------------------------------------------


def load_state(root: Path) -> dict[str, Any]:
    try:
        data = json.loads((root / store.UPLOAD_STATE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_state(root: Path, state: dict[str, Any]) -> None:
    store.ensure_dir(root)
    target = root / store.UPLOAD_STATE
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, store.FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(tmp, target)


# --- sending ------------------------------------------------------------------------------


@frozen
class Outcome:
    ok: bool
    message: str
    fatal: bool = False  # no point trying the other sessions (bad key, rate limit)
    response: dict[str, Any] | None = None


class _Transient(Exception):
    """A failure worth another attempt (connection, 408/425/5xx)."""

    def __init__(self, message: str, wait_s: float | None) -> None:
        super().__init__(message)
        self.message = message
        self.wait_s = wait_s


def _clean(text: str, key: str, limit: int | None = 300) -> str:
    # A server may echo the request back; whatever it says must not reveal our key.
    text = redact(" ".join(text.split()).replace(key, "[REDACTED:api-key]")).text
    return text[:limit]


def _post_once(
    client: httpx.Client,
    endpoint: str,
    body: bytes,
    headers: dict[str, str],
    item: Prepared,
    creds: Credentials,
    via: str,
) -> Outcome:
    sid = item.session_id
    try:
        resp = client.post(endpoint, content=body, headers=headers)
    except httpx.TransportError as e:
        raise _Transient(f"cannot reach {endpoint}{via}: {type(e).__name__}", None) from None
    if 200 <= resp.status_code < 300:
        try:
            data = resp.json()
        except ValueError:
            data = None
        inner = data.get("json", data) if isinstance(data, dict) else None
        if not isinstance(inner, dict) or inner.get("success") is not True:
            # A proxy or a login page can answer 200: that is not a stored session.
            return Outcome(
                False,
                f"{endpoint} answered {resp.status_code} without Rudel's ingest confirmation "
                f"for session {sid}; a proxy or a wrong URL answered instead of Rudel.",
            )
        return Outcome(True, f"uploaded {sid}", response=inner)
    err = parse_error(resp.status_code, resp.content)
    why = explain(err, sid, item.envelope.get("organizationId"), _clean(err.message, creds.key))
    if why.kind == "retry":
        wait = retry_after_seconds(resp.headers.get("retry-after"))
        raise _Transient(why.message, wait if wait is not None else why.wait_s)
    return Outcome(False, _clean(why.message, creds.key, None), fatal=why.kind == "stop")


def send(
    client: httpx.Client,
    url: str,
    creds: Credentials,
    item: Prepared,
    *,
    attempts: int,
    backoff_s: float,
    via: str = "",
) -> Outcome:
    """POST one envelope; transient failures are retried with exponential backoff
    (`backoff_s`, doubling), or after the server's `Retry-After` when it names one."""
    endpoint = url + RPC_PATH
    headers = {"content-type": "application/json", **creds.headers()}
    body = json.dumps({"json": item.envelope}, separators=(",", ":"), ensure_ascii=False)

    def backoff(exc: Exception) -> bool | float:
        if not isinstance(exc, _Transient):
            return False
        return True if exc.wait_s is None else min(exc.wait_s, MAX_RETRY_AFTER_S)

    try:
        for attempt in stamina.retry_context(
            on=backoff,
            attempts=attempts,
            timeout=None,
            wait_initial=backoff_s,
            wait_max=MAX_RETRY_AFTER_S,
            wait_jitter=backoff_s / 2,
        ):
            with attempt:
                return _post_once(client, endpoint, body.encode("utf-8"), headers, item, creds, via)
    except _Transient as e:
        return Outcome(
            False,
            _clean(
                f"gave up on session {item.session_id} after {attempts} attempts ({e.message}).",
                creds.key,
            ),
        )
    raise AssertionError("unreachable: stamina either returns or raises")


# --- CLI ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fuse-ls upload",
        description=(
            "Send recorded sessions to a Rudel server (https, or http to loopback only). "
            "Only sessions that grew since their last upload are sent again."
        ),
    )
    p.add_argument("sessions", nargs="*", metavar="SESSION", help="session ids or .jsonl paths")
    p.add_argument("--all", action="store_true", help="every recorded session")
    p.add_argument("--url", help="Rudel base URL (default: RUDEL_API_BASE, then credentials)")
    p.add_argument("--dry-run", action="store_true", help="show what would be sent; send nothing")
    p.add_argument(
        "--show-content", action="store_true", help="with --dry-run: print the content too"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="upload even unchanged sessions and replace larger copies (force_replace)",
    )
    p.add_argument(
        "--org",
        metavar="ID",
        help="Rudel organization id (default: the one `rudel set-org` mapped the project to)",
    )
    p.add_argument(
        "--data-dir", metavar="DIR", help="telemetry folder (default: platform data dir)"
    )
    return p


def _select(root: Path, args: argparse.Namespace) -> list[Path]:
    files = store.list_session_files(root)
    if args.all:
        return sorted(files)
    by_id = {p.stem: p for p in files}
    chosen: list[Path] = []
    for name in args.sessions:
        candidate = Path(name).expanduser()
        if candidate.suffix == ".jsonl" and candidate.is_file():
            chosen.append(candidate)
        elif name in by_id:
            chosen.append(by_id[name])
        else:
            # A unique prefix of 6+ characters is enough, like a short git SHA.
            matches = [p for sid, p in by_id.items() if len(name) >= 6 and sid.startswith(name)]
            if len(matches) != 1:
                raise UploadError(f"No recorded session {name!r} in {store.sessions_root(root)}.")
            chosen.append(matches[0])
    return chosen


def upload_main(
    argv: list[str],
    settings: TelemetrySettings | None = None,
    *,
    version: str | None = None,
    backoff_s: float = 0.5,
    attempts: int = DEFAULT_ATTEMPTS,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """`fuse-ls upload [--url URL] [--dry-run] [--force] (--all | SESSION...)`.

    Exit status: 0 all sent (or up to date), 1 some session failed, 2 nothing could be
    tried (usage, URL, key).
    """
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    if version is None:
        from fuse_ls import __version__

        version = __version__
    if not args.all and not args.sessions:
        print("fuse-ls upload: name the sessions to send, or use --all.", file=err)
        return 2
    root = store.data_dir(settings or _configured(args.data_dir), override=args.data_dir)
    try:
        creds = load_credentials()
        raw_url = (
            args.url
            or os.environ.get("OPALINE_API_BASE")
            or os.environ.get("RUDEL_API_BASE")
            or (creds.api_base if creds is not None else None)
        )
        if not raw_url:
            raise UploadError(
                "No Rudel server: pass --url https://rudel.example.com (or set RUDEL_API_BASE)."
            )
        url = check_url(raw_url)
        if creds is None and not args.dry_run:
            raise UploadError(
                "No Rudel API key: set RUDEL_API_KEY, or run `rudel login` to create "
                f"{config_dir() / 'credentials.json'}."
            )
        paths = _select(root, args)
    except UploadError as e:
        print(f"fuse-ls upload: {e}", file=err)
        return 2

    state = load_state(root)
    sent_before: dict[str, Any] = state.setdefault(url, {})
    todo: list[Prepared] = []
    for path in paths:
        item = prepare(path, version, args.org)
        if item is None:
            print(f"skip {path.stem}: no complete user or assistant line yet", file=out)
            continue
        prev = sent_before.get(item.session_id)
        if prev and not args.force:
            if item.size == prev.get("bytes"):
                print(f"skip {item.session_id}: unchanged since its last upload", file=out)
                continue
            if item.size < prev.get("bytes", 0):
                print(
                    f"skip {item.session_id}: smaller than the copy uploaded before "
                    "(use --force to replace it)",
                    file=out,
                )
                continue
        if args.force:
            item.envelope["force_replace"] = True
        todo.append(item)

    if args.dry_run:
        _print_dry_run(url, creds, todo, args.show_content, out)
        return 0
    if not todo:
        print("Nothing to upload.", file=out)
        return 0

    assert creds is not None
    failures = 0
    try:
        client, via = open_client(url)
    except UploadError as e:
        print(f"fuse-ls upload: {e}", file=err)
        return 2
    with client:
        for item in todo:
            outcome = send(
                client, url, creds, item, attempts=attempts, backoff_s=backoff_s, via=via
            )
            if outcome.ok:
                server_redacted = (outcome.response or {}).get("redacted") or {}
                extra = f"; server redacted {server_redacted}" if server_redacted else ""
                org = item.envelope.get("organizationId")
                where = f" to organization {org}" if org else " to your personal workspace"
                print(
                    f"uploaded {item.session_id}{where} ({counted(item.lines, 'line')}, "
                    f"{counted(item.size, 'byte')}{extra})",
                    file=out,
                )
                sent_before[item.session_id] = {
                    "bytes": item.size,
                    "lines": item.lines,
                    "sha256": hashlib.sha256(item.envelope["content"].encode()).hexdigest(),
                    "uploadedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                save_state(root, state)
            else:
                failures += 1
                print(f"fuse-ls upload: {outcome.message}", file=err)
                if outcome.fatal:
                    break
    return 1 if failures else 0


def _print_dry_run(
    url: str, creds: Credentials | None, items: list[Prepared], show_content: bool, out: TextIO
) -> None:
    key_note = (
        f"{creds.header} header with the key from {creds.origin}"
        if creds is not None
        else "no API key found: set RUDEL_API_KEY or run `rudel login`; "
        "a real upload would stop here"
    )
    print(f"Dry run: nothing is sent. Would POST {url}{RPC_PATH} ({key_note}).", file=out)
    if not items:
        print("Nothing to upload.", file=out)
        return
    for item in items:
        content = item.envelope["content"]
        shown = dict(item.envelope)
        shown["content"] = (
            f"<{counted(len(content.encode()), 'byte')}, {counted(item.lines, 'line')}, sha256 "
            f"{hashlib.sha256(content.encode()).hexdigest()[:16]}>"
        )
        print(f"\nsession {item.session_id} ({item.path})", file=out)
        print(ci_safe_json({"json": shown}, indent=2, ensure_ascii=False), file=out)
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(item.redactions.items())) or "none"
        print(f"redacted before sending: {counts}", file=out)
        if show_content:
            print(content, file=out, end="")


def _configured(data_dir: str | None) -> TelemetrySettings | None:
    """The telemetry settings from the config files (for `telemetry.data_dir`), when the
    caller passed none and no --data-dir overrides them."""
    if data_dir:
        return None
    try:
        from fuse_ls.config import load_settings

        return load_settings(Path.cwd()).settings.telemetry
    except Exception:  # a broken config must not stop the dashboard; defaults apply
        return None
