# Over 500 lines: one contract (shapes, per-key checks, layered loading, trust).
"""Typed settings. The shape here is the contract shared by the engine, the server,
the editors (initializationOptions / workspace/configuration) and the config files.

Keys are snake_case in files; camelCase from editors is accepted too.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

import attrs
import cattrs
import platformdirs
from attrs import define, field, frozen

from fuse_ls import trust
from fuse_ls.core.errors import ConfigError, ConfigFileError, ConfigNotice
from fuse_ls.core.specs import ModelSpec
from fuse_ls.core.types import Endpoint, Mode

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"


@frozen
class QuorumSettings:
    min_responses: int | None = None  # None: wait for the whole pool (until the deadline)
    deadline_s: float = 90.0


@frozen
class TimeoutSettings:
    connect_s: float = 10.0
    request_s: float = 120.0  # one model call, streaming included
    first_token_s: float = 60.0


@frozen
class RetrySettings:
    max_attempts: int = 3  # total attempts, the first included
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0


@frozen
class BudgetSettings:
    max_usd_per_request: float | None = 0.50
    max_usd_per_day: float | None = 10.0


@frozen
class ProviderSettings:
    base_url: str = OPENROUTER_BASE_URL
    api_key_env: str = "OPENROUTER_API_KEY"
    referer: str = "https://github.com/fuse-ls/fuse-ls"
    title: str = "fuse-ls"
    # Ask OpenRouter to route only to providers that do not train on our prompts.
    deny_data_collection: bool = True


@frozen
class DebateSettings:
    rounds: int = 1  # 1..3


@frozen
class ReviewSettings:
    context_lines: int = 20  # lines around the selection given as context
    redact_secrets: bool = True  # redact secret-looking code before it leaves the machine
    # Votes an unconfirmed finding needs to be reported in a pool of 3+ (the quorum also
    # grows to a third of bigger pools); fewer make it a hint. See fuse_ls/fusion/votes.py.
    min_votes_for_warning: int = 2


@frozen
class TelemetrySettings:
    enabled: bool = True  # local only; nothing leaves the machine without `fuse-ls upload`
    record_content: bool = False
    retention_days: int = 90
    max_total_mb: int = 200
    max_lines_per_file: int = 5000  # Rudel's analytics stop near 8,000 lines
    data_dir: str | None = None  # None: the platform data dir
    # OpenTelemetry (the `otel` extra): traces and metrics over OTLP/HTTP, off by default.
    otel: bool = False
    otel_endpoint: str | None = None  # None: the OTEL_EXPORTER_OTLP_* variables decide
    otel_content: bool = False  # also export code and answers (redacted)


@frozen
class VerifyCommand:
    run: str  # a shell command line, run in the isolated copy's workspace folder
    timeout_s: float | None = None  # None: verify.timeout_s


@frozen
class VerifySettings:
    """Checks a fused fix must pass in an isolated copy before it is applied (issue 15).

    `commands` run programs, so a workspace file sets them only once the workspace is
    trusted (fuse_ls/trust.py); they never come from a model's answer."""

    commands: list[VerifyCommand] = field(factory=list)
    timeout_s: float = 300.0  # per command
    max_output_kb: int = 64  # per command: the first quarter and the last part are kept
    concurrency: int = 2  # verifications at once (each runs its commands one by one)


@frozen
class Settings:
    pool: list[ModelSpec] = field(
        factory=lambda: [
            ModelSpec("anthropic/claude-sonnet-4.5"),
            ModelSpec("openai/gpt-5"),
            ModelSpec("google/gemini-2.5-pro"),
        ]
    )
    judge: ModelSpec = field(factory=lambda: ModelSpec("openai/gpt-5-mini"))
    mode: Mode = "merge"
    quorum: QuorumSettings = field(factory=QuorumSettings)
    timeouts: TimeoutSettings = field(factory=TimeoutSettings)
    retries: RetrySettings = field(factory=RetrySettings)
    budget: BudgetSettings = field(factory=BudgetSettings)
    provider: ProviderSettings = field(factory=ProviderSettings)
    debate: DebateSettings = field(factory=DebateSettings)
    review: ReviewSettings = field(factory=ReviewSettings)
    telemetry: TelemetrySettings = field(factory=TelemetrySettings)
    verify: VerifySettings = field(factory=VerifySettings)

    def endpoint_for(self, spec: ModelSpec) -> Endpoint:
        headers = {"HTTP-Referer": self.provider.referer, "X-OpenRouter-Title": self.provider.title}
        return Endpoint(
            base_url=(spec.base_url or self.provider.base_url).rstrip("/"),
            api_key_env=spec.api_key_env or self.provider.api_key_env,
            headers=headers,
        )


