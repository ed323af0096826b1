"""Typed model answers: the shape each structured call asks for, and how it is parsed.

Every JSON schema sent to a model is generated from the attrs classes here, so what is
asked and what is parsed cannot drift apart. The schemas follow the strict
structured-output rules (OpenAI and OpenRouter `strict: true`): every object lists all
of its properties as required and allows no others, and a value that may be absent is
nullable instead of optional.

Parsing goes the other way and is forgiving where that is harmless (extra keys, a
missing `end_line`, severity aliases, a number sent as a string) and strict where a
value would hurt (a line of 1e999, a negative line, a message that is a list). A bad
entry of a list is dropped and counted, never fatal: one odd finding must not cost the
other findings of that model, let alone the fusion. Only an answer that lacks its
essential part (a review without a findings list, a fix without replacement text) is
malformed.
"""

from __future__ import annotations

import math
import re
import types
from collections import Counter
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, Generic, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import attrs
import cattrs
from attrs import field, frozen
from cattrs.gen import make_dict_structure_fn

from fuse_ls.core.errors import MalformedAnswer
from fuse_ls.core.types import Finding, JsonSchema, Severity
from fuse_ls.safetext import printable, shorten

T = TypeVar("T")

MAX_LINE = 10_000_000  # no source file has more lines; larger numbers are garbage
MAX_ITEMS = 200  # entries read from one list of one answer; the rest are dropped
MESSAGE_CHARS = 2_000  # a finding message or a rationale; longer is cut
LABEL_CHARS = 64  # categories, ids, response labels
REPLACEMENT_CHARS = 100_000  # a finding's replacement code; longer ones are dropped

_SEVERITY_ALIASES: dict[str, Severity] = {
    "error": "error",
    "critical": "error",
    "blocker": "error",
    "high": "error",
    "major": "warning",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "info": "info",
    "information": "info",
    "minor": "info",
    "low": "info",
    "note": "info",
    "hint": "hint",
    "nit": "hint",
    "style": "hint",
    "trivial": "hint",
}


def normalise_severity(value: object) -> Severity:
    """A model's severity word as one of ours; anything unknown is a warning."""
    return _SEVERITY_ALIASES.get(str(value).strip().lower(), "warning")


# --- field helpers ----------------------------------------------------------------------


def _message(text: str) -> str:
    return shorten(text.strip(), MESSAGE_CHARS)


def _label(text: str) -> str:
    return shorten(text.strip(), LABEL_CHARS)


def _optional_message(text: str | None) -> str | None:
    return None if text is None else _message(text) or None


def _replacement(text: str | None) -> str | None:
    # Cutting code would make it wrong: a runaway replacement is dropped, the finding kept.
    return None if text is None or len(text) > REPLACEMENT_CHARS else text


def _category(text: str) -> str:
    return shorten(text.strip().lower(), LABEL_CHARS) or "general"


