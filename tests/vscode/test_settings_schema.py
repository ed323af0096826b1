"""The VS Code extension's settings mirror the server's (`fuse_ls/core/settings.py`).

`vscode-extension/package.json` contributes `fuseLs.*` settings with defaults shown in
the Settings UI; `src/settings.ts` sends each key as VS Code spells it (the server reads
camelCase as its snake_case path). This
test keeps both honest against the server's own defaults without running node.
"""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path
from typing import Any

from fuse_ls.config import Settings, settings_to_dict
from fuse_ls.core.types import Mode

EXTENSION = Path(__file__).resolve().parents[2] / "vscode-extension"
CLIENT_ONLY = {"interpreter", "trace.server"}
FIX = (
    "add it to vscode-extension/package.json (contributes.configuration) and to "
    "SERVER_SETTINGS in vscode-extension/src/settings.ts"
)


def snake(name: str) -> str:
    # The same rule as camelToSnake in src/settings.ts.
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def contributed() -> dict[str, dict[str, Any]]:
    manifest = json.loads((EXTENSION / "package.json").read_text())
    props: dict[str, dict[str, Any]] = manifest["contributes"]["configuration"]["properties"]
    return {key.removeprefix("fuseLs."): schema for key, schema in props.items()}


def server_defaults() -> dict[str, Any]:
    """Dotted snake_case path -> default, for every leaf of the server settings."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and prefix not in ("judge",):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            flat[prefix] = value

    walk("", settings_to_dict(Settings()))
    return flat


def server_settings_ts() -> list[str]:
    source = (EXTENSION / "src" / "settings.ts").read_text()
    block = source.split("export const SERVER_SETTINGS", 1)[1].split("];", 1)[0]
    return re.findall(r"'([\w.]+)'", block)


def model_ids(value: Any) -> Any:
    if isinstance(value, list):
        return [model_ids(v) for v in value]
    if isinstance(value, dict) and "id" in value:
        return value["id"]
    return value


def test_every_contributed_setting_is_a_server_setting_with_its_default() -> None:
    defaults = server_defaults()
    for key, schema in contributed().items():
        if key in CLIENT_ONLY:
            continue
        path = ".".join(snake(part) for part in key.split("."))
        assert path in defaults, f"fuseLs.{key} maps to {path}, which the server does not have"
        expected = model_ids(defaults[path])
        assert schema.get("default") == expected, f"fuseLs.{key}: default differs from the server"


def test_every_server_setting_is_contributed() -> None:
    keys = {".".join(snake(p) for p in k.split(".")) for k in contributed() if k not in CLIENT_ONLY}
    missing = sorted(set(server_defaults()) - keys)
    assert not missing, f"server settings missing from the extension: {missing}; {FIX}"


def test_settings_ts_lists_exactly_the_contributed_server_settings() -> None:
    assert sorted(server_settings_ts()) == sorted(set(contributed()) - CLIENT_ONLY)


def test_mode_enum_matches_the_server() -> None:
    assert set(contributed()["mode"]["enum"]) == set(typing.get_args(Mode))


def test_untrusted_workspaces_cannot_set_what_the_server_guards() -> None:
    """Every key the server's trust model guards (fuse_ls/trust.py) is a restricted
    configuration in VS Code too: an untrusted folder's settings.json must not set them."""
    from fuse_ls.trust import LIMITS, NEEDS_TRUST

    manifest = json.loads((EXTENSION / "package.json").read_text())
    trust = manifest["capabilities"]["untrustedWorkspaces"]
    assert trust["supported"] == "limited"
    restricted = {key.removeprefix("fuseLs.") for key in trust["restrictedConfigurations"]}
    vscode_keys = {snake(key): key for key in contributed()}
    for dotted in [*NEEDS_TRUST, *LIMITS]:
        top = dotted.split("[]", 1)[0].split(".base_url", 1)[0].split(".api_key_env", 1)[0]
        guarded = top if top in ("pool", "judge") else dotted
        assert vscode_keys.get(guarded) in restricted, f"{guarded} is not restricted"
    assert "interpreter" in restricted


def model_entry_schemas() -> dict[str, dict[str, Any]]:
    """The object forms of `fuseLs.pool` items and of `fuseLs.judge`."""
    props = contributed()
    out = {}
    for name, alternatives in (
        ("pool", props["pool"]["items"]["anyOf"]),
        ("judge", props["judge"]["anyOf"]),
    ):
        [entry] = [a for a in alternatives if a.get("type") == "object"]
        out[name] = entry
    return out


def bounds(check: Any) -> dict[str, float]:
    """JSON-schema minimum/maximum from a spec field's attrs validators (fuse_ls/core/specs)."""
    found: dict[str, float] = {}
    inner = getattr(check, "validator", None)  # optional(...)
    if inner is not None:
        return bounds(inner)
    for part in getattr(check, "_validators", ()):  # and_(...)
        found.update(bounds(part))
    op = getattr(check, "compare_op", None)
    if op in (">=", "<="):
        found["minimum" if op == ">=" else "maximum"] = check.bound
    return found


def test_pool_and_judge_entries_list_every_key_the_server_accepts() -> None:
    """A pool entry (or the judge) as an object: VS Code flags any key its schema does not
    list (additionalProperties is false), so a key the server accepts but the schema
    lacks, such as maxInputTokens was, is shown as an error in settings.json."""
    from attrs import fields

    from fuse_ls.core.specs import CHECK, ModelSpec

    spec = {f.name: f for f in fields(ModelSpec)}
    for name, entry in model_entry_schemas().items():
        listed = {snake(key): schema for key, schema in entry["properties"].items()}
        assert sorted(listed) == sorted(spec), f"fuseLs.{name} object keys differ from ModelSpec"
        assert entry["additionalProperties"] is False and entry["required"] == ["id"]
        for key, schema in listed.items():
            assert schema.get("description"), f"fuseLs.{name}.{key} has no description"
            expected = bounds(spec[key].metadata.get(CHECK))
            shown = {b: schema[b] for b in ("minimum", "maximum") if b in schema}
            assert shown == expected, f"fuseLs.{name}.{key}: bounds differ from the server's"


def test_every_setting_is_listed_in_the_extension_readme() -> None:
    """A user reading the extension's README finds every setting it contributes (the
    Verify fix command needed `fuseLs.verify.commands`, which the table did not list).
    A row names settings as `fuseLs.a.b` / `c`, the latter meaning `fuseLs.a.c`."""
    readme = (EXTENSION / "README.md").read_text()
    settings = readme.split("## Settings", 1)[1].split("\n## ", 1)[0]
    listed: set[str] = set()
    for row in settings.splitlines():
        if not row.startswith("| `fuseLs."):
            continue
        names = re.findall(r"`([^`]+)`", row.split("|")[1])
        first = names[0].removeprefix("fuseLs.")
        parent = first.rpartition(".")[0]
        listed.add(first)
        listed.update(f"{parent}.{name}" if parent else name for name in names[1:])
    missing = sorted(set(contributed()) - listed)
    assert not missing, f"add to the Settings table of vscode-extension/README.md: {missing}"