def replace(settings: Settings, changes: Mapping[str, Any]) -> Settings:
    """A copy of `settings` with dotted keys changed: `{"provider.base_url": url}`.

    Settings are frozen: the CLI, the demo and the server each hold what they loaded,
    and nothing changes it under another's feet.
    """
    top: dict[str, Any] = {}
    for dotted, value in changes.items():
        section, _, name = dotted.partition(".")
        if name:
            current = top.get(section, getattr(settings, section))
            top[section] = attrs.evolve(current, **{name: value})
        else:
            top[section] = value
    return attrs.evolve(settings, **top)


# --- loading ---------------------------------------------------------------------------
#
# Each layer (a file, the editor's object, one environment variable) is checked on its
# own, key by key, *before* it is merged: a bad key is dropped with a problem, so it falls
# back to the value of the layer below, and the rest of that layer still applies. The
# merged, already valid dict is then structured with cattrs. Checking per key ourselves,
# rather than letting cattrs fail on the merged whole, is what makes the key-by-key
# fallback possible and lets messages name the layer a bad value came from.

MAX_POOL_CALLS = 16  # sum of `repeat` over the pool: more is a cost accident, not a config
_USER_CONFIG_ENV = "FUSE_LS_CONFIG"
_ENV_PREFIX = "FUSE_LS_"
_EDITOR_SECTIONS = ("fuseLs", "fuse_ls", "fuse-ls")  # a client may send the section wrapped

_converter = cattrs.Converter(forbid_extra_keys=True)


@define
class LoadedSettings:
    settings: Settings
    sources: list[str] = field(factory=list)  # "defaults", file paths, "editor settings", ...
    problems: list[ConfigError] = field(factory=list)
    trusted: bool = False  # whether the workspace file could choose endpoints and keys


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """Plain data (snake_case keys) for `fuse-ls doctor` and `--json` output."""
    data: dict[str, Any] = _converter.unstructure(settings)
    return data


# --- rules ----------------------------------------------------------------------------


@frozen
class _Rule:
    check: Callable[[Any], bool]  # gets a value already of the field's type (None allowed)
    allowed: str  # completes "expected ...": type and range together


def _number(
    integer: bool,
    *,
    low: float | None = None,
    high: float | None = None,
    above: float | None = None,
    nullable: bool = False,
) -> _Rule:
    kind = "an integer" if integer else "a number"

    def fmt(x: float) -> str:
        return str(int(x)) if integer else f"{x:g}"

    if low is not None and high is not None:
        text = f"{kind} from {fmt(low)} to {fmt(high)}"
    elif low is not None:
        text = f"{kind} >= {fmt(low)}"
    elif above is not None:
        text = f"{kind} > {fmt(above)}"
    else:
        text = kind

    def check(value: Any) -> bool:
        if value is None:
            return nullable
        if low is not None and value < low:
            return False
        if high is not None and value > high:
            return False
        return above is None or value > above

    return _Rule(check, text + (" or null" if nullable else ""))


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _is_env_name(value: Any) -> bool:
    return isinstance(value, str) and _ENV_NAME.fullmatch(value) is not None


