"""From user data to `Settings`, one layer at a time, key by key.

A layer (a file, the editor's object, one environment variable) is structured with
cattrs over the valid layers below it. Each field's own hook checks its type strictly
(`true` is not a count, `"no"` not a bool) and then runs the attrs validators its
metadata declares (`fuse_ls.core.specs`). A failure names its path; the bad key is
dropped from that layer, so it falls back to the value below, and the layer is
structured again: every other key of the layer still applies, messages name the layer a
value came from, and nothing here raises for user input. A bad value inside a pool
entry, the judge or a verify command drops that whole value (half a model spec is not
what the user asked for); an unknown key is a warning and only that key is dropped.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, get_args, get_origin

import attrs
import cattrs
from attrs import NOTHING, frozen
from cattrs.cols import list_structure_factory
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, override

from fuse_ls.config.spelling import KeyPath, Spelling, dotted, styled
from fuse_ls.core.errors import ConfigError, UnknownSetting
from fuse_ls.core.settings import Settings, VerifyCommand
from fuse_ls.core.specs import CHECK, EXPECTED, Invalid, ModelSpec


class _Mismatch(TypeError):
    """A value of the wrong type or out of range: the field's words say what is expected."""


class _Unset(ValueError):
    """null for a key that cannot be null. Editors send null for what the user never set."""


Hook = Callable[[Any, Any], Any]


def _int(value: Any, _: Any) -> int:
    # bool is an int in Python; `true` is never a valid count here.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():  # JSON clients may send 3.0
        return int(value)
    raise _Mismatch


