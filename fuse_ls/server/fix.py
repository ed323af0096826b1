"""The fix feature: `fuse-ls.fix` rewrites the selection with the fused answer, through a
workspace edit the editor may preview before applying.

With `verify.commands` configured, every candidate fix and the fused one are first tried
in an isolated copy of the workspace (fuse_ls/verify); the preview's label says whether
the checks passed ("checks passed (3 commands, 8.2 s)") or shows the first failing lines.
A fix that failed its checks is offered only to an editor that previews the edit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from fuse_ls.core.checks import CandidateCheck, CheckReport
from fuse_ls.core.counts import counted
from fuse_ls.core.errors import RedactedFix
from fuse_ls.core.types import FusionResult
from fuse_ls.server import actions
from fuse_ls.server.anchors import track
from fuse_ls.server.base import Feature, ServerBase, doc_key, invalid, uri_path
from fuse_ls.server.diagnostics import Reported
from fuse_ls.server.fusions import Fusion, Fusions, partial
from fuse_ls.server.recording import Recording
from fuse_ls.server.wire import FixArgs, VerifyFindingArgs

if TYPE_CHECKING:
    from fuse_ls.verify.verifier import FixVerifier, Verifications


class Fix(Feature):
    def __init__(self, server: ServerBase, fusions: Fusions, recording: Recording) -> None:
        super().__init__(server)
        self.fusions = fusions
        self.recording = recording
        self._limits: Verifications | None = None

    async def fix_command(self, target: FixArgs) -> dict[str, Any]:
        async def finish(fusion: Fusion, result: FusionResult) -> dict[str, Any]:
            return await self._finish(fusion, result, target.request_key)

        return await self.fusions.run("fix", target, finish, verifier_for=self._verifier)

    async def verify_finding(
        self, data: VerifyFindingArgs, findings: dict[str, list[Reported]]
    ) -> dict[str, Any]:
        """`fuse-ls.verifyFinding`: run the checks on a finding's quick fix, on request. The
        answer has the same `checks` as a fused fix's result. With `apply`, the fix is then
        sent as an edit to confirm whose label says how the checks went (the editor's
        preview asks "apply anyway?" after a failure); a client that cannot show that
        gets no failing fix, and nothing is sent if the document changed meanwhile."""
        settings = self.server.settings
        if not settings.verify.commands:
            raise invalid(
                "verify.commands is not set: add the project's checks to your settings "
                "(they run only in a trusted workspace: they run its code)."
            )
        key = doc_key(data.uri)
        doc = self.server.document(key)
        reported = _live(findings, key, data.finding_id)
        if doc is None or reported is None or reported.replacement is None:
            raise invalid(f"No finding {data.finding_id!r:.60} with a fix in {data.uri!r:.120}")
        version = doc.version
        r = reported.anchor.range
        path = uri_path(key)
        verifier = self._make(path, doc.source, r.start.line + 1, r.end.line + 1)
        async with verifier:
            report = await verifier(reported.replacement)
        base = {"uri": data.uri, "findingId": data.finding_id, **_checks_json(report, ())}
        if not data.apply:
            return base
        now = self.server.document(key)
        still = _live(findings, key, data.finding_id)
        if now is None or now.version != version or still is None:
            message = "The code changed while the checks ran; the fix was not applied."
            self.server.show(types.MessageType.Warning, f"fuse-ls: {message}")
            return {**base, "applied": False, "reason": message}
        if not report.passed and not actions.supports_annotations(self.server.caps):
            message = f"The fix was not applied: {report.summary()}"
            self.server.show(types.MessageType.Warning, f"fuse-ls: {message}")
            return {**base, "applied": False, "reason": message}
        try:
            new_text = actions.fix_text(
                still.replacement or reported.replacement, now.source, still.anchor.range
            )
        except RedactedFix as exc:
            self.server.show(types.MessageType.Warning, f"fuse-ls: {exc}")
            return {**base, "applied": False, "reason": str(exc)}
        failing = f"{report.summary()}\n{report.failing_lines(8)}\n\n" if not report.passed else ""
        edit = actions.workspace_edit(
            self.server.caps,
            self.server.client_uri(key),
            now.version,
            still.anchor.range,
            new_text,
            confirm=(_label(report), failing + still.message),
            annotation_id=data.request_key,
        )
        response = await self.server.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label="fuse-ls: verified fix")
        )
        applied = bool(response.applied)
        if applied:
            self.recording.record(
                lambda rec: rec.record_decision(
                    still.fusion_id, still.finding_id, "applied", kind="finding"
                )
            )
        return {
            **base,
            "applied": applied,
            "reason": None if applied else response.failure_reason or "not applied",
        }

    def _verifier(self, fusion: Fusion) -> FixVerifier | None:
        """Checks come from the settings in force, which a workspace file sets only when
        the workspace is trusted (fuse_ls/trust.py); never from a model."""
        settings = self.server.settings
        if not settings.verify.commands:
            return None
        # The buffer as the models saw it, saved or not.
        return self._make(
            uri_path(fusion.uri),
            fusion.snapshot.text,
            fusion.request.start_line,
            fusion.request.end_line,
        )

    def _make(self, path: Path, text: str, start: int, end: int) -> FixVerifier:
        # The verify machinery loads with the first checked fix, not at server start.
        from fuse_ls.verify.run import check_commands
        from fuse_ls.verify.verifier import FixVerifier, Verifications

        settings = self.server.settings
        if self._limits is None or self._limits.concurrency != settings.verify.concurrency:
            self._limits = Verifications(settings.verify.concurrency)
        return FixVerifier(
            self.fusions.workspace() or path.parent,
            path,
            text,
            start,
            end,
            check_commands(settings),  # without the model keys in their environment
            max_output_bytes=settings.verify.max_output_kb * 1024,
            limits=self._limits,
        )

    async def _finish(
        self, fusion: Fusion, result: FusionResult, request_key: str | None
    ) -> dict[str, Any]:
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
        check = result.answer_check
        base.update(checks_json(result))
        if check is not None and not check.passed and not actions.supports_annotations(server.caps):
            # Nothing would show the failure before the edit lands: do not apply it.
            message = f"The fused fix was not applied: {check.summary()}"
            server.show(types.MessageType.Warning, f"fuse-ls: {message}")
            return {**base, "applied": False, "reason": message, "_summary": "checks failed"}
        try:
            new_text = actions.fix_text(result.answer, now.text, anchor.range)
        except RedactedFix as exc:
            server.show(types.MessageType.Warning, f"fuse-ls: {exc}")
            return {**base, "applied": False, "reason": str(exc), "_summary": "redacted secret"}
        edit = actions.workspace_edit(
            server.caps,
            server.client_uri(fusion.uri),
            now.version,
            anchor.range,
            new_text,
            confirm=(
                _label(check),
                (
                    f"{check.summary()}\n{check.failing_lines(8)}\n\n"
                    if check and not check.passed
                    else ""
                )
                + f"Rewrite fused from {counted(len(result.answered), 'model')} ({answered}). "
                + (result.explanation or ""),
            ),
            annotation_id=request_key,
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
        checked = f" ({check.summary()})" if check is not None else ""
        return {
            **base,
            "applied": applied,
            "reason": None if applied else response.failure_reason,
            "_summary": ("fix applied" if applied else "fix not applied") + checked,
        }


def _live(findings: dict[str, list[Reported]], key: str, finding_id: str) -> Reported | None:
    return next((r for r in findings.get(key, []) if r.finding_id == finding_id), None)


def _label(check: CheckReport | None) -> str:
    """The apply action's label: what the checks said, so nobody applies blind."""
    if check is None:
        return "Fused fix"
    if check.passed:
        return f"Fused fix: {check.summary()}"
    return f"Fused fix (apply anyway?): {check.summary()}"


def checks_json(result: FusionResult) -> dict[str, Any]:
    """`checks` in the fix result (docs/protocol.md): the offered fix's, and each candidate's."""
    if result.answer_check is None:
        return {}
    return _checks_json(result.answer_check, result.checks)


def _checks_json(check: CheckReport, candidates: Sequence[CandidateCheck]) -> dict[str, Any]:
    return {
        "checks": {
            "passed": check.passed,
            "summary": check.summary(),
            "failingLines": check.failing_lines(),
            "durationS": round(check.duration_s, 3),
            "commands": [
                {
                    "command": c.command,
                    "exitCode": c.exit_code,
                    "passed": c.passed,
                    "timedOut": c.timed_out,
                    "cut": c.cut,
                }
                for c in check.commands
            ],
            "candidates": [
                {"model": c.model, "passed": c.report.passed, "summary": c.report.summary()}
                for c in candidates
            ],
        }
    }
