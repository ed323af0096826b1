"""Explain with consensus: the fused explanation as a Markdown document.

The document is written to `<data dir>/explanations/<hash>/<file> lines A-B.md` and opened with
`window/showDocument`; the same Markdown is what a hover over the explained range shows.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from fuse_ls.core.paths import data_dir, private_dir
from fuse_ls.core.types import FusionRequest, FusionResult
from fuse_ls.safetext import bidi_shown, clean, inert_markdown
from fuse_ls.server.anchors import Anchor, Snapshot, track
from fuse_ls.server.base import CLIENT_TIMEOUT_S, Change, Feature, ServerBase, doc_key
from fuse_ls.server.fusions import Fusion, Fusions, partial
from fuse_ls.server.wire import TargetArgs

log = logging.getLogger(__name__)


class Explain(Feature):
    """`fuse-ls.explain`, and hovers over explained code (which never call a model)."""

    def __init__(self, server: ServerBase, fusions: Fusions) -> None:
        super().__init__(server)
        self.fusions = fusions
        self.explanations: dict[str, list[tuple[Anchor, str]]] = {}  # doc key -> hover cache

    def document_changed(self, key: str, changes: Sequence[Change], now: Snapshot) -> None:
        if self.explanations.get(key):
            self.explanations[key] = [
                (a, md)
                for anchor, md in self.explanations[key]
                if (a := track(anchor, changes, now)) is not None
            ]

    def document_closed(self, key: str) -> None:
        self.explanations.pop(key, None)

    def hover(self, params: types.HoverParams) -> types.Hover | None:
        p = params.position
        hits = [
            (anchor, md)
            for anchor, md in self.explanations.get(doc_key(params.text_document.uri), [])
            if (anchor.range.start.line, anchor.range.start.character)
            <= (p.line, p.character)
            <= (anchor.range.end.line, anchor.range.end.character)
        ]
        if not hits:
            return None
        # The innermost explanation is the most specific one.
        anchor, markdown = min(hits, key=lambda h: h[0].range.end.line - h[0].range.start.line)
        caps = self.server.caps
        hover = caps.text_document.hover if caps.text_document else None
        formats = (hover.content_format if hover else None) or [types.MarkupKind.Markdown]
        kind = (
            types.MarkupKind.Markdown
            if types.MarkupKind.Markdown in formats
            else types.MarkupKind.PlainText
        )
        return types.Hover(
            contents=types.MarkupContent(kind=kind, value=markdown), range=anchor.range
        )

    async def explain_command(self, target: TargetArgs) -> dict[str, Any]:
        return await self.fusions.run("explain", target, self._finish)

    async def _finish(self, fusion: Fusion, result: FusionResult) -> dict[str, Any]:
        server = self.server
        markdown = render_markdown(fusion.request, result)
        saved: str | None = None
        path: Path | None
        try:
            path = await asyncio.to_thread(
                write_explanation,
                data_dir(server.settings.telemetry.data_dir),
                server.client_uri(fusion.uri),
                fusion.request,
                markdown,
            )
        except OSError as exc:
            # The models were paid for: an unwritable data dir must not lose the answer.
            reason = exc.strerror or type(exc).__name__
            saved = (
                f"the explanation document could not be saved ({reason}: {exc.filename}); "
                "it is in the hover and the command result. Point telemetry.data_dir (or "
                "FUSE_LS_DATA_DIR) at a writable directory."
            )
            log.warning("%s", saved)
            server.show(types.MessageType.Warning, f"fuse-ls: {saved}")
            path = None
        now = server.snapshot(fusion.uri)
        anchor = track(fusion.snapshot.anchor(fusion.selection), fusion.changes, now)
        if anchor is not None:
            cache = [
                (a, md)
                for a, md in self.explanations.get(fusion.uri, [])
                if a.range != anchor.range
            ]
            self.explanations[fusion.uri] = [*cache, (anchor, markdown)]
        document_uri = path.as_uri() if path is not None else None
        window = server.caps.window
        if (
            document_uri is not None
            and window is not None
            and window.show_document is not None
            and window.show_document.support
        ):
            try:
                await asyncio.wait_for(
                    server.window_show_document_async(
                        types.ShowDocumentParams(uri=document_uri, take_focus=True)
                    ),
                    CLIENT_TIMEOUT_S,
                )
            except (TimeoutError, JsonRpcException) as exc:
                log.warning("showDocument failed: %s", exc)
        return {
            "fusionId": fusion.id,
            "cancelled": False,
            "markdown": markdown,
            "documentUri": document_uri,
            **partial(result, saved),
            "_summary": "explanation",
        }


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
    # Model words and file names: shown, never loaded (no remote image or HTML), and a
    # link shows its target: the model read the code and may have put it in the URL.
    # Bidi controls are shown as `<U+202E>`, code blocks too: this document is read, not
    # run, and raw they make it display other words or code than it holds.
    return bidi_shown(inert_markdown("\n".join(lines) + "\n", keep_links=False))


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
    """Write the Markdown under a path stable for the same code, so re-explaining the same
    selection reuses the editor tab instead of piling up files. The hash is the folder and
    the file is named for what it explains: editors title the tab with the file name."""
    key = clean(f"{uri}\n{request.start_line}\n{request.code}").encode()
    folder = hashlib.sha256(key).hexdigest()[:16]
    source = Path(request.path).name or "selection"
    target = (
        directory
        / "explanations"
        / folder
        / (f"{source} lines {request.start_line}-{request.end_line}.md")
    )
    private_dir(target.parent)  # the explained code is in it
    target.write_text(clean(markdown), encoding="utf-8")
    return target
