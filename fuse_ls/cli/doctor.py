"""`fuse-ls doctor`: is this machine set up to fuse? Never prints a key's value."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fuse_ls import __version__, trust
from fuse_ls.config import EditorLayer, Settings, load_settings
from fuse_ls.core import hosts
from fuse_ls.core.ci_log import ci_safe_json
from fuse_ls.core.counts import counted
from fuse_ls.core.errors import ConfigNotice, ProviderError
from fuse_ls.core.keyscope import key_may_be_sent, unset_key, withheld_key_note
from fuse_ls.core.types import Endpoint
from fuse_ls.fusion.pricing import ModelInfo
from fuse_ls.fusion.provider import ChatClient
from fuse_ls.safetext import visible_lines


def _check(name: str, ok: bool | None, detail: str) -> dict[str, Any]:
    return {
        "check": name,
        "status": "ok" if ok else "skipped" if ok is None else "error",
        "detail": detail,
    }


async def _list_models(client: ChatClient, ep: Endpoint, bound_s: float) -> list[ModelInfo] | str:
    """The endpoint's models, or what went wrong, said as a user checking it by hand would."""
    url = hosts.shown(ep.base_url).rstrip("/") + "/models"
    try:
        return await asyncio.wait_for(client.list_models(ep), bound_s)
    except TimeoutError:
        return f"not reachable: GET {url} got no answer within {bound_s:g}s"
    except ProviderError as exc:
        said = str(exc).removeprefix("models list: ")
        if exc.status_code is None:
            return f"not reachable: {said}"
        return f"GET {url}: {said}"
    except OSError as exc:
        return f"not reachable: GET {url}: {exc}"


async def _endpoint_checks(
    settings: Settings, offline: bool, timeout_s: float | None = None
) -> list[dict[str, Any]]:
    endpoints: dict[str, tuple[Endpoint, list[str]]] = {}
    for spec in [*settings.pool, settings.judge]:
        ep = settings.endpoint_for(spec)
        endpoints.setdefault(ep.base_url, (ep, []))[1].append(spec.id)
    if offline:
        return [
            _check(f"endpoint {hosts.shown(base)}", None, "not checked (--offline)")
            for base in endpoints
        ]
    # All at once, each bounded: doctor (and Neovim's :checkhealth, which waits for it)
    # takes as long as the slowest endpoint, not the sum of them. `--timeout` caps that
    # bound, so a caller that stops waiting at some point (:checkhealth) still gets every
    # row, the unanswered endpoints among them, instead of killing doctor for none.
    bound_s = settings.timeouts.connect_s + 5
    if timeout_s is not None:
        bound_s = min(bound_s, timeout_s)
    client = ChatClient(timeouts=settings.timeouts, retries=settings.retries)
    try:
        listed = await asyncio.gather(
            *(_list_models(client, ep, bound_s) for ep, _ in endpoints.values())
        )
    finally:
        await client.aclose()
    checks = []
    for (base, (ep, model_ids)), models in zip(endpoints.items(), listed, strict=True):
        if isinstance(models, str):
            checks.append(_check(f"endpoint {hosts.shown(base)}", False, models))
            continue
        url = hosts.shown(ep.base_url).rstrip("/") + "/models"
        checks.append(
            _check(
                f"endpoint {hosts.shown(base)}",
                True,
                f"reachable (GET {url}), {counted(len(models), 'model')} listed",
            )
        )
        known = {m.id for m in models}
        for model_id in dict.fromkeys(model_ids):
            exists = model_id in known or model_id.split(":", 1)[0] in known
            detail = (
                "listed by the endpoint"
                if exists
                else ("not listed by the endpoint: check the id (see its /models)")
            )
            checks.append(_check(f"model {model_id}", exists if known else None, detail))
    return checks


