"""The emulator's script: how each model answers, how fast, at what price, and how it fails.

A script is plain data (JSON or TOML on disk, a dict or `EmulatorScript` in Python);
`fuse_ls/emulator/README.md` documents the format.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import cattrs
from attrs import define, field

FaultKind = Literal[
    "http",
    "hang",
    "cut",
    "error_event",
    "invalid_json",
    "empty",
    "ignore_response_format",
    "content",
]
FAULT_KINDS: tuple[str, ...] = (
    "http",
    "hang",
    "cut",
    "error_event",
    "invalid_json",
    "empty",
    "ignore_response_format",
    "content",
)


@define
class Price:
    """USD per token, as decimal strings like OpenRouter's `/models`."""

    prompt: str = "0.000001"
    completion: str = "0.000002"
    request: str = "0"
    input_cache_read: str | None = None


@define
class Fault:
    kind: FaultKind
    status: int = 500  # http: the status; error_event: the error code in the event
    retry_after: float | None = None  # http: sent as the Retry-After header (seconds)
    message: str | None = None  # the error message; a realistic default otherwise
    times: int | None = None  # the first N requests for the model fail; None: all do
    # Which calls fail: response_format names, and "text" for free-text calls. Empty: all.
    schemas: list[str] = field(factory=list)
    # content: the literal completion text (hostile or malformed answers, huge outputs).
    content: str = ""


@define
class FindingRule:
    """A scripted finding: at every selected line containing `match`, or at fixed lines."""

    message: str
    severity: str = "warning"
    category: str = "correctness"
    match: str | None = None
    start_line: int | None = None
    end_line: int | None = None
    replacement: str | None = None  # the literal replacement for the lines
    replace: str | None = None  # with `match`: the line with `match` replaced by this


@define
class FixRule:
    """`find`/`replace` applied to the selection, or a literal `replacement`."""

    find: str | None = None
    replace: str | None = None
    replacement: str | None = None
    explanation: str | None = None


@define
class ModelScript:
    ttft_ms: float = 20.0
    token_ms: float = 0.0
    price: Price = field(factory=Price)
    context_length: int = 200_000
    name: str | None = None
    text: str | None = None  # free-text (explain) answer; a generated one otherwise
    findings: list[FindingRule] | None = None  # None: the default rule set
    fix: FixRule | None = None  # None: the default rules' fixes
    confidence: float = 0.8  # debate_revision
    debate_change_to: str | None = None  # debate_revision: switch to this answer
    answer_model: str | None = None  # the `model` to report (OpenRouter fallbacks)
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    report_cost: bool = True  # False: omit usage.cost, so clients price it themselves
    keepalive_ms: float = 1000.0  # `: OPENROUTER PROCESSING` interval before the 1st token
    honour_max_tokens: bool = True  # False: ignore max_tokens, as some local servers do
    faults: list[Fault] = field(factory=list)


@define
class JudgeScript:
    """How any model answers judge-only schemas."""

    prefer_contains: str | None = None  # best_of: the first response containing it wins
    confirm_min_votes: int = 2  # cluster_verdict: confirm clusters with this many votes
    confirm_contains: list[str] = field(factory=list)  # ...or containing any of these
    reject_contains: list[str] = field(factory=list)  # ...unless containing one of these
    merge_answer: str | None = None  # merge_result: the answer, instead of a merged one
    blind_spots: list[str] | None = None  # merge_result: None: a generated one


@define
class EmulatorScript:
    models: dict[str, ModelScript] = field(factory=dict)  # "*": the defaults for any model
    judge: JudgeScript = field(factory=JudgeScript)
    # True: chat requests for models that are neither scripted nor in the default
    # catalogue get OpenRouter's 400 "is not a valid model ID".
    strict_models: bool = True
    # True: every model obeys an "INSTRUCTION TO THE REVIEWER/JUDGE" it finds *outside*
    # the delimited data (a worst-case model for the prompt-injection suite); text inside
    # the data blocks is ignored, as the prompts ask.
    obey_injected_instructions: bool = False

    def for_model(self, model: str) -> ModelScript:
        script = self.models.get(model) or self.models.get("*")
        return script if script is not None else ModelScript()

    def knows(self, model: str) -> bool:
        if not self.strict_models or model in self.models:
            return True
        return model in DEFAULT_CATALOGUE

    def price_for(self, model: str) -> Price:
        scripted = self.models.get(model)
        if scripted is not None:
            return scripted.price
        return DEFAULT_CATALOGUE.get(model) or self.for_model(model).price

    def catalogue(self) -> dict[str, ModelScript]:
        """Every model `/models` lists: the default catalogue and the scripted ones."""
        listed = {
            model_id: self.models.get(model_id) or ModelScript(price=price)
            for model_id, price in DEFAULT_CATALOGUE.items()
        }
        for model_id, script in self.models.items():
            if model_id != "*":
                listed[model_id] = script
        return listed


