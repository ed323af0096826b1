"""Explain with consensus: the fused explanation as a Markdown document.

The document is written to `<data dir>/explanations/<hash>.md` and opened with
`window/showDocument`; the same Markdown is what a hover over the explained range shows.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fuse_ls.core.types import FusionRequest, FusionResult


def render_markdown(request: FusionRequest, result: FusionResult) -> str:
    lines = [
        f"# {request.path}: lines {request.start_line}-{request.end_line}",
        "",
        _provenance(result),
        "",
        (result.answer or "").strip() or "_The models gave no explanation._",
    ]
    analysis = result.analysis
    if analysis is not None:
        if analysis.consensus:
            lines += ["", "## Where the models agree", ""]
            lines += [f"- {c}" for c in analysis.consensus]
        if analysis.contradictions:
            lines += ["", "## Where they disagree", ""]
            for contradiction in analysis.contradictions:
                lines.append(f"- **{contradiction.topic}**")
                lines += [f"  - {s.model}: {s.stance}" for s in contradiction.stances]
        if analysis.unique_insights:
            lines += ["", "## Raised by one model only", ""]
            lines += [f"- {i.insight} ({i.model})" for i in analysis.unique_insights]
        if analysis.blind_spots:
            lines += ["", "## Blind spots", ""]
            lines += [f"- {b}" for b in analysis.blind_spots]
    if result.notes:
        lines += ["", "## Notes", ""]
        lines += [f"- {n}" for n in result.notes]
    return "\n".join(lines) + "\n"


def _provenance(result: FusionResult) -> str:
    answered = ", ".join(c.model for c in result.answered) or "none"
    text = (
        f"_Fused ({result.mode}) from {len(result.answered)}/{len(result.candidates)} models: "
        f"{answered}"
    )
    if result.judge is not None and result.judge.status == "ok":
        text += f"; judge {result.judge.model}"
    if result.failed:
        text += f"; failed: {', '.join(c.model for c in result.failed)}"
    return text + "._"


def write_explanation(directory: Path, uri: str, request: FusionRequest, markdown: str) -> Path:
    """Write the Markdown under a name stable for the same code, so re-explaining the same
    selection reuses the editor tab instead of piling up files."""
    key = f"{uri}\n{request.start_line}\n{request.code}".encode()
    name = hashlib.sha256(key).hexdigest()[:16]
    target = directory / "explanations" / f"{name}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(markdown, encoding="utf-8")
    return target