def _key_checks(settings: Settings) -> list[dict[str, Any]]:
    """One row per key variable: set or not, needed or not, and where it is not sent.

    Every detail starts with the key's state, `set` or `not set`: Neovim's :checkhealth
    shows these rows as `$VAR is <detail>` (editors/nvim/lua/fuse_ls/health.lua).
    """
    used: dict[str, list[Endpoint]] = {}
    for spec in [*settings.pool, settings.judge]:
        ep = settings.endpoint_for(spec)
        if ep.api_key_env:
            used.setdefault(ep.api_key_env, []).append(ep)
    checks = []
    for var, endpoints in used.items():
        present = bool(os.environ.get(var))
        sent_to = [ep for ep in endpoints if key_may_be_sent(ep)]
        # The same note for every base URL it is withheld from, once each.
        notes = " ".join(dict.fromkeys(note for ep in endpoints if (note := withheld_key_note(ep))))
        if not sent_to:
            # Information, not a failure: a local server usually needs no key.
            state = "set (value not shown)" if present else "not set"
            checks.append({"check": f"key {var}", "status": "info", "detail": f"{state}. {notes}"})
            continue
        also = f" {notes}" if notes else ""
        if present:
            checks.append(_check(f"key {var}", True, f"set (value not shown).{also}"))
        else:
            status, detail = unset_key(var, [ep.base_url for ep in sent_to])
            checks.append({"check": f"key {var}", "status": status, "detail": detail + also})
    return checks


OTEL_INSTALL = "pip install 'fuse-ls[otel]' (in a clone: .venv/bin/pip install -e '.[otel]')"


def _otel_check(settings: Settings) -> dict[str, Any] | None:
    """`telemetry.otel = true` exports nothing without the otel extra; a run says so
    only in the log (telemetry must never stop one), so doctor is where a user sees it."""
    t = settings.telemetry
    if not t.otel:
        return None
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        detail = "telemetry.otel = true, but OTEL_SDK_DISABLED=true turns the export off."
        return {"check": "telemetry.otel", "status": "info", "detail": detail}
    try:  # what a run imports to export (fuse_ls/telemetry/session.py)
        import fuse_ls.telemetry.otel  # noqa: F401
    except ImportError:
        return {
            "check": "telemetry.otel",
            "status": "warning",
            "detail": "telemetry.otel = true, but OpenTelemetry is not installed: nothing is "
            f"exported. Install the otel extra: {OTEL_INSTALL}.",
        }
    where = (
        hosts.shown(t.otel_endpoint) if t.otel_endpoint else "the OTEL_EXPORTER_OTLP_* collector"
    )
    return _check("telemetry.otel", True, f"OpenTelemetry export to {where}")


