"""Settings loading: defaults < user file < workspace file < editor settings < environment
(< the command line's flags, `apply_flags`).

The shapes live in `fuse_ls.core.settings`, each field declaring what it accepts; they
are re-exported here, so `fuse_ls.config` stays the one import. Keys are snake_case in
files; camelCase from editors is accepted too. Each layer is checked key by key by
`fuse_ls.config.structure`: a bad key falls back to the layer below, the rest applies.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import platformdirs
from attrs import define, field

from fuse_ls import trust
from fuse_ls.config.spelling import ENV_PREFIX, Spelling, normalise
from fuse_ls.config.structure import (
    apply_layer,
    min_responses_problem,
    settings_to_dict,
    type_text,
    validate_settings,
)
from fuse_ls.core.errors import ConfigError, ConfigFileError, ConfigNotice, visible
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
    "EditorLayer",
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
    "apply_flags",
    "load_settings",
    "replace",
    "settings_to_dict",
    "validate_settings",
]

_USER_CONFIG_ENV = "FUSE_LS_CONFIG"
ENV_SOURCE = "the environment"  # problems name the variable as their key
FLAGS_SOURCE = "the command line"  # problems name the flag as their key
_EDITOR_SECTIONS = ("fuseLs", "fuse_ls", "fuse-ls")  # a client may send the section wrapped


EDITOR_SOURCE = "editor settings"


@define
class EditorLayer:
    """Settings an editor sent, named for the user: `source` says where they came from,
    `prefix` what the user's setting ids start with (`fuseLs.` for that section)."""

    data: Mapping[str, Any]
    source: str = EDITOR_SOURCE
    prefix: str = ""


@define
class LoadedSettings:
    settings: Settings
    sources: list[str] = field(factory=list)  # "defaults", file paths, "editor settings", ...
    problems: list[ConfigError] = field(factory=list)
    trusted: bool = False  # whether the workspace file could choose endpoints and keys
    # dotted setting -> the layer that set it last and how that layer spells keys, for
    # the check across layers once flags change the pool
    origins: dict[str, tuple[str, Spelling]] = field(factory=dict, repr=False, eq=False)


# --- the layers -----------------------------------------------------------------------

_TOML_LINE = re.compile(r"at line (\d+)")


