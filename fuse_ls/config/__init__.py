"""Settings loading: defaults < user file < workspace file < editor settings < environment.

The shapes live in `fuse_ls.core.settings`, each field declaring what it accepts; they
are re-exported here, so `fuse_ls.config` stays the one import. Keys are snake_case in
files; camelCase from editors is accepted too. Each layer is checked key by key by
`fuse_ls.config.structure`: a bad key falls back to the layer below, the rest applies.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import platformdirs
from attrs import define, field

from fuse_ls import trust
from fuse_ls.config.structure import (
    apply_layer,
    min_responses_problem,
    normalise,
    settings_to_dict,
    type_text,
    validate_settings,
)
from fuse_ls.core.errors import ConfigError, ConfigFileError, ConfigNotice
from fuse_ls.core.settings import (
    MAX_POOL_CALLS,
    OPENROUTER_BASE_URL,
    BudgetSettings,
    DebateSettings,
    ProviderSettings,
    QuorumSettings,
    RetrySettings,
    ReviewSettings,
    Settings,
    TelemetrySettings,
    TimeoutSettings,
    VerifyCommand,
    VerifySettings,
    replace,
)
from fuse_ls.core.specs import ModelSpec
from fuse_ls.core.types import Mode

__all__ = [
    "MAX_POOL_CALLS",
    "OPENROUTER_BASE_URL",
    "BudgetSettings",
    "ConfigError",
    "ConfigFileError",
    "DebateSettings",
    "LoadedSettings",
    "Mode",
    "ModelSpec",
    "ProviderSettings",
    "QuorumSettings",
    "RetrySettings",
    "ReviewSettings",
    "Settings",
    "TelemetrySettings",
    "TimeoutSettings",
    "VerifyCommand",
    "VerifySettings",
    "load_settings",
    "replace",
    "settings_to_dict",
    "validate_settings",
]

_USER_CONFIG_ENV = "FUSE_LS_CONFIG"
_ENV_PREFIX = "FUSE_LS_"
_EDITOR_SECTIONS = ("fuseLs", "fuse_ls", "fuse-ls")  # a client may send the section wrapped


@define
class LoadedSettings:
    settings: Settings
    sources: list[str] = field(factory=list)  # "defaults", file paths, "editor settings", ...
    problems: list[ConfigError] = field(factory=list)
    trusted: bool = False  # whether the workspace file could choose endpoints and keys


# --- the layers -----------------------------------------------------------------------

_TOML_LINE = re.compile(r"at line (\d+)")


def _read_toml(path: Path, problems: list[ConfigError]) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        reason = "invalid TOML (" + _TOML_LINE.split(str(exc))[0].rstrip(" (") + ")"
        problems.append(ConfigFileError(str(path), reason, int(found[1]) if found else None))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigFileError(str(path), f"cannot be read ({exc})"))
    return None


def _user_config_path(user_config: Path | None, env: Mapping[str, str]) -> tuple[Path, bool]:
    """The user file and whether the user named it explicitly (then missing is a problem)."""
    if user_config is not None:
        return user_config, False  # callers (tests, --config) check existence themselves
    if env.get(_USER_CONFIG_ENV):
        return Path(env[_USER_CONFIG_ENV]).expanduser(), True
    return platformdirs.user_config_path("fuse-ls") / "config.toml", False


def _workspace_layer(workspace: Path, problems: list[ConfigError]) -> tuple[Any, str] | None:
    dedicated, pyproject = workspace / ".fuse-ls.toml", workspace / "pyproject.toml"
    if dedicated.is_file():
        # Like ruff's own file versus pyproject: the dedicated file wins outright, no
        # merging, but a [tool.fuse-ls] left behind would be silently dead, so say so.
        if pyproject.is_file():
            table = (_read_toml(pyproject, []) or {}).get("tool", {}).get("fuse-ls")
            if table is not None:
                problems.append(
                    ConfigNotice(
                        "tool.fuse-ls",
                        f"[tool.fuse-ls] in {pyproject} is ignored because {dedicated} "
                        "exists; keep the settings in one of them.",
                        str(pyproject),
                    )
                )
        data = _read_toml(dedicated, problems)
        return (data, str(dedicated)) if data is not None else None
    if pyproject.is_file():
        data = _read_toml(pyproject, problems)
        table = (data or {}).get("tool", {}).get("fuse-ls")
        if table is not None:
            return table, f"{pyproject} [tool.fuse-ls]"
    return None


def _set_path(path: list[str], value: Any) -> dict[str, Any]:
    data: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        data = {part: data}
    return data


_ENV_SHORTCUTS: dict[str, list[str]] = {
    "FUSE_LS_BASE_URL": ["provider", "base_url"],
    "FUSE_LS_MODE": ["mode"],
    "FUSE_LS_JUDGE": ["judge"],
    "FUSE_LS_DATA_DIR": ["telemetry", "data_dir"],
    "FUSE_LS_TELEMETRY": ["telemetry", "enabled"],
}


def _env_layers(env: Mapping[str, str]) -> list[tuple[dict[str, Any], str]]:
    """One layer per variable, so a problem names the variable it came from.

    Generic `FUSE_LS_<SECTION>__<KEY>` come first so the documented shortcuts win.
    Other `FUSE_LS_*` names without `__` are left alone: they may belong to other parts
    of fuse-ls (and FUSE_LS_CONFIG names the user file, it is not a setting).
    """
    layers: list[tuple[dict[str, Any], str]] = []
    for name in sorted(env):
        rest = name[len(_ENV_PREFIX) :]
        if name.startswith(_ENV_PREFIX) and "__" in rest:
            layers.append((_set_path(rest.lower().split("__"), env[name].strip()), name))
    for name, path in _ENV_SHORTCUTS.items():
        if name in env:
            layers.append((_set_path(path, env[name].strip()), name))
    if "FUSE_LS_MODELS" in env:
        ids = [part.strip() for part in env["FUSE_LS_MODELS"].split(",") if part.strip()]
        layers.append(({"pool": ids}, "FUSE_LS_MODELS"))
    return layers


def _leaves(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            paths.extend(_leaves(value, f"{prefix}{key}."))
        else:
            paths.append(prefix + key)
    return paths


def load_settings(
    workspace: Path | None = None,
    editor: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    user_config: Path | None = None,
    trusted: bool = False,
) -> LoadedSettings:
    """Defaults < user file < workspace file < editor settings < environment.

    The workspace file is the repository's: its keys pass through `fuse_ls.trust.restrict`.
    `trusted` is the editor's workspace trust or `--trust`; the user's trust list is
    consulted as well.

    Never raises for user input: a bad key is reported in `problems` and falls back to
    the value of the layer below. `env` defaults to os.environ; `user_config` to
    $FUSE_LS_CONFIG, else the platform config dir's fuse-ls/config.toml (a missing
    default or passed-in file is simply not used).
    """
    env = os.environ if env is None else env
    problems: list[ConfigError] = []
    sources = ["defaults"]
    layers: list[tuple[Any, str, bool]] = []  # (raw data, source, from_env)
    workspace_source = None

    user_path, named = _user_config_path(user_config, env)
    if user_path.is_file():
        data = _read_toml(user_path, problems)
        if data is not None:
            layers.append((data, str(user_path), False))
    elif named:
        problems.append(ConfigFileError(str(user_path), f"not found ({_USER_CONFIG_ENV})"))
    if workspace is not None:
        found = _workspace_layer(workspace, problems)
        if found is not None:
            layers.append((found[0], found[1], False))
            workspace_source = found[1]
        trusted = trusted or trust.is_listed(workspace)
    if editor:
        if len(editor) == 1 and next(iter(editor)) in _EDITOR_SECTIONS:
            editor = next(iter(editor.values())) or {}
        layers.append((editor, "editor settings", False))
    env_layers = _env_layers(env)
    layers.extend((data, f"environment variable {name}", True) for data, name in env_layers)

    below = settings_to_dict(Settings())
    origin: dict[str, str] = {}  # dotted key -> the layer that set it last
    settings = Settings()
    for raw, source, from_env in layers:
        if not isinstance(raw, Mapping):
            problems.append(ConfigError("settings", raw, type_text(Settings), source))
            raw = {}
        layer = normalise(raw)
        settings, bad = apply_layer(below, layer, source, from_env)
        problems.extend(bad)
        if source == workspace_source and workspace is not None:
            layer, ignored = trust.restrict(
                layer, below, trusted=trusted, source=source, workspace=workspace
            )
            problems.extend(ConfigNotice(", ".join(i.keys), i.message, source) for i in ignored)
            settings, bad = apply_layer(below, layer, source)
            problems.extend(bad)
        below = settings_to_dict(settings)
        origin.update(dict.fromkeys(_leaves(layer), source))
        if not from_env:
            sources.append(source)
    if env_layers:
        sources.append("environment (" + ", ".join(name for _, name in env_layers) + ")")

    # The one check across layers: the quorum may come from a file and the pool from the
    # environment. No lower value is known to fit the new pool, so fall back to null
    # (wait for the whole pool), the safe reading of "more answers than models".
    problem = min_responses_problem(settings, origin.get("quorum.min_responses", ""))
    if problem is not None:
        problems.append(problem)
        settings = replace(settings, {"quorum.min_responses": None})
    return LoadedSettings(settings, sources, problems, trusted=trusted)