def _line(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= MAX_LINE:
        raise ValueError(f"{attribute.name} is not a line number")


def _not_blank(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ValueError(f"{attribute.name} is empty")


def _unit(value: float | None) -> float | None:
    return None if value is None else min(max(value, 0.0), 1.0)


# --- the answers ----------------------------------------------------------------------


@frozen
class FindingAnswer:
    start_line: int = field(validator=_line)
    end_line: int = field(validator=_line)
    severity: Severity = "warning"
    category: str = field(default="general", converter=_category)
    message: str = field(default="", converter=_message, validator=_not_blank)
    # New text for start_line..end_line, or null.
    replacement: str | None = field(default=None, converter=_replacement)

    def to_finding(self, first_line: int, last_line: int) -> Finding | None:
        """In the selection's coordinates: clamped into it, or None when outside it.

        A reviewer asked about lines 10-20 must not get diagnostics at line 300.
        """
        start, end = sorted((self.start_line, self.end_line))
        if end < first_line or start > last_line:
            return None
        return Finding(
            start_line=max(start, first_line),
            end_line=min(end, last_line),
            severity=self.severity,
            category=self.category,
            message=self.message,
            replacement=self.replacement,
        )


@frozen
class ReviewAnswer:
    findings: list[FindingAnswer]


@frozen
class FixAnswer:
    replacement: str
    explanation: str = ""


@frozen
class Score:
    response: str = field(converter=_label)
    score: float


@frozen
class BestOfVerdict:
    winner: str = field(converter=_label)
    scores: list[Score] = field(factory=list)
    rationale: str = field(default="", converter=_message)


@frozen
class StanceAnswer:
    response: str = field(converter=_label)
    stance: str = field(converter=_message)


@frozen
class ContradictionAnswer:
    topic: str = field(converter=_message)
    stances: list[StanceAnswer] = field(factory=list)


@frozen
class InsightAnswer:
    insight: str = field(converter=_message, validator=_not_blank)
    response: str = field(default="", converter=_label)


@frozen
class MergeAnswer:
    answer: str
    consensus: list[str] = field(factory=list)
    contradictions: list[ContradictionAnswer] = field(factory=list)
    unique_insights: list[InsightAnswer] = field(factory=list)
    blind_spots: list[str] = field(factory=list)


@frozen
class DebateRevision:
    answer: str = ""
    # Reviews: the revised findings; null for explain and fix (and "keep my findings").
    findings: list[FindingAnswer] | None = None
    confidence: float | None = field(default=None, converter=_unit)
    changed: bool = False


@frozen
class ClusterVerdict:
    id: str = field(converter=_label)
    decision: Literal["confirm", "reject"]
    severity: Severity | None = None
    message: str | None = field(default=None, converter=_optional_message)
    rationale: str = field(default="", converter=_message)


@frozen
class ClusterVerdicts:
    clusters: list[ClusterVerdict] = field(factory=list)
    summary: str = field(default="", converter=_message)


# --- schemas ----------------------------------------------------------------------------


def json_schema(cls: type) -> dict[str, Any]:
    """The strict JSON schema of an answer class: every property required, no others."""
    return _schema_of(cls)


def _schema_of(hint: Any) -> dict[str, Any]:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            raise TypeError(f"unsupported union {hint!r}")
        schema = _schema_of(inner[0])
        kind = schema["type"]
        schema["type"] = [kind, "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
        return schema
    if origin is Literal:
        return {"type": "string", "enum": list(args)}
    if origin is list:
        return {"type": "array", "items": _schema_of(args[0])}
    if attrs.has(hint):
        hints = get_type_hints(hint)
        names = [a.name for a in attrs.fields(hint)]
        return {
            "type": "object",
            "additionalProperties": False,
            "required": names,
            "properties": {name: _schema_of(hints[name]) for name in names},
        }
    simple = {int: "integer", float: "number", str: "string", bool: "boolean"}
    if hint in simple:
        return {"type": simple[hint]}
    raise TypeError(f"no JSON schema for {hint!r}")


REVIEW_SCHEMA = JsonSchema("review_findings", json_schema(ReviewAnswer))
FIX_SCHEMA = JsonSchema("fix_result", json_schema(FixAnswer))
BEST_OF_SCHEMA = JsonSchema("best_of_verdict", json_schema(BestOfVerdict))
MERGE_SCHEMA = JsonSchema("merge_result", json_schema(MergeAnswer))
DEBATE_SCHEMA = JsonSchema("debate_revision", json_schema(DebateRevision))
CLUSTER_SCHEMA = JsonSchema("cluster_verdict", json_schema(ClusterVerdicts))

SCHEMAS: dict[str, tuple[JsonSchema, type]] = {
    s.name: (s, cls)
    for s, cls in (
        (REVIEW_SCHEMA, ReviewAnswer),
        (FIX_SCHEMA, FixAnswer),
        (BEST_OF_SCHEMA, BestOfVerdict),
        (MERGE_SCHEMA, MergeAnswer),
        (DEBATE_SCHEMA, DebateRevision),
        (CLUSTER_SCHEMA, ClusterVerdicts),
    )
}


# --- parsing ----------------------------------------------------------------------------


class _Drops:
    """Entries dropped while parsing one answer, by reason."""

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()


_DROPS: ContextVar[_Drops | None] = ContextVar("fuse_ls_answer_drops", default=None)


@frozen
class Parsed(Generic[T]):
    value: T
    dropped: int = 0  # list entries that could not be used
    reasons: tuple[str, ...] = ()  # why, most common first

    def note(self, who: str, what: str = "entries") -> str | None:
        """A line for the result's notes, or None when nothing was dropped."""
        if not self.dropped:
            return None
        why = "; ".join(self.reasons[:3])
        return f"{who}: ignored {self.dropped} unusable {what} ({why})"


_INT_TEXT = re.compile(r"[+-]?\d{1,9}")
_FLOAT_TEXT = re.compile(r"[+-]?(\d{1,12}(\.\d{0,12})?|\.\d{1,12})")


def _structure_int(value: Any, _: type) -> int:
    if isinstance(value, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
        return int(value)
    raise ValueError("expected an integer")


def _structure_float(value: Any, _: type) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float):
        number = float(value) if abs(value) < 1e300 else math.inf
    elif isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
        number = float(value)
    else:
        raise ValueError("expected a number")
    if not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def _structure_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        # JSON escapes (\u001b) decode to control characters only here.
        return printable(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ValueError("expected text")


def _structure_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("expected true or false")


def _structure_severity(value: Any, _: type) -> Severity:
    if isinstance(value, Mapping | list):
        raise ValueError("expected a severity")
    return normalise_severity(value)


def _structure_literal(value: Any, hint: type) -> Any:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in get_args(hint):
            return word
    raise ValueError("expected one of " + ", ".join(map(str, get_args(hint))))


def _is_severity(hint: Any) -> bool:
    return bool(hint == Severity)


def _is_other_literal(hint: Any) -> bool:
    return get_origin(hint) is Literal and not _is_severity(hint)


def _is_item_list(hint: Any) -> bool:
    return get_origin(hint) is list


def _item_list_hook(hint: Any) -> Callable[[Any, Any], list[Any]]:
    (item,) = get_args(hint)
    what = "entry" if attrs.has(item) else "text entry"

    def structure(value: Any, _: Any) -> list[Any]:
        if not isinstance(value, list):
            raise ValueError("expected a list")
        drops = _DROPS.get()
        out: list[Any] = []
        for entry in value[:MAX_ITEMS]:
            try:
                out.append(_CONVERTER.structure(entry, item))
            except Exception as exc:  # any failure is this entry's, never the answer's
                if drops is not None:
                    drops.reasons[_reason(exc, what)] += 1
        if len(value) > MAX_ITEMS and drops is not None:
            drops.reasons[f"more than {MAX_ITEMS} entries"] += len(value) - MAX_ITEMS
        return out

    return structure


def _finding_hook() -> Callable[[Any, Any], FindingAnswer]:
    base = make_dict_structure_fn(FindingAnswer, _CONVERTER)

    def structure(value: Any, hint: Any) -> FindingAnswer:
        if not isinstance(value, Mapping):
            raise ValueError("a finding must be an object")
        item = dict(value)
        # Servers without structured output say `line`, or leave out end_line.
        if item.get("start_line") is None and "line" in item:
            item["start_line"] = item["line"]
        if item.get("end_line") is None:
            item["end_line"] = item.get("start_line")
        for key in ("severity", "category"):
            if item.get(key) is None:
                item.pop(key, None)
        return base(item, hint)

    return structure


def _scores_hook() -> Callable[[Any, Any], list[Score]]:
    items = _item_list_hook(list[Score])

    def structure(value: Any, hint: Any) -> list[Score]:
        if isinstance(value, Mapping):  # the older {"A": 9.0} shape, from lax servers
            value = [{"response": k, "score": v} for k, v in value.items()]
        return items(value, hint)

    return structure


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False)
    conv.register_structure_hook(int, _structure_int)
    conv.register_structure_hook(float, _structure_float)
    conv.register_structure_hook(str, _structure_str)
    conv.register_structure_hook(bool, _structure_bool)
    conv.register_structure_hook_func(_is_severity, _structure_severity)
    conv.register_structure_hook_func(_is_other_literal, _structure_literal)
    conv.register_structure_hook_factory(_is_item_list, _item_list_hook)
    return conv


_CONVERTER = _make_converter()
_CONVERTER.register_structure_hook(FindingAnswer, _finding_hook())
_CONVERTER.register_structure_hook_func(lambda t: t == list[Score], _scores_hook())


def _reason(exc: BaseException, what: str) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        messages = cattrs.transform_error(exc, path="", format_exception=_describe)
        first = messages[0] if messages else str(exc)
        # "expected an integer @ .start_line" -> "start_line: expected an integer"
        text, _, where = first.partition(" @ ")
        where = where.lstrip("$.")
        return shorten(f"{where}: {text}" if where else text, 120)
    return shorten(_describe(exc, None), 120)


def _describe(exc: BaseException, _: Any) -> str:
    # Only our own messages: a foreign exception's text may quote the whole answer.
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, ValueError) and type(exc) is ValueError:
        return str(exc)
    return f"unusable value ({type(exc).__name__})"


def parse_answer(payload: Any, cls: type[T], *, model: str) -> Parsed[T]:
    """Structure one decoded answer. Raises MalformedAnswer only for an unusable whole."""
    if not isinstance(payload, Mapping):
        raise MalformedAnswer(f"{model}: the answer is not a JSON object.", model=model)
    drops = _Drops()
    token = _DROPS.set(drops)
    try:
        value = _CONVERTER.structure(payload, cls)
    except Exception as exc:
        reason = _reason(exc, "answer")
        who = f"{model}: " if model else ""
        raise MalformedAnswer(
            f"{who}the answer does not have the expected shape ({reason}).", model=model
        ) from None
    finally:
        _DROPS.reset(token)
    reasons = tuple(r for r, _ in drops.reasons.most_common())
    return Parsed(value, sum(drops.reasons.values()), reasons)


def review_findings(
    answer: list[FindingAnswer], first_line: int, last_line: int
) -> tuple[Finding, ...]:
    found = (f.to_finding(first_line, last_line) for f in answer)
    return tuple(f for f in found if f is not None)
