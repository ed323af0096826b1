"""Model ids as the vendor's own tools write them, so Rudel's rate card can price them.

We call models through routers (OpenRouter: `anthropic/claude-sonnet-4.5`), while Claude
Code writes the vendor's id (`claude-sonnet-4-5`) and Codex writes OpenAI's (`gpt-5`).
Rudel prices a usage event by matching `message.model` against vendor ids only, so a
routed id leaves every event unpriced. `vendor_model_id` turns a routed id into the
vendor's form where the vendor is one whose tools Rudel knows (Anthropic, OpenAI); any
other model keeps its routed id (Rudel cannot price it either way, see docs/telemetry.md).
The routed id and the cost the provider reported stay in our own `fuseLs` fields.
"""

from __future__ import annotations

import re
from typing import Final

# Router-only variants (`:thinking`, `:free`, `:nitro`, ...) select a route, not a model.
_VARIANT: Final = re.compile(r":[a-z0-9._-]+$")
_ANTHROPIC_PREFIX: Final = "claude-"
_OPENAI_NAME: Final = re.compile(r"^(?:gpt-|o\d|chatgpt-|codex-)")
# Router aliases of Anthropic models that Anthropic itself only names with a date: the
# snapshot the alias routes to (what Claude Code would have written).
_ANTHROPIC_SNAPSHOTS: Final = {
    "claude-3-5-sonnet": "claude-3-5-sonnet-20241022",
    "claude-3-sonnet": "claude-3-sonnet-20240229",
}


def vendor_of(model: str) -> str | None:
    """`anthropic`, `openai`, or None when the id does not say (or names another vendor)."""
    vendor, _, name = model.strip().lower().rpartition("/")
    name = _VARIANT.sub("", name)
    if vendor:
        vendor = vendor.rsplit("/", 1)[-1]
        return vendor if vendor in ("anthropic", "openai") else None
    if name.startswith(_ANTHROPIC_PREFIX):
        return "anthropic"
    if _OPENAI_NAME.match(name):
        return "openai"
    return None


def vendor_model_id(model: str) -> str:
    """The id Claude Code (Anthropic) or Codex (OpenAI) would write for `model`.

    `anthropic/claude-sonnet-4.5` -> `claude-sonnet-4-5` (Anthropic's ids use `-` where
    routers use `.`), `anthropic/claude-3.7-sonnet:thinking` -> `claude-3-7-sonnet`,
    `openai/gpt-5` -> `gpt-5`, `openai/gpt-4.1` -> `gpt-4.1` (OpenAI keeps its dots).
    Unknown vendors are returned unchanged.
    """
    vendor = vendor_of(model)
    if vendor is None:
        return model
    name = _VARIANT.sub("", model.strip().lower().rpartition("/")[2])
    if vendor == "anthropic":
        name = name.replace(".", "-")
        return _ANTHROPIC_SNAPSHOTS.get(name, name)
    return name