def _float(value: Any, _: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise _Mismatch


def _exactly(kind: type) -> Hook:
    """cattrs would call `bool("no")` or `str(5)`; a setting takes the type it says."""

    def hook(value: Any, _: Any) -> Any:
        if isinstance(value, kind):
            return value
        raise _Mismatch

    return hook


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _read_env(read: Callable[[str], Any], then: Hook) -> Hook:
    """Environment values are strings: read one as the field's type first."""

    def hook(value: Any, t: Any) -> Any:
        if isinstance(value, str):
            try:
                value = read(value)
            except ValueError:
                raise _Mismatch from None
        return then(value, t)

    return hook


def _env_bool(text: str) -> bool | str:
    lowered = text.lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else text


def _is_list(t: Any) -> bool:
    return get_origin(t) is list


def _is_optional(t: Any) -> bool:
    return type(None) in get_args(t)


def _make_converter(from_env: bool) -> cattrs.Converter:
    converter = cattrs.Converter()
    hooks: dict[type, Hook] = {int: _int, float: _float, bool: _exactly(bool), str: _exactly(str)}
    if from_env:
        hooks[int] = _read_env(int, _int)
        hooks[float] = _read_env(float, _float)
        hooks[bool] = _read_env(_env_bool, hooks[bool])
    for kind, hook in hooks.items():
        converter.register_structure_hook(kind, hook)

    def lists(t: Any) -> Hook:
        structure = list_structure_factory(t, converter)
        one_command = from_env and get_args(t) == (VerifyCommand,)

        def hook(value: Any, _: Any) -> Any:
            if one_command and isinstance(value, str):
                value = [value] if value else []
            if not isinstance(value, list | tuple):  # cattrs would iterate a string
                raise _Mismatch
            return structure(value, t)

        return hook

    def optionals(t: Any) -> Hook:
        inner_type = next(a for a in get_args(t) if a is not type(None))
        inner = converter.get_structure_hook(inner_type)

        def hook(value: Any, _: Any) -> Any:
            if value is None or (isinstance(value, str) and value.lower() in ("null", "none")):
                return None
            return inner(value, inner_type)

        return hook

    def classes(cl: Any) -> Hook:
        attrs.resolve_types(cl)
        fields = attrs.fields(cl)
        overrides: dict[str, Any] = {
            a.name: override(struct_hook=_field_hook(converter, a)) for a in fields
        }
        structure = make_dict_structure_fn(
            cl, converter, _cattrs_forbid_extra_keys=True, **overrides
        )
        required = [a.name for a in fields if a.default is NOTHING]

        def hook(value: Any, _: Any) -> Any:
            if isinstance(value, str) and len(required) == 1:
                value = {required[0]: value}  # "openai/gpt-5" for {id = "openai/gpt-5"}
            if not isinstance(value, Mapping):
                raise _Mismatch
            return structure(value, cl)

        return hook

    converter.register_structure_hook_factory(_is_list, lists)
    if from_env:
        converter.register_structure_hook_factory(_is_optional, optionals)
    converter.register_structure_hook_factory(attrs.has, classes)
    return converter


def _field_hook(converter: cattrs.Converter, a: attrs.Attribute[Any]) -> Hook:
    """Structure one field by its type, then run the checks its metadata declares."""
    inner = converter.get_structure_hook(a.type)
    check = a.metadata.get(CHECK)
    nullable = _is_optional(a.type)

    def hook(value: Any, t: Any) -> Any:
        if value is None and not nullable:
            raise _Unset
        out = inner(value, t)
        if check is not None:
            try:
                check(None, a, out)
            except Invalid:
                raise
            except (ValueError, TypeError):
                raise _Mismatch from None
        return out

    return hook


_JSON = _make_converter(from_env=False)
_ENV = _make_converter(from_env=True)


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """Plain data (snake_case keys) for `fuse-ls doctor` and `--json` output."""
    data: dict[str, Any] = _JSON.unstructure(settings)
    return data


# --- from a failed structure to problems ------------------------------------------------

_RAW = object()  # show the value the layer gave


@frozen
class _Failure:
    path: KeyPath
    expected: str  # completes "expected ..."; for an unknown key, the keys of its table
    kind: Literal["bad", "unset", "unknown"] = "bad"
    shown: Any = _RAW


def type_text(t: Any) -> str:
    base = next((a for a in get_args(t) if a is not type(None)), t) if _is_optional(t) else t
    if get_origin(base) is Literal:
        text = "one of " + ", ".join(repr(a) for a in get_args(base))
    elif attrs.has(base):
        text = "a table with the keys " + ", ".join(a.name for a in attrs.fields(base))
    else:
        text = {bool: "true or false", int: "an integer", float: "a number"}.get(base, "a string")
    return text + (" or null" if _is_optional(t) else "")


def _note(exc: BaseException, kind: type[Any]) -> Any:
    return next((n for n in getattr(exc, "__notes__", ()) if isinstance(n, kind)), None)


def _failures(exc: BaseException, path: KeyPath = (), expected: str = "") -> Iterator[_Failure]:
    """Every bad key under a cattrs error, by path, with the words its field declares."""
    if isinstance(exc, ClassValidationError):
        fields = attrs.fields_dict(exc.cl)
        for sub in exc.exceptions:
            if isinstance(sub, ForbiddenExtraKeysError):
                known = ", ".join(fields)
                yield from (
                    _Failure((*path, str(k)), known, "unknown") for k in sorted(sub.extra_fields)
                )
                continue
            note = _note(sub, AttributeValidationNote)
            if note is None:  # the class itself failed: nothing finer to say
                yield _Failure(path, expected)
                continue
            a = fields[note.name]
            words = a.metadata.get(EXPECTED) or type_text(a.type)
            yield from _failures(sub, (*path, note.name), words)
    elif isinstance(exc, IterableValidationError):
        for sub in exc.exceptions:
            note = _note(sub, IterableValidationNote)
            if note is None:
                yield _Failure(path, expected)
                continue
            yield from _failures(sub, (*path, note.index), type_text(note.type))
    elif isinstance(exc, Invalid):
        yield _Failure(path, exc.expected, shown=exc.shown)
    elif isinstance(exc, _Unset):
        yield _Failure(path, expected, "unset")
    else:  # a KeyError: a required key (a pool entry's id) is missing
        yield _Failure(path, expected, shown=None if isinstance(exc, KeyError) else _RAW)


def _unit(path: KeyPath) -> KeyPath:
    """The value a bad key takes down with it: a whole pool, judge or command list."""
    cl: Any = Settings
    for i, part in enumerate(path):
        a = attrs.fields_dict(cl).get(str(part))
        t = a.type if a is not None else None
        if not (isinstance(t, type) and attrs.has(t)):
            return path[: i + 1]
        if any(f.default is NOTHING for f in attrs.fields(t)):
            return path[: i + 1]  # a model spec: it has a required id
        cl = t
    return path


def _lookup(data: Any, path: KeyPath) -> Any:
    for part in path:
        if isinstance(data, str):
            return data  # the short form of a model spec or command: its id / run
        in_table = isinstance(data, Mapping) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if not (in_table or in_list):
            return None
        data = data[part]
    return data


def _delete(data: dict[str, Any], path: KeyPath) -> bool:
    parent = _lookup(data, path[:-1])
    if isinstance(parent, dict) and path and path[-1] in parent:
        del parent[path[-1]]
        return True
    return False


# Values that may be secrets are never echoed back in a message (which ends up in logs
# and editor popups): a key pasted where its variable *name* belongs, or anything the
# secret redaction would touch.
_HIDDEN = "<hidden>"


def _may_be_secret(key: str | int, value: Any) -> bool:
    # Imported for a bad value only: compiling the redaction rules costs ~20 ms that
    # every settings load would pay.
    from fuse_ls.core.redact import redact

    # A base URL's `user:password@` (a gateway's login), also with the scheme left out,
    # which the redaction's URL rule needs to see one.
    userinfo = key == "base_url" and "@" in str(value)
    return key == "api_key_env" or userinfo or redact(repr(value)).redacted


def _problem(
    failure: _Failure, layer: Any, source: str, from_env: bool, spelling: Spelling
) -> ConfigError:
    path = failure.path
    setting, key = dotted(path), spelling.key(path)
    if failure.kind == "unknown":
        prefix = dotted(path[:-1])
        known = failure.expected.split(", ")
        suggestion = _suggest(prefix + "." if prefix else "", str(path[-1]), known)
        # Known keys in the user's own style: `min-votes` for one who wrote `min-vote`.
        style = spelling.style(path)
        if spelling.variable:
            where, choices = "variable", [spelling.known(f"{prefix}.{k}") for k in known]
        else:
            table = spelling.key(path[:-1])
            where = f"key of '{table}'" if table else "key of the settings"
            choices = [str(styled(k, style)) for k in known]
        hint = f"a known {where}" + (
            f" (did you mean '{spelling.known(suggestion, style)}'?)"
            if suggestion
            else f": {', '.join(choices)}"
        )
        return UnknownSetting(key, hint, source, setting)
    shown = _lookup(layer, path) if failure.shown is _RAW else failure.shown
    if path and _may_be_secret(path[-1], shown):
        shown = _HIDDEN
    expected = failure.expected
    if from_env and expected.startswith("true or false"):
        expected = "1 or 0 (true or false)"
    return ConfigError(key, shown, expected, source, setting)


def _dotted_keys(cl: Any = Settings, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for a in attrs.fields(attrs.resolve_types(cl)):
        sections = attrs.has(a.type) and a.type is not ModelSpec
        keys.extend(_dotted_keys(a.type, f"{a.name}.") if sections else [prefix + a.name])
    return keys


def _suggest(prefix: str, key: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return prefix + close[0]
    # A right key in the wrong table (`min_responses` at the top level): find it anywhere.
    everywhere = _dotted_keys()
    same_leaf = [k for k in everywhere if k.rsplit(".", 1)[-1] == key]
    if same_leaf:
        return same_leaf[0]
    by_leaf = {k.rsplit(".", 1)[-1]: k for k in everywhere}
    close = difflib.get_close_matches(key, list(by_leaf), n=1, cutoff=0.7)
    return by_leaf[close[0]] if close else None


# --- one layer --------------------------------------------------------------------------


def apply_layer(
    below: dict[str, Any],
    layer: dict[str, Any],
    source: str,
    from_env: bool = False,
    strict: bool = False,
    spelling: Spelling | None = None,
) -> tuple[Settings, list[ConfigError]]:
    """Structure `layer` over `below` (valid), dropping each bad key from `layer` (in place)
    until the rest structures. `strict`: a null for a non-null key is a problem too.
    `spelling`: how the layer wrote its keys, for the messages."""
    spelling = spelling or Spelling()
    converter = _ENV if from_env else _JSON
    problems: list[ConfigError] = []
    while True:
        try:
            return converter.structure(merge(below, layer), Settings), problems
        except (cattrs.BaseValidationError, _Mismatch) as exc:
            failures = list(_failures(exc))
        dropped = False
        for failure in failures:
            unit = failure.path if failure.kind == "unknown" else _unit(failure.path)
            if strict or failure.kind != "unset" or unit != failure.path:
                problems.append(_problem(failure, layer, source, from_env, spelling))
            dropped = _delete(layer, unit) or dropped
        if not dropped:  # not from this layer: a bug, but the server stays usable
            layer.clear()
            return _JSON.structure(below, Settings), problems


def _pool_calls(settings: Settings) -> int:
    return sum(spec.repeat for spec in settings.pool)


def min_responses_problem(
    settings: Settings, source: str, spelling: Spelling | None = None
) -> ConfigError | None:
    wanted, calls = settings.quorum.min_responses, _pool_calls(settings)
    if wanted is None or wanted <= calls:
        return None
    allowed = f"an integer from 1 to the pool size ({calls}) or null"
    setting = "quorum.min_responses"
    key = (spelling or Spelling()).key(("quorum", "min_responses"))
    return ConfigError(key, wanted, allowed, source, setting)


def validate_settings(settings: Settings) -> list[ConfigError]:
    """Every problem of an already built Settings (for settings made in code)."""
    _, problems = apply_layer({}, settings_to_dict(settings), source="", strict=True)
    problem = min_responses_problem(settings, "")
    return [*problems, *([problem] if problem else [])]


def merge(base: dict[str, Any], over: Mapping[str, Any], top: bool = True) -> dict[str, Any]:
    """Deep-merge tables; lists (the pool) replace. A judge that names an `id` is a
    different model and replaces the judge; one without `id` tweaks the current one."""
    out = dict(base)
    for key, value in over.items():
        replaces = top and key == "judge" and isinstance(value, Mapping) and "id" in value
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not replaces:
            out[key] = merge(out[key], value, top=False)
        else:
            out[key] = value
    return out
