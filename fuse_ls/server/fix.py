"""The fix feature: `fuse-ls.fix` rewrites the selection with the fused answer, through a
workspace edit the editor may preview before applying."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from fuse_ls.core.types import FusionResult
from fuse_ls.server import actions
from fuse_ls.server.anchors import track
from fuse_ls.server.base import Feature, ServerBase
from fuse_ls.server.fusions import Fusion, Fusions, partial
from fuse_ls.server.recording import Recording
from fuse_ls.server.wire import TargetArgs


class Fix(Feature):
    def __init__(self, server: ServerBase, fusions: Fusions, recording: Recording) -> None:
        super().__init__(server)
        self.fusions = fusions
        self.recording = recording

    async def fix_command(self, target: TargetArgs) -> dict[str, Any]:
        return await self.fusions.run("fix", target, self._finish)

    async def _finish(self, fusion: Fusion, result: FusionResult) -> dict[str, Any]:
        server = self.server
        base = {"fusionId": fusion.id, "cancelled": False, **partial(result)}
        if not result.answer:
            return {**base, "applied": False, "reason": "no fix proposed", "_summary": "no fix"}
        now = server.snapshot(fusion.uri)
        anchor = track(fusion.snapshot.anchor(fusion.selection), fusion.changes, now)
        if anchor is None:
            message = "The selected code changed while the models worked; the fix was not applied."
            server.show(types.MessageType.Warning, f"fuse-ls: {message}")
            return {**base, "applied": False, "reason": message, "_summary": "stale fix"}
        answered = ", ".join(c.model for c in result.answered)
        edit = actions.workspace_edit(
            server.caps,
            server.client_uri(fusion.uri),
            now.version,
            anchor.range,
            actions.replacement_text(result.answer),
            confirm=(
                "Fused fix",
                f"Rewrite fused from {len(result.answered)} models ({answered}). "
                + (result.explanation or ""),
            ),
        )
        response = await server.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label="fuse-ls: fused fix")
        )
        applied = bool(response.applied)
        self.recording.record(
            lambda r: r.record_decision(
                fusion.id, "fix", "applied" if applied else "dismissed", kind="fix"
            )
        )
        return {
            **base,
            "applied": applied,
            "reason": None if applied else response.failure_reason,
            "_summary": "fix applied" if applied else "fix not applied",
        }
