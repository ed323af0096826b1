"""SARIF 2.1.0, the format GitHub code scanning and most CI dashboards read.

One shape for every review that writes it (a selection's, `fuse-ls review app.py --sarif`,
and a change's, `fuse-ls review --diff ... --format sarif`): the rules, each result's level,
message, location, properties and fix. A caller says only what it alone knows: where the
file is, a fingerprint that survives line moves, properties such as `onChangedLine`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from attrs import field, frozen

from fuse_ls.core.types import FusedFinding

_LEVEL = {"error": "error", "warning": "warning", "info": "note", "hint": "note"}


@frozen
class SarifEntry:
    """One finding and what only its review knows about it."""

    finding: FusedFinding
    artifact: Mapping[str, str]  # SARIF artifactLocation: see file_artifact, source_artifact
    fingerprint: str | None = None  # partialFingerprints["fuseLsFinding/v1"]
    properties: Mapping[str, Any] = field(factory=dict)  # after the shared properties


def file_artifact(path: PurePath) -> dict[str, str]:
    """A file named by its own path. An absolute one becomes a file:// URI: a bare
    "/home/me/app.py" is no absolute URI, and "C:\\src\\app.py" is no URI at all."""
    if path.is_absolute():
        return {"uri": path.as_uri()}
    return {"uri": quote(path.as_posix())}


def source_artifact(relative: str) -> dict[str, str]:
    """A file under the checked-out source root (a repository-relative path), which code
    scanning resolves against the checkout."""
    return {"uri": quote(relative), "uriBaseId": "%SRCROOT%"}


def plain(text: str) -> str:
    """Model text as a SARIF message that links nowhere. SARIF's one markup in plain text
    is the embedded link `[words](target)` (3.11.6), which Microsoft's SARIF viewers show
    as a link naming only its words (older ones render the text as Markdown, images
    included); the model read the code and may have put it in the target. `](` and a
    reference definition's `]:` get a space, so the whole target is shown as written."""
    return text.replace("](", "] (").replace("]:", "] :")


def _inserted(replacement: str) -> str:
    """A fix's inserted text. A region of whole lines ends before its last line's newline
    (SARIF 3.30.7), which the file keeps: so does the fix, the way an editor applies it."""
    return replacement.removesuffix("\n")


def sarif_result(entry: SarifEntry) -> dict[str, Any]:
    f = entry.finding
    region = {"startLine": f.start_line, "endLine": f.end_line}
    result: dict[str, Any] = {
        "ruleId": f"fuse-ls/{f.category}",
        "level": _LEVEL[f.severity],
        "message": {"text": plain(f"{f.message} ({f.agreement})")},
        "locations": [
            {"physicalLocation": {"artifactLocation": dict(entry.artifact), "region": region}}
        ],
    }
    if entry.fingerprint is not None:
        result["partialFingerprints"] = {"fuseLsFinding/v1": entry.fingerprint}
    result["properties"] = {
        "votes": f.votes,
        "poolSize": f.pool_size,
        "didNotAnswer": f.did_not_answer,
        "notWaitedFor": f.not_waited_for,
        "models": list(f.models),
        "confirmedByJudge": f.confirmed,
        "severity": f.severity,
        **entry.properties,
    }
    if f.replacement is not None:
        result["fixes"] = [
            {
                "description": {"text": "fused fix"},
                "artifactChanges": [
                    {
                        "artifactLocation": dict(entry.artifact),
                        "replacements": [
                            {
                                "deletedRegion": dict(region),
                                "insertedContent": {"text": _inserted(f.replacement)},
                            }
                        ],
                    }
                ],
            }
        ]
    return result


def sarif_log(entries: Iterable[SarifEntry]) -> dict[str, Any]:
    """A SARIF log of one run: one rule per finding category, one result per finding."""
    from fuse_ls import __version__  # looked up on first use (fuse_ls/__init__.py)

    rules: dict[str, dict[str, Any]] = {}
    results = []
    for entry in entries:
        category = entry.finding.category
        rule_id = f"fuse-ls/{category}"
        rules.setdefault(
            rule_id,
            {"id": rule_id, "name": plain(category), "shortDescription": {"text": plain(category)}},
        )
        results.append(sarif_result(entry))
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "fuse-ls",
                        "version": __version__,
                        "informationUri": "https://github.com/fuse-ls/fuse-ls",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }
