"""Workspace trust: what a repository's own config file may decide.

A cloned repository's `.fuse-ls.toml` (or `[tool.fuse-ls]` in its pyproject) is written
by whoever wrote the repository. Like VS Code's workspace trust, `direnv allow` and
`mise trust`, settings that could send a key or code somewhere else, or spend the user's
money, apply from that file only once the user has trusted the workspace:

- NEEDS_TRUST keys are dropped from an untrusted workspace file;
- LIMITS may only be tightened by a workspace file, trusted or not: a repository never
  weakens the user's own limits (a lower budget is fine, a higher one or
  `redact_secrets = false` is not);
- every other key is the project's business (mode, pool ids, context lines...).

Trust comes from the user, never from the repository: the user-level trust list (a file
in the user config dir, edited by `fuse-ls trust`), the editor's own workspace trust
(`workspaceTrusted` in initializationOptions) or `--trust` on the command line.

This module knows setting names only as dotted strings and works on plain dicts, so the
config loader (whatever validates the values) calls `restrict` on one workspace layer,
passing how that file spells its keys so a notice names `base-url` if the file says so.
"""

from __future__ import annotations

import json
import shlex
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import platformdirs
from attrs import frozen

from fuse_ls.core.errors import visible

TRUST_FILE_NAME = "trusted-workspaces.toml"

# Keys that decide where requests (with a key, with the user's code) go or where the
# telemetry that `fuse-ls upload` sends is kept. `pool[]` means every pool entry.
# Settings that run programs belong here too (`verify.commands`):
# tests/security/test_trust.py fails until every setting is classified.
NEEDS_TRUST: tuple[str, ...] = (
    "provider.base_url",
    "provider.api_key_env",
    "pool[].base_url",
    "pool[].api_key_env",
    "judge.base_url",
    "judge.api_key_env",
    "telemetry.data_dir",
    # Both prune the data dir, which holds every workspace's sessions (not yet uploaded
    # ones too): a repository must not decide what of the user's data is deleted.
    "telemetry.retention_days",
    "telemetry.max_total_mb",
    "telemetry.otel_endpoint",  # where traces (and, opted in, code) are exported
    "verify.commands",  # programs run on the user's machine to check a fix
)


def _lower_number(new: Any, old: Any) -> bool:
    """None is 'no limit', the loosest value."""
    return new is not None and (old is None or new <= old)


def _is(safe: bool) -> Callable[[Any, Any], bool]:
    return lambda new, old: new is safe or new == old


# Limits a workspace file may tighten but never loosen: key -> "is `new` at least as
# strict as `old`?"
LIMITS: dict[str, Callable[[Any, Any], bool]] = {
    "budget.max_usd_per_request": _lower_number,
    "budget.max_usd_per_day": _lower_number,
    "review.redact_secrets": _is(True),
    "provider.deny_data_collection": _is(True),
    "telemetry.record_content": _is(False),
    "telemetry.otel": _is(False),  # a repository cannot start exporting
    "telemetry.otel_content": _is(False),
}


# --- the user's trust list --------------------------------------------------------------


def default_trust_file() -> Path:
    return platformdirs.user_config_path("fuse-ls") / TRUST_FILE_NAME


class TrustFileError(Exception):
    """The trust list cannot be read or written; the message says which file and why."""


def _key(folder: Path) -> Path:
    return folder.expanduser().resolve()


def trusted_folders(trust_file: Path | None = None) -> list[Path]:
    """The folders the user trusts. A missing or unreadable list trusts nothing."""
    path = trust_file or default_trust_file()
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return []
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise TrustFileError(f"Cannot read the trust list {path}: {exc}") from exc
    folders = data.get("trusted", [])
    if not isinstance(folders, list):
        raise TrustFileError(f"{path}: `trusted` must be a list of folder paths.")
    return [Path(f) for f in folders if isinstance(f, str) and f]