def _optional(rule: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or rule(v)


_URL_TEXT = "an http:// or https:// URL such as 'https://openrouter.ai/api/v1'"
_ENV_TEXT = "the name of an environment variable such as 'OPENROUTER_API_KEY', never a key"
_POSITIVE = _number(False, above=0)

_RULES: dict[tuple[type, str], _Rule] = {
    (ModelSpec, "id"): _Rule(
        lambda v: bool(v.strip()), "a non-empty model id such as 'openai/gpt-5'"
    ),
    (ModelSpec, "base_url"): _Rule(_optional(_is_url), _URL_TEXT + " or null"),
    (ModelSpec, "api_key_env"): _Rule(_optional(_is_env_name), _ENV_TEXT + ", or null"),
    (ModelSpec, "repeat"): _number(True, low=1, high=8),
    (ModelSpec, "max_tokens"): _number(True, low=1, nullable=True),
    (ModelSpec, "temperature"): _number(False, low=0, high=2, nullable=True),
    (QuorumSettings, "min_responses"): _number(True, low=1, nullable=True),
    (QuorumSettings, "deadline_s"): _POSITIVE,
    (TimeoutSettings, "connect_s"): _POSITIVE,
    (TimeoutSettings, "request_s"): _POSITIVE,
    (TimeoutSettings, "first_token_s"): _POSITIVE,
    (RetrySettings, "max_attempts"): _number(True, low=1, high=10),
    (RetrySettings, "backoff_base_s"): _number(False, low=0),
    (RetrySettings, "backoff_max_s"): _number(False, low=0),
    (BudgetSettings, "max_usd_per_request"): _number(False, low=0, nullable=True),
    (BudgetSettings, "max_usd_per_day"): _number(False, low=0, nullable=True),
    (ProviderSettings, "base_url"): _Rule(_is_url, _URL_TEXT),
    (ProviderSettings, "api_key_env"): _Rule(_is_env_name, _ENV_TEXT),
    (DebateSettings, "rounds"): _number(True, low=1, high=3),
    (ReviewSettings, "context_lines"): _number(True, low=0),
    (ReviewSettings, "min_votes_for_warning"): _number(True, low=1),
    (TelemetrySettings, "retention_days"): _number(True, low=1),
    (TelemetrySettings, "max_total_mb"): _number(True, low=1),
    (TelemetrySettings, "max_lines_per_file"): _number(True, low=1),
    (TelemetrySettings, "data_dir"): _Rule(
        lambda v: v is None or bool(v.strip()), "a directory path or null"
    ),
    (VerifyCommand, "run"): _Rule(lambda v: bool(v.strip()), "a non-empty command line"),
    (VerifyCommand, "timeout_s"): _number(False, above=0, nullable=True),
    (VerifySettings, "timeout_s"): _POSITIVE,
    (VerifySettings, "max_output_kb"): _number(True, low=1, high=10240),
    (VerifySettings, "concurrency"): _number(True, low=1, high=16),
    (TelemetrySettings, "otel_endpoint"): _Rule(
        lambda v: v is None or _is_url(v), "an http(s) URL of an OTLP collector, or null"
    ),
}

# Values that may be secrets are never echoed back in a message (which ends up in logs
# and editor popups): a key pasted where its variable *name* belongs, or an unknown key
# such as `api_key`.
_HIDDEN = "<hidden>"
_SECRETISH = re.compile(r"key|token|secret|password", re.IGNORECASE)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _split_optional(hint: Any) -> tuple[Any, bool]:
    if get_origin(hint) in (Union, UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        return args[0], len(args) < len(get_args(hint))
    return hint, False


def _type_text(base: Any, nullable: bool) -> str:
    if get_origin(base) is Literal:
        text = "one of " + ", ".join(repr(a) for a in get_args(base))
    else:
        text = {bool: "true or false", int: "an integer", float: "a number"}.get(base, "a string")
    return text + (" or null" if nullable else "")


class _Invalid(Exception):
    pass


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _from_env_string(text: str, base: Any, nullable: bool) -> Any:
    """Environment values are strings; turn one into the field's type."""
    text = text.strip()
    if text.lower() in ("null", "none"):
        if nullable:
            return None
        raise _Invalid
    try:
        if base is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise _Invalid
        if base is int:
            return int(text)
        if base is float:
            return float(text)
    except ValueError:
        raise _Invalid from None
    return text


def _coerce(value: Any, hint: Any, from_env: bool) -> Any:
    """Check (and for env strings, convert) one leaf value; raise _Invalid if wrong."""
    base, nullable = _split_optional(hint)
    if from_env and isinstance(value, str):
        value = _from_env_string(value, base, nullable)
    if value is None:
        if nullable:
            return None
        raise _Invalid
    # bool is an int in Python; `true` is never a valid count or number here.
    if base is bool:
        if isinstance(value, bool):
            return value
    elif base is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():  # JSON clients may send 3.0
            return int(value)
    elif base is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    elif get_origin(base) is Literal:
        if value in get_args(base):
            return value
    elif isinstance(value, str):
        return value
    raise _Invalid


# --- checking one layer ---------------------------------------------------------------

_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _snake(key: str) -> str:
    return _CAMEL.sub(r"_\1", key).replace("-", "_").lower()


def _normalise(value: Any) -> Any:
    """camelCase (and kebab-case) keys to snake_case, recursively; values untouched."""
    if isinstance(value, Mapping):
        return {_snake(str(k)): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    return value


@cache
def _all_dotted_keys() -> tuple[str, ...]:
    keys: list[str] = []
    for name, hint in _hints(Settings).items():
        base, _ = _split_optional(hint)
        if attrs.has(base) and base is not ModelSpec:
            keys.extend(f"{name}.{sub}" for sub in _hints(base))
        else:
            keys.append(name)
    return tuple(keys)


def _suggest(prefix: str, key: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return prefix + close[0]
    # A right key in the wrong table (`min_responses` at the top level): find it anywhere.
    everywhere = _all_dotted_keys()
    same_leaf = [k for k in everywhere if k.rsplit(".", 1)[-1] == key]
    if same_leaf:
        return same_leaf[0]
    by_leaf = {k.rsplit(".", 1)[-1]: k for k in everywhere}
    close = difflib.get_close_matches(key, list(by_leaf), n=1, cutoff=0.7)
    return by_leaf[close[0]] if close else None


@define
class _Checker:
    """Checks the tables of one layer, collecting problems and dropping bad keys."""

    source: str
    from_env: bool
    strict: bool = False  # None for a non-optional key: unset (editors send nulls) or bad
    problems: list[ConfigError] = field(factory=list)
    bad_values: int = 0  # problems other than unknown keys

    def bad(self, key: str, value: Any, allowed: str) -> None:
        self.bad_values += 1
        self.problems.append(ConfigError(key, value, allowed, self.source))

    def table(self, cls: type, data: Any, prefix: str) -> dict[str, Any] | None:
        hints = _hints(cls)
        if not isinstance(data, Mapping):
            where = prefix.rstrip(".") or "settings"
            self.bad(where, data, "a table with the keys " + ", ".join(hints))
            return None
        out: dict[str, Any] = {}
        for key, value in data.items():
            path = prefix + key
            if key not in hints:
                self.unknown(prefix, key, value, list(hints))
                continue
            base, nullable = _split_optional(hints[key])
            if base is ModelSpec:
                spec = self.model(value, path, need_id=False)
                if spec is not None:
                    out[key] = spec
            elif get_origin(base) is list:
                items = self.pool(value, path) if cls is Settings else self.commands(value, path)
                if items is not None:
                    out[key] = items
            elif attrs.has(base):
                sub = self.table(base, value, path + ".")
                if sub:
                    out[key] = sub
            elif value is None and not nullable and not self.strict and not self.from_env:
                continue
            else:
                self.leaf(cls, key, path, value, hints[key], out)
        return out

    def leaf(
        self, cls: type, key: str, path: str, value: Any, hint: Any, out: dict[str, Any]
    ) -> None:
        rule = _RULES.get((cls, key))
        allowed = rule.allowed if rule else _type_text(*_split_optional(hint))
        if self.from_env and allowed.startswith("true or false"):
            allowed = "1 or 0 (true or false)"
        try:
            coerced = _coerce(value, hint, self.from_env)
        except _Invalid:
            coerced, ok = value, False
        else:
            ok = rule is None or rule.check(coerced)
        if ok:
            out[key] = coerced
        else:
            self.bad(path, _HIDDEN if key == "api_key_env" else value, allowed)

    def unknown(self, prefix: str, key: str, value: Any, known: list[str]) -> None:
        where = f"'{prefix.rstrip('.')}'" if prefix else "the settings"
        suggestion = _suggest(prefix, key, known)
        allowed = f"a known key of {where}" + (
            f" (did you mean '{suggestion}'?)" if suggestion else f": {', '.join(known)}"
        )
        shown = _HIDDEN if _SECRETISH.search(key) else value
        self.problems.append(ConfigError(prefix + key, shown, allowed, self.source))

    def model(self, value: Any, path: str, need_id: bool) -> dict[str, Any] | None:
        """A pool entry or the judge: a model id or a table. None when unusable."""
        if isinstance(value, str):
            value = {"id": value}
        before = self.bad_values
        spec = self.table(ModelSpec, value, path + ".")
        if spec is None or self.bad_values > before:
            return None  # half a model spec is not what the user asked for
        if need_id and "id" not in spec:
            self.bad(path + ".id", None, _RULES[(ModelSpec, "id")].allowed)
            return None
        return spec

    def pool(self, value: Any, path: str) -> list[dict[str, Any]] | None:
        """The pool is one value: any bad entry keeps the lower layer's pool."""
        allowed = "a non-empty list of model ids or {id, repeat, ...} tables"
        if not isinstance(value, list | tuple) or not value:
            self.bad(path, value, allowed)
            return None
        specs = [self.model(entry, f"{path}[{i}]", need_id=True) for i, entry in enumerate(value)]
        good = [s for s in specs if s is not None]
        if len(good) < len(specs):
            return None
        calls = sum(int(s.get("repeat", 1)) for s in good)
        if calls > MAX_POOL_CALLS:
            self.bad(
                path,
                calls,
                f"at most {MAX_POOL_CALLS} model calls in total (the sum of every entry's repeat)",
            )
            return None
        return good

    def commands(self, value: Any, path: str) -> list[dict[str, Any]] | None:
        """`verify.commands`: one value, like the pool; an empty list turns checks off."""
        if self.from_env and isinstance(value, str):
            value = [value] if value.strip() else []
        allowed = "a list of command lines or {run, timeout_s} tables"
        if not isinstance(value, list | tuple):
            self.bad(path, value, allowed)
            return None
        out = []
        for i, entry in enumerate(value):
            if isinstance(entry, str):
                entry = {"run": entry}
            before = self.bad_values
            table = self.table(VerifyCommand, entry, f"{path}[{i}].")
            if table is None or self.bad_values > before:
                return None
            if "run" not in table:
                self.bad(f"{path}[{i}].run", None, _RULES[(VerifyCommand, "run")].allowed)
                return None
            out.append(table)
        return out


def _pool_calls(settings: Settings) -> int:
    return sum(spec.repeat for spec in settings.pool)


def _min_responses_problem(settings: Settings, source: str) -> ConfigError | None:
    wanted, calls = settings.quorum.min_responses, _pool_calls(settings)
    if wanted is None or wanted <= calls:
        return None
    allowed = f"an integer from 1 to the pool size ({calls}) or null"
    return ConfigError("quorum.min_responses", wanted, allowed, source)


def validate_settings(settings: Settings) -> list[ConfigError]:
    """Every problem of an already built Settings (for settings made in code)."""
    checker = _Checker(source="", from_env=False, strict=True)
    checker.table(Settings, settings_to_dict(settings), "")
    problem = _min_responses_problem(settings, "")
    return [*checker.problems, *([problem] if problem else [])]


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
            layers.append((_set_path(rest.lower().split("__"), env[name]), name))
    for name, path in _ENV_SHORTCUTS.items():
        if name in env:
            layers.append((_set_path(path, env[name]), name))
    if "FUSE_LS_MODELS" in env:
        ids = [part.strip() for part in env["FUSE_LS_MODELS"].split(",") if part.strip()]
        layers.append(({"pool": ids}, "FUSE_LS_MODELS"))
    return layers


def _merge(base: dict[str, Any], over: Mapping[str, Any], top: bool = True) -> dict[str, Any]:
    """Deep-merge tables; lists (the pool) replace. A judge that names an `id` is a
    different model and replaces the judge; one without `id` tweaks the current one."""
    out = dict(base)
    for key, value in over.items():
        replaces = top and key == "judge" and "id" in value
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not replaces:
            out[key] = _merge(out[key], value, top=False)
        else:
            out[key] = value
    return out


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

    merged = settings_to_dict(Settings())
    origin: dict[str, str] = {}  # dotted key -> the layer that set it last
    for raw, source, from_env in layers:
        checker = _Checker(source=source, from_env=from_env)
        clean = checker.table(Settings, _normalise(raw), "") or {}
        problems.extend(checker.problems)
        if source == workspace_source and workspace is not None:
            clean, ignored = trust.restrict(
                clean, merged, trusted=trusted, source=source, workspace=workspace
            )
            problems.extend(ConfigNotice(", ".join(i.keys), i.message, source) for i in ignored)
        merged = _merge(merged, clean)
        origin.update(dict.fromkeys(_leaves(clean), source))
        if not from_env:
            sources.append(source)
    if env_layers:
        sources.append("environment (" + ", ".join(name for _, name in env_layers) + ")")

    try:
        settings = _converter.structure(merged, Settings)
    except cattrs.ClassValidationError as exc:  # a bug here, not user input: stay usable
        problems.extend(ConfigError("", None, msg) for msg in cattrs.transform_error(exc))
        settings = Settings()

    # The one check across layers: the quorum may come from a file and the pool from the
    # environment. No lower value is known to fit the new pool, so fall back to null
    # (wait for the whole pool), the safe reading of "more answers than models".
    problem = _min_responses_problem(settings, origin.get("quorum.min_responses", ""))
    if problem is not None:
        problems.append(problem)
        settings = replace(settings, {"quorum.min_responses": None})
    return LoadedSettings(settings, sources, problems, trusted=trusted)