def read_editor_settings(source: str) -> list[EditorLayer] | str:
    """The editor's settings layers from JSON in the file `source` (`-`: stdin), or what
    is wrong with them. One object is one layer; a list is the editor's layers, oldest
    first (Neovim sends init_options at start-up, then settings.fuseLs)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot be read ({exc})"
    try:
        data = json.loads(text)
    except ValueError as exc:
        return f"not valid JSON ({exc})"
    except RecursionError:
        return "not valid JSON (nested too deeply)"
    layers = data if isinstance(data, list) else [data]
    if not all(isinstance(layer, dict) for layer in layers):
        return "expected a JSON object of settings, or a list of them"
    return [EditorLayer(layer) for layer in layers]


def _trust_detail(workspace: Path, flag: bool, sources: Sequence[str]) -> str:
    """Whether the workspace is trusted and by what: the user's trust list, `--trust`
    (an editor passes it when the editor trusts the workspace), or both. `sources`: the
    config sources read, to tell a workspace without a config file of its own (where
    trust changes nothing) from one whose file is held back."""
    by = ["on your trust list (`fuse-ls trust`)"] if trust.is_listed(workspace) else []
    if flag:
        by.append("--trust")
    if by:
        return (
            f"{workspace} is trusted: {' and '.join(by)}. Its config file may choose "
            "endpoints, keys and check commands (limits it may only tighten)."
        )
    how = trust.how_to_trust(workspace)
    own = (str(workspace / ".fuse-ls.toml"), f"{workspace / 'pyproject.toml'} [tool.fuse-ls]")
    if not any(source in own for source in sources):
        return (
            f"{workspace} is not trusted: it has no config file of its own (.fuse-ls.toml or "
            "[tool.fuse-ls] in pyproject.toml), so nothing is held back. Should it get one: "
            f"{how}."
        )
    return (
        f"{workspace} is not trusted: its config file cannot choose endpoints, keys or "
        f"check commands, nor loosen limits. {how[:1].upper()}{how[1:]}."
    )


def run_checks(
    workspace: Path,
    offline: bool,
    trusted: bool = False,
    editor: Sequence[EditorLayer] | str | None = None,
    timeout_s: float | None = None,
) -> tuple[list[dict[str, Any]], Settings]:
    """`editor`: the editor's settings layers, or why they could not be read (an error
    row; the check goes on without them). `timeout_s`: the most the endpoint checks may
    take together (`--timeout`)."""
    unreadable = editor if isinstance(editor, str) else None
    layers = None if isinstance(editor, str) else editor
    loaded = load_settings(workspace, editor=layers, trusted=trusted)
    settings = loaded.settings
    checks = [_check("fuse-ls", True, f"version {__version__}")]
    if unreadable is not None:
        checks.append(_check("editor settings", False, unreadable))
    # Two editor layers (start-up and pulled) are one source to the user.
    checks.append(_check("config sources", True, ", ".join(dict.fromkeys(loaded.sources))))
    trusted_row = _trust_detail(workspace, trusted, loaded.sources)
    checks.append(_check("workspace trust", True, trusted_row))
    for problem in loaded.problems:
        # A notice (an unknown key, a key an untrusted workspace may not set) changes
        # nothing in force: a warning, as the server shows it, not a failed check.
        status = "warning" if isinstance(problem, ConfigNotice) else "error"
        checks.append({"check": "config", "status": status, "detail": str(problem)})
    if not any(c["check"] == "config" and c["status"] == "error" for c in checks):
        checks.append(_check("config", True, "all settings valid"))
    checks += _key_checks(settings)
    checks += [c for c in (_otel_check(settings),) if c is not None]
    checks += asyncio.run(_endpoint_checks(settings, offline, timeout_s))
    return checks, settings


def cmd_doctor(args: argparse.Namespace) -> int:
    source = getattr(args, "editor_settings", None)
    editor = read_editor_settings(source) if source else None
    trusted = getattr(args, "trust", False)
    timeout_s = getattr(args, "timeout", None)
    checks, _ = run_checks(Path.cwd(), args.offline, trusted, editor, timeout_s)
    failed = any(c["status"] == "error" for c in checks)
    if args.json:
        print(ci_safe_json({"ok": not failed, "checks": checks}, indent=2))
        return 1 if failed else 0
    console = Console(highlight=False, markup=False)
    # Below 100 columns a detail column of its own was ~33 wide: a URL or the command to
    # run broke mid-word on every row. There the detail goes under the check's name.
    wide = console.width >= 100
    table = Table(title="fuse-ls doctor", title_justify="left")
    table.add_column("check", overflow="fold")
    table.add_column("status")
    if wide:
        table.add_column("detail", overflow="fold")
    style = {"ok": "green", "error": "red", "skipped": "dim", "warning": "yellow", "info": "cyan"}
    for c in checks:
        status = Text(c["status"], style=style[c["status"]])
        # Paths (the workspace, a config file) and messages come from repositories: a
        # folder name from a tarball may hold an ESC, shown here, not run. JSON escapes it.
        c = {**c, "check": visible_lines(c["check"]), "detail": visible_lines(c["detail"])}
        if wide:
            table.add_row(c["check"], status, c["detail"])
        else:
            table.add_row(Text(c["check"], style="bold") + Text("\n" + c["detail"]), status)
    console.print(table)
    console.print(
        Text("Problems found: fix the red rows above.", style="red")
        if failed
        else Text("All good.", style="green")
    )
    return 1 if failed else 0