def _write(folders: list[Path], trust_file: Path | None) -> None:
    path = trust_file or default_trust_file()
    lines = [
        "# Workspaces whose .fuse-ls.toml / [tool.fuse-ls] may choose endpoints, keys and",
        "# telemetry paths. Edit with `fuse-ls trust PATH`, `--remove PATH`, `--list`.",
        "trusted = [",
        # A JSON string is a valid TOML basic string (same escapes).
        *(f"    {json.dumps(str(f))}," for f in folders),
        "]",
        "",
    ]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("\n".join(lines), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise TrustFileError(f"Cannot write the trust list {path}: {exc}") from exc


def add_trusted(folder: Path, trust_file: Path | None = None) -> Path:
    resolved = _key(folder)
    folders = trusted_folders(trust_file)
    if resolved not in folders:
        _write([*folders, resolved], trust_file)
    return resolved


def remove_trusted(folder: Path, trust_file: Path | None = None) -> bool:
    resolved = _key(folder)
    folders = trusted_folders(trust_file)
    if resolved not in folders:
        return False
    _write([f for f in folders if f != resolved], trust_file)
    return True


def is_listed(workspace: Path, trust_file: Path | None = None) -> bool:
    """Whether the workspace or a folder above it is on the user's trust list (as VS Code
    trusts the sub-folders of a trusted parent folder)."""
    try:
        folders = trusted_folders(trust_file)
    except TrustFileError:
        return False  # the caller reports nothing; an unreadable list trusts nothing
    resolved = _key(workspace)
    return any(resolved == f or resolved.is_relative_to(f) for f in folders)


# --- applying trust to one workspace layer ----------------------------------------------


@frozen
class Ignored:
    """Keys of one workspace layer that were dropped, and the message saying so.
    `keys` as the file wrote them, `settings` their dotted snake_case names."""

    keys: tuple[str, ...]
    message: str
    settings: tuple[str, ...] = ()


def shell_quoted(path: Path | str) -> str:
    """`path` as one shell word to paste. A name with control characters (an ESC from a
    tarball's folder name) is written `$'...'` with escapes, which bash and zsh read back
    as the same name: printed as is, the terminal would run the ESC as a command."""
    text = str(path)
    if text.isprintable():
        return shlex.quote(text)
    out = []
    for char in text:
        code = ord(char)
        if char in "\\'":
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x100:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "$'" + "".join(out) + "'"


def how_to_trust(workspace: Path) -> str:
    return (
        f"if you trust this repository, run `fuse-ls trust {shell_quoted(workspace)}`, "
        "trust the workspace in your editor, or pass --trust"
    )


def _get(data: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _drop(data: dict[str, Any], dotted: str) -> None:
    *parents, leaf = dotted.split(".")
    node: Any = data
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return
    node.pop(leaf, None)
    # An emptied sub-table must not survive as `{}` (a judge table without keys).
    if parents and not node:
        _drop(data, ".".join(parents))


def _copy(data: Mapping[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(data))  # type: ignore[no-any-return]  # plain TOML data


def restrict(
    layer: Mapping[str, Any],
    below: Mapping[str, Any],
    *,
    trusted: bool,
    source: str,
    workspace: Path,
    name: Callable[[str], str] = str,
) -> tuple[dict[str, Any], list[Ignored]]:
    """The part of a workspace layer (snake_case, already checked) that may apply.

    `below` is the merged settings of the layers under the workspace file (defaults and
    the user's file): the limits a workspace may only tighten. `name` turns a dotted
    snake_case setting into the key as the file wrote it (`provider.base-url`).
    """
    out = _copy(layer)
    ignored: list[Ignored] = []
    if not trusted:
        dropped: list[str] = []
        for dotted in NEEDS_TRUST:
            if dotted.startswith("pool[]."):
                leaf = dotted.removeprefix("pool[].")
                for i, entry in enumerate(out.get("pool") or []):
                    if isinstance(entry, dict) and leaf in entry:
                        del entry[leaf]
                        dropped.append(f"pool[{i}].{leaf}")
            elif _get(out, dotted)[0]:
                _drop(out, dotted)
                dropped.append(dotted)
        if dropped:
            keys = tuple(name(d) for d in dropped)
            ignored.append(
                Ignored(
                    keys,
                    f"{visible(source)} sets {', '.join(keys)}, ignored because this workspace is "
                    "not trusted (these settings choose where requests, code and keys go, or "
                    "which programs run); " + how_to_trust(workspace) + ".",
                    tuple(dropped),
                )
            )
    for dotted, at_least_as_strict in LIMITS.items():
        present, new = _get(out, dotted)
        if not present:
            continue
        old = _get(below, dotted)[1]
        if at_least_as_strict(new, old):
            continue
        _drop(out, dotted)
        key = name(dotted)
        ignored.append(
            Ignored(
                (key,),
                f"{visible(source)} sets {key} = {_toml(new)}, ignored: a workspace file may only "
                f"tighten your own limits (in force: {_toml(old)}). Change it in your user "
                "config or editor settings instead.",
                (dotted,),
            )
        )
    return out, ignored


def _toml(value: Any) -> str:
    if value is None:
        return "null (no limit)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
