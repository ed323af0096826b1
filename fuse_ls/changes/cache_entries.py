"""A review unit's cache entry: its key and the form its outcome is stored in.

The key stands for everything that decides a unit's answer (the code and its context,
the changed lines, intent, blast radius, project rules, the settings that change what is
asked or how it is fused, the prompts' wording, the redaction rules). Line numbers, in
the key and in the stored findings, are relative to the unit, so a unit moved by an edit
above it is still a hit. The SQLite store itself is `cache.py`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from attrs import asdict, evolve

from fuse_ls.changes.types import UnitOutcome
from fuse_ls.changes.units import Unit
from fuse_ls.config import Settings
from fuse_ls.core.types import FusedFinding, FusionRequest
from fuse_ls.fusion import prompts

CACHE_FORMAT = 2  # bump when what is stored per unit, or what a key stands for, changes
# `VERSION = '1.5.0'`, as detect_secrets/__version__.py has it.
_VERSION_LINE = re.compile(r"^VERSION\s*=\s*['\"](?P<version>[^'\"\s]+)['\"]\s*$", re.MULTILINE)


def settings_fingerprint(settings: Settings) -> dict[str, Any]:
    """Every setting that changes what the models are asked or how answers are fused."""

    def spec(s: Any) -> list[Any]:
        return [
            s.id,
            s.base_url or settings.provider.base_url,
            s.repeat,
            s.max_tokens,
            s.temperature,
        ]

    return {
        "pool": [spec(s) for s in settings.pool],
        "judge": spec(settings.judge),
        "mode": settings.mode,
        "debate_rounds": settings.debate.rounds if settings.mode == "debate" else 0,
        "min_responses": settings.quorum.min_responses,
        "min_votes_for_warning": settings.review.min_votes_for_warning,
        "redact": settings.review.redact_secrets,
        "deny_data_collection": settings.provider.deny_data_collection,
    }


def prompt_version() -> str:
    """A digest of the review prompts as they are now: any wording change is a miss."""
    probe = FusionRequest(task="review", path="p", language="python", code="x\n", start_line=1)
    parts = [m.content for m in prompts.pool_messages(probe)]
    parts += [m.content for m in prompts.cluster_messages(probe, [])]
    parts += [json.dumps(prompts.REVIEW_SCHEMA.schema, sort_keys=True)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def plugins_version() -> str:
    """The installed detect-secrets' version ("none" without it), as its distribution
    states it. Read from the package's own `__version__.py`, which its release sets the
    distribution's version from, found and not imported: importing importlib.metadata
    (email, zipfile, csv) costs more than the rest of a cached rerun's keys. Asked of
    importlib.metadata only when that file does not say."""
    import importlib.util

    spec = importlib.util.find_spec("detect_secrets")
    if spec is not None and spec.origin is not None:
        try:
            text = (Path(spec.origin).parent / "__version__.py").read_text(encoding="utf-8")
        except (OSError, ValueError):
            text = ""
        found = _VERSION_LINE.search(text)
        if found is not None:
            return found["version"]
    import importlib.metadata

    try:
        return importlib.metadata.version("detect-secrets")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def redaction_digest() -> str:
    """What decides how a text is redacted: our rules (the module's source) and the
    detect-secrets plugins' version. Cache keys carry it, so the key of a unit's raw
    text stands for its redacted text too."""
    import importlib.util

    plugins = plugins_version()
    # Found, not imported: compiling the rules costs ~20 ms that a rerun whose units all
    # come from the cache never needs.
    spec = importlib.util.find_spec("fuse_ls.core.redact")
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).read_bytes()
    return hashlib.sha256(source + plugins.encode()).hexdigest()[:16]


def unit_key(
    unit: Unit,
    intent: str | None,
    blast: str | None,
    rules: str | None,
    settings_part: dict[str, Any],
    version: str,
    split: dict[str, int] | None = None,
) -> str:
    """Line numbers are relative to the unit so that code moved by an edit above it is
    still a hit; findings are stored relative too."""
    payload = {
        "format": CACHE_FORMAT,
        "prompt": version,
        "settings": settings_part,
        "path": unit.path,
        "language": unit.language,
        "code": unit.code,
        "before": unit.context_before,
        "after": unit.context_after,
        "changed": sorted(n - unit.start_line for n in unit.changed),
        "intent": intent,
        "blast": blast,
        "rules": rules,
    }
    if split:  # models asked this unit in pieces (their window): a different question
        payload["split"] = split
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True).encode("utf-8", "surrogateescape")
    ).hexdigest()


def _shift(f: FusedFinding, delta: int) -> FusedFinding:
    return evolve(
        f,
        start_line=f.start_line + delta,
        end_line=f.end_line + delta,
        related=tuple((a + delta, b + delta, m) for a, b, m in f.related),
    )


def to_entry(outcome: UnitOutcome) -> dict[str, Any]:
    """What is stored of a unit's outcome, its findings' lines relative to the unit."""
    base = outcome.unit.start_line
    findings = []
    for f in outcome.findings:
        data = asdict(_shift(f, -base), recurse=False)
        data["models"] = list(f.models)
        data["related"] = [list(r) for r in data["related"]]
        data.pop("id", None)
        findings.append(data)
    return {"findings": findings, "rejected": outcome.rejected, "cost_usd": outcome.cost_usd}


def from_entry(unit: Unit, key: str, value: dict[str, Any]) -> UnitOutcome | None:
    """The cached outcome of `unit` (where it is now); None for an unreadable entry."""
    try:
        findings = []
        for i, raw in enumerate(value["findings"]):
            data = dict(raw)
            data["models"] = tuple(data["models"])
            data["related"] = tuple((int(a), int(b), str(m)) for a, b, m in data["related"])
            found = FusedFinding(**data, id=f"{key[:10]}-{i}")
            findings.append(_shift(found, unit.start_line))
        return UnitOutcome(
            unit, key, cached=True, findings=findings, rejected=int(value.get("rejected", 0))
        )
    except (KeyError, TypeError, ValueError):
        return None  # an entry from an older layout: ask again
