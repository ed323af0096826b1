"""The JSON shapes fuse-ls exchanges with editors beyond LSP's own (docs/protocol.md):
command arguments, a finding's `Diagnostic.data`, a quick fix's `CodeAction.data`.

Each is an attrs class; one strict cattrs converter turns them into JSON and back. pygls
structures command arguments itself through the hooks `install` registers, so a command
handler receives a checked `TargetArgs`, and a bad argument is answered with -32602 and
a message naming the field.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import attrs
import cattrs
from attrs import field, frozen
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from lsprotocol import types

from fuse_ls.core.types import Mode, Severity

T = TypeVar("T")


def _non_empty(_instance: object, attribute: Any, value: str) -> None:
    if not value:
        raise ValueError(f"'{attribute.name}' must not be empty")


MAX_REQUEST_KEY = 128


def _request_key(_instance: object, _attribute: Any, value: str | None) -> None:
    if value is not None and not 0 < len(value) <= MAX_REQUEST_KEY:
        raise ValueError(f"'requestKey' must be 1 to {MAX_REQUEST_KEY} characters")


def _ordered(_instance: object, _attribute: Any, value: types.Range | None) -> None:
    if value is not None and (value.start.line, value.start.character) > (
        value.end.line,
        value.end.character,
    ):
        raise ValueError("range ends before it starts")


# --- command arguments ----------------------------------------------------------------


@frozen
class TargetArgs:
    """`fuse-ls.review` / `explain` / `fix`: a document, optionally a range and a mode."""

    uri: str = field(validator=_non_empty)
    range: types.Range | None = field(default=None, validator=_ordered)
    mode: Mode | None = None  # this request only; None: the configured mode


@frozen
class FixArgs(TargetArgs):
    """`fuse-ls.fix`: a target, and optionally a key of the client's choosing that the
    fix's `workspace/applyEdit` carries back, so the client knows which request it answers."""

    request_key: str | None = field(default=None, validator=_request_key)


@frozen
class CancelArgs:
    """`fuse-ls.cancel`: one document's fusions, or every fusion."""

    uri: str | None = None


@frozen
class DecisionArgs:
    """`fuse-ls.findingDecision`: the user applied or dismissed a finding's fix."""

    uri: str = field(validator=_non_empty)
    finding_id: str = field(validator=_non_empty)
    decision: Literal["applied", "dismissed"]


@frozen
class VerifyFindingArgs:
    """`fuse-ls.verifyFinding`: run the checks on a finding's quick fix; with `apply`, then
    offer it as an edit whose preview says how the checks went."""

    uri: str = field(validator=_non_empty)
    finding_id: str = field(validator=_non_empty)
    apply: bool = False
    request_key: str | None = field(default=None, validator=_request_key)  # as in FixArgs


# --- data carried in LSP objects --------------------------------------------------------


@frozen
class FixData:
    """A quick fix's `CodeAction.data`: enough to resolve its edit later."""

    uri: str
    finding_id: str


@frozen
class FindingFix:
    replacement: str
    range: types.Range


@frozen
class FindingData:
    """A finding's `Diagnostic.data`: who raised it and how sure they are."""

    uri: str
    fusion_id: str
    finding_id: str
    severity: Severity
    category: str
    votes: int
    pool_size: int
    models: list[str]
    confirmed: bool | None
    rationale: str
    provisional: bool
    fix: FindingFix | None = None
    did_not_answer: int = 0
    not_waited_for: int = 0


# --- the converter ----------------------------------------------------------------------

converter = cattrs.Converter()


def _strict(kind: type[T], label: str) -> Callable[[Any, Any], T]:
    def structure(value: Any, _type: Any) -> T:
        # bool is an int in Python, but never a line number; and no number is a URI.
        if type(value) is not kind:
            raise TypeError(f"expected {label}, got {value!r:.60}")
        return value

    return structure


converter.register_structure_hook(str, _strict(str, "a string"))
converter.register_structure_hook(int, _strict(int, "an integer"))
converter.register_structure_hook(bool, _strict(bool, "true or false"))

_CAMEL = {
    "finding_id": "findingId",
    "fusion_id": "fusionId",
    "pool_size": "poolSize",
    "did_not_answer": "didNotAnswer",
    "not_waited_for": "notWaitedFor",
    "request_key": "requestKey",
}

for _cls in (DecisionArgs, FixArgs, FixData, FindingData, VerifyFindingArgs):
    names = attrs.fields_dict(_cls)
    renames = {name: override(rename=camel) for name, camel in _CAMEL.items() if name in names}
    converter.register_structure_hook(
        _cls,
        make_dict_structure_fn(_cls, converter, **renames),  # type: ignore[arg-type]
    )
    converter.register_unstructure_hook(
        _cls,
        make_dict_unstructure_fn(_cls, converter, **renames),  # type: ignore[arg-type]
    )


def _object_of(cls: type[T], fields: str) -> Callable[[Any, Any], T]:
    """An LSP object (a range, a position) that must be a JSON object, not a number."""
    structure_fields = make_dict_structure_fn(cls, converter)

    def structure(value: Any, _type: Any) -> T:
        if not isinstance(value, dict):
            raise TypeError(f"expected an object {{{fields}}}, got {value!r:.60}")
        return structure_fields(value, cls)

    return structure


converter.register_structure_hook(types.Position, _object_of(types.Position, "line, character"))
converter.register_structure_hook(types.Range, _object_of(types.Range, "start, end"))


def _why(exc: BaseException, type_: Any) -> str:
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, ValueError | TypeError) and str(exc):
        return str(exc)
    # `mode: Mode | None`: the literal inside the optional.
    options = typing.get_args(type_) if typing.get_origin(type_) is typing.Union else (type_,)
    for option in options:
        if typing.get_origin(option) is Literal:
            return f"must be one of {', '.join(map(str, typing.get_args(option)))}"
    return cattrs.v.format_exception(exc, type_)


def _wire_names(message: str) -> str:
    """A message's field path as editors spell the fields: `argument.requestKey`, never
    the Python attribute `request_key` nobody sends."""
    why, at, path = message.rpartition(" @ ")
    if not at:
        return message
    return f"{why} @ " + re.sub(r"[a-z_]+", lambda m: _CAMEL.get(m[0], m[0]), path)


def structure(value: Any, cls: type[T]) -> T:
    """`value` as a `cls`, or a ValueError whose message names every bad field."""
    if not isinstance(value, dict):
        fields = ", ".join(_CAMEL.get(f, f) for f in attrs.fields_dict(cls))  # type: ignore[arg-type]
        raise ValueError(f"expected one argument object {{{fields}}}, got {value!r:.80}")
    try:
        return converter.structure(value, cls)
    except cattrs.BaseValidationError as exc:
        messages = cattrs.transform_error(exc, path="argument", format_exception=_why)
        raise ValueError("; ".join(map(_wire_names, messages))) from None
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None


def unstructure(value: Any) -> Any:
    return converter.unstructure(value)


def install(pygls_converter: cattrs.Converter) -> None:
    """Let pygls structure our command arguments with our strict rules."""
    for cls in (TargetArgs, FixArgs, CancelArgs, DecisionArgs, FixData, VerifyFindingArgs):
        pygls_converter.register_structure_hook(
            cls, lambda value, _type, cls=cls: structure(value, cls)
        )