# Far above any real pyproject.toml; a repository's multi-gigabyte one (sparse: free to
# ship in a tarball) was read whole on every run and at every server start.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def _read_toml(path: Path, problems: list[ConfigError]) -> dict[str, Any] | None:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            limit = f"larger than {MAX_CONFIG_BYTES // 1024 // 1024} MB"
            problems.append(ConfigFileError(str(path), limit))
            return None
        return tomllib.loads(raw.decode("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_LINE.search(str(exc))
        reason = "invalid TOML (" + _TOML_LINE.split(str(exc))[0].rstrip(" (") + ")"
        problems.append(ConfigFileError(str(path), reason, int(found[1]) if found else None))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigFileError(str(path), f"cannot be read ({exc})"))
    except RecursionError:
        # tomllib recurses per nesting level: a repository's file of 100,000 `[` would
        # otherwise end every run in a traceback.
        problems.append(ConfigFileError(str(path), "invalid TOML (nested too deeply)"))
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
                        f"[tool.fuse-ls] in {visible(str(pyproject))} is ignored because "
                        f"{visible(str(dedicated))} "
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


def _env_layers(env: Mapping[str, str]) -> list[tuple[dict[str, Any], str, list[str]]]:
    """One layer per variable, so a problem names the variable it came from.

    Generic `FUSE_LS_<SECTION>__<KEY>` come first so the documented shortcuts win.
    Other `FUSE_LS_*` names without `__` are left alone: they may belong to other parts
    of fuse-ls (and FUSE_LS_CONFIG names the user file, it is not a setting).
    """
    layers: list[tuple[dict[str, Any], str, list[str]]] = []
    for name in sorted(env):
        rest = name[len(ENV_PREFIX) :]
        if name.startswith(ENV_PREFIX) and "__" in rest:
            path = rest.lower().split("__")
            layers.append((_set_path(path, env[name].strip()), name, path))
    for name, path in _ENV_SHORTCUTS.items():
        if name in env:
            layers.append((_set_path(path, env[name].strip()), name, path))
    if "FUSE_LS_MODELS" in env:
        ids = [part.strip() for part in env["FUSE_LS_MODELS"].split(",") if part.strip()]
        layers.append(({"pool": ids}, "FUSE_LS_MODELS", ["pool"]))
    return layers


def _editor_layers(
    editor: Mapping[str, Any] | Sequence[EditorLayer],
) -> list[tuple[Any, str, Spelling]]:
    """The editor's layers, normalised. A later layer is the editor's newer word: what it
    sets is taken out of the earlier ones, so a value sent both at start-up and in the
    pulled settings is checked (and reported) once, under the source that is in force."""
    if isinstance(editor, Mapping):
        editor = [EditorLayer(editor)] if editor else []
    out: list[tuple[Any, str, Spelling]] = []
    for layer in editor:
        data, prefix = layer.data, layer.prefix
        if len(data) == 1 and next(iter(data)) in _EDITOR_SECTIONS:
            section, data = next(iter(data.items()))
            prefix = prefix or f"{section}."
            data = data or {}
        if not isinstance(data, Mapping):
            out.append((data, layer.source, Spelling(prefix=prefix)))
            continue
        written: dict[tuple[str | int, ...], str] = {}
        normalised = normalise(data, written)
        for earlier, _, _ in out:
            if isinstance(earlier, dict):
                _take_out(earlier, normalised)
        out.append((normalised, layer.source, Spelling(written, prefix=prefix)))
    return [o for o in out if o[0] != {}]  # an empty layer is no source of settings


def _take_out(data: dict[str, Any], over: Mapping[str, Any]) -> None:
    """Remove from `data` what `over` replaces when the two are deep-merged."""
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(data.get(key), dict):
            _take_out(data[key], value)
            if not data[key]:
                del data[key]
        else:
            data.pop(key, None)


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
    editor: Mapping[str, Any] | Sequence[EditorLayer] | None = None,
    env: Mapping[str, str] | None = None,
    user_config: Path | None = None,
    trusted: bool = False,
) -> LoadedSettings:
    """Defaults < user file < workspace file < editor settings < environment.

    The workspace file is the repository's: its keys pass through `fuse_ls.trust.restrict`.
    `trusted` is the editor's workspace trust or `--trust`; the user's trust list is
    consulted as well.

    `editor` is one mapping (labelled "editor settings") or the editor's layers, oldest
    first. Problems name each key as its layer spelled it.

    Never raises for user input: a bad key is reported in `problems` and falls back to
    the value of the layer below. `env` defaults to os.environ; `user_config` to
    $FUSE_LS_CONFIG, else the platform config dir's fuse-ls/config.toml (a missing
    default or passed-in file is simply not used).
    """
    env = os.environ if env is None else env
    problems: list[ConfigError] = []
    sources = ["defaults"]
    layers: list[tuple[Any, str, bool, Spelling | None]] = []  # spelling None: not yet read
    workspace_source = None

    user_path, named = _user_config_path(user_config, env)
    if user_path.is_file():
        data = _read_toml(user_path, problems)
        if data is not None:
            layers.append((data, str(user_path), False, None))
    elif named:
        problems.append(ConfigFileError(str(user_path), f"not found ({_USER_CONFIG_ENV})"))
    if workspace is not None:
        found = _workspace_layer(workspace, problems)
        if found is not None:
            layers.append((found[0], found[1], False, None))
            workspace_source = found[1]
        trusted = trusted or trust.is_listed(workspace)
    if editor:
        layers.extend((data, source, False, sp) for data, source, sp in _editor_layers(editor))
    env_layers = _env_layers(env)
    layers.extend(
        (data, ENV_SOURCE, True, Spelling(variable=name, at=tuple(path)))
        for data, name, path in env_layers
    )

    below = settings_to_dict(Settings())
    # dotted key -> the layer that set it last, and how that layer spells keys
    origin: dict[str, tuple[str, Spelling]] = {}
    settings = Settings()
    for raw, source, from_env, known_spelling in layers:
        if not isinstance(raw, Mapping):
            problems.append(ConfigError("settings", raw, type_text(Settings), source))
            raw = {}
        spelling = known_spelling or Spelling()
        if known_spelling is None:
            written: dict[tuple[str | int, ...], str] = {}
            layer = normalise(raw, written)
            spelling = Spelling(written)
        else:
            layer = normalise(raw)
        settings, bad = apply_layer(below, layer, source, from_env, spelling=spelling)
        problems.extend(bad)
        if source == workspace_source and workspace is not None:
            layer, ignored = trust.restrict(
                layer,
                below,
                trusted=trusted,
                source=source,
                workspace=workspace,
                name=spelling.named,
            )
            problems.extend(
                ConfigNotice(", ".join(i.keys), i.message, source, ", ".join(i.settings))
                for i in ignored
            )
            settings, bad = apply_layer(below, layer, source, spelling=spelling)
            problems.extend(bad)
        below = settings_to_dict(settings)
        origin.update(dict.fromkeys(_leaves(layer), (source, spelling)))
        if not from_env:
            sources.append(source)
    if env_layers:
        sources.append("environment (" + ", ".join(name for _, name, _ in env_layers) + ")")

    settings = _check_quorum(settings, origin, problems)
    return LoadedSettings(settings, sources, problems, trusted=trusted, origins=origin)


def _check_quorum(
    settings: Settings, origin: Mapping[str, tuple[str, Spelling]], problems: list[ConfigError]
) -> Settings:
    """The one check across layers: the quorum may come from a file and the pool from the
    environment or a flag. No lower value is known to fit the new pool, so fall back to
    null (wait for the whole pool), the safe reading of "more answers than models"."""
    source, spelling = origin.get("quorum.min_responses", ("", Spelling()))
    problem = min_responses_problem(settings, source, spelling)
    if problem is None:
        return settings
    problems.append(problem)
    return replace(settings, {"quorum.min_responses": None})


def apply_flags(
    loaded: LoadedSettings, flags: Sequence[tuple[str, str, Any]]
) -> tuple[Settings, list[ConfigError]]:
    """Command-line flags over loaded settings: each `(flag, dotted setting, value)` is a
    layer of its own, checked like any other, so a problem names the flag as the user typed
    it (`--models`) in the words the same value gets from a file or variable. A bad flag's
    setting keeps its loaded value; the caller decides whether a problem stops the run."""
    settings, problems = loaded.settings, []
    origin = dict(loaded.origins)
    for flag, setting, value in flags:
        path = setting.split(".")
        layer = _set_path(path, value)
        spelling = Spelling(variable=flag, at=tuple(path))
        below = settings_to_dict(settings)
        settings, bad = apply_layer(below, layer, FLAGS_SOURCE, spelling=spelling)
        problems.extend(bad)
        origin.update(dict.fromkeys(_leaves(layer), (FLAGS_SOURCE, spelling)))
    return _check_quorum(settings, origin, problems), problems