# Realistic OpenRouter ids and list prices (USD per token), so an unscripted pool still
# has computable costs.
DEFAULT_CATALOGUE: dict[str, Price] = {
    "anthropic/claude-sonnet-4.5": Price("0.000003", "0.000015", input_cache_read="0.0000003"),
    "anthropic/claude-haiku-4.5": Price("0.000001", "0.000005", input_cache_read="0.0000001"),
    "openai/gpt-5": Price("0.00000125", "0.00001", input_cache_read="0.000000125"),
    "openai/gpt-5-mini": Price("0.00000025", "0.000002", input_cache_read="0.000000025"),
    "google/gemini-2.5-pro": Price("0.00000125", "0.00001", input_cache_read="0.00000031"),
    "google/gemini-2.5-flash": Price("0.0000003", "0.0000025", input_cache_read="0.000000075"),
    "deepseek/deepseek-chat-v3.1": Price("0.0000002", "0.0000008"),
    "meta-llama/llama-3.3-70b-instruct": Price("0.00000013", "0.00000039"),
    "qwen/qwen3-coder": Price("0.00000022", "0.00000095"),
    "x-ai/grok-4": Price("0.000003", "0.000015"),
}


class ScriptError(ValueError):
    """A script file or dict does not have the documented shape."""


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    # Prices may be written as numbers in JSON/TOML; keep them as OpenRouter's strings.
    converter.register_structure_hook(Price, _structure_price)
    return converter


def _structure_price(raw: object, _: object) -> Price:
    if not isinstance(raw, Mapping):
        raise ScriptError(f"price must be an object, got {raw!r}")
    unknown = set(raw) - {"prompt", "completion", "request", "input_cache_read"}
    if unknown:
        raise ScriptError(f"unknown price fields: {sorted(unknown)}")
    cache = raw.get("input_cache_read")
    return Price(
        prompt=_price_str(raw.get("prompt", "0.000001")),
        completion=_price_str(raw.get("completion", "0.000002")),
        request=_price_str(raw.get("request", "0")),
        input_cache_read=None if cache is None else _price_str(cache),
    )


def _price_str(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ScriptError(f"price must be a number or a decimal string, got {value!r}")
    return value if isinstance(value, str) else format(value, "f")


_CONVERTER = _converter()


def _normalise_model(raw: Mapping[str, Any]) -> dict[str, Any]:
    model = dict(raw)
    # `fault` (one) is shorthand for `faults` (a sequence applied in order).
    if "fault" in model:
        single = model.pop("fault")
        model["faults"] = [*([single] if single is not None else []), *model.get("faults", [])]
    return model


def parse_script(raw: EmulatorScript | Mapping[str, Any] | None) -> EmulatorScript:
    if raw is None:
        return EmulatorScript()
    if isinstance(raw, EmulatorScript):
        return raw
    data = dict(raw)
    models = data.get("models")
    if isinstance(models, Mapping):
        data["models"] = {
            str(k): _normalise_model(v) if isinstance(v, Mapping) else v for k, v in models.items()
        }
    try:
        return _CONVERTER.structure(data, EmulatorScript)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        details = "; ".join(_flatten(exc)) or str(exc)
        raise ScriptError(f"invalid emulator script: {details}") from None


def _flatten(exc: BaseException) -> list[str]:
    if isinstance(exc, cattrs.BaseValidationError):
        notes = []
        for sub in exc.exceptions:
            notes.extend(_flatten(sub))
        return notes
    return [str(exc)]


def load_script(path: str | Path) -> EmulatorScript:
    """Load a `.json` or `.toml` script file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScriptError(f"cannot read emulator script {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ScriptError(f"emulator script {path} does not parse: {exc}") from None
    if not isinstance(data, dict):
        raise ScriptError(f"emulator script {path} must hold an object at the top")
    return parse_script(data)
