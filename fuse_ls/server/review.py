"""The review feature: `fuse-ls.review`, its findings as diagnostics (provisional while the
models answer), quick fixes resolved lazily, and the user's decisions on them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified

from fuse_ls.core.counts import counted
from fuse_ls.core.errors import RedactedFix
from fuse_ls.core.events import FusionEvent, ModelFinished
from fuse_ls.core.types import FusedFinding, FusionResult
from fuse_ls.fusion.votes import VotePolicy
from fuse_ls.server import actions
from fuse_ls.server.anchors import Snapshot, track_span
from fuse_ls.server.base import Change, Feature, ServerBase, doc_key, invalid, uri_path
from fuse_ls.server.diagnostics import (
    Reported,
    finding_id,
    finding_json,
    forget_gone,
    outside,
    provisional_findings,
    reported_from_fused,
    to_diagnostic,
    track_all,
    unique,
)
from fuse_ls.server.fusions import Fusion, Fusions, partial
from fuse_ls.server.recording import Recording
from fuse_ls.server.wire import DecisionArgs, FixData, TargetArgs, structure

if TYPE_CHECKING:
    from fuse_ls.changes.quiet import Dismissed

log = logging.getLogger(__name__)


class Review(Feature):
    def __init__(self, server: ServerBase, fusions: Fusions, recording: Recording) -> None:
        super().__init__(server)
        self.fusions = fusions
        self.recording = recording
        self.findings: dict[str, list[Reported]] = {}  # doc key -> published fused findings
        self.provisional: dict[str, list[Reported]] = {}  # doc key -> from the running review
        # doc key -> what the user dismissed in its repository, read when a review starts
        self.dismissed: dict[str, Dismissed] = {}
        # finding id -> (repository, fingerprint): a finding dismissed here is remembered
        # like `fuse-ls dismiss`, as a change review's is.
        self.fingerprints: dict[str, tuple[str, str]] = {}
        fusions.ended.append(self._fusion_ended)
        server.subscribe("review", lambda _old, _new: self._publish_all())

    # --- documents ------------------------------------------------------------------

    def document_changed(self, key: str, changes: Sequence[Change], now: Snapshot) -> None:
        if not (self.findings.get(key) or self.provisional.get(key)):
            return
        before = [r.anchor.range for r in self.published(key)]
        self.findings[key] = track_all(self.findings.get(key, []), changes, now)
        self.provisional[key] = track_all(self.provisional.get(key, []), changes, now)
        if [r.anchor.range for r in self.published(key)] != before:
            self.publish(key)

    def document_closed(self, key: str) -> None:
        self.dismissed.pop(key, None)
        # Closed documents cannot be tracked: their findings would soon point anywhere.
        findings, provisional = self.findings.pop(key, None), self.provisional.pop(key, None)
        forget_gone(self.fingerprints, self.findings.values())
        if findings or provisional:
            self.server.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=self.server.client_uri(key), diagnostics=[])
            )

    def published(self, key: str) -> list[Reported]:
        return [*self.findings.get(key, []), *self.provisional.get(key, [])]

    def publish(self, key: str) -> None:
        doc = self.server.document(key)
        uri = self.server.client_uri(key)
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri,
                version=doc.version if doc is not None else None,
                diagnostics=[to_diagnostic(r, uri) for r in unique(self.published(key))],
            )
        )

    def _publish_all(self) -> None:
        for key in list(self.findings):
            self.publish(key)

    # --- code actions (never call a model) ------------------------------------------

    def code_actions(
        self, params: types.CodeActionParams
    ) -> Sequence[types.CodeAction | types.Command]:
        uri = params.text_document.uri
        key = doc_key(uri)
        live = {r.finding_id: r for r in self.findings.get(key, [])}
        resolve = actions.supports_resolve(self.server.caps)
        listed = []
        verifying = bool(self.server.settings.verify.commands)
        for diagnostic, reported in actions.quick_fixes(
            params.context.diagnostics, live, params.context.only
        ):
            action = actions.unresolved_quick_fix(uri, diagnostic, reported)
            listed.append(self.resolve_fix(action) if not resolve else action)
            if verifying:
                listed.append(actions.verify_fix_action(uri, diagnostic, reported))
        return listed

    def resolve_fix(self, action: types.CodeAction) -> types.CodeAction:
        if action.data is None and action.command is not None:
            return action  # a command action (verify a fix, a fusion): nothing to resolve
        try:
            data = structure(action.data, FixData)
        except ValueError as exc:
            message = f"codeAction/resolve: data must carry the fuse-ls findingId: {exc}"
            raise invalid(message) from None
        key = doc_key(data.uri)
        doc = self.server.document(key)
        if doc is None:
            raise invalid(f"codeAction/resolve: unknown document {data.uri!r:.120}")
        live = {r.finding_id: r for r in self.findings.get(key, [])}
        reported = live.get(data.finding_id)
        if reported is None or reported.replacement is None:
            # Gone since listing: the code changed or a new review replaced it.
            raise JsonRpcContentModified(message="The finding is gone: the code changed.")
        try:
            new_text = actions.fix_text(reported.replacement, doc.source, reported.anchor.range)
        except RedactedFix as exc:
            raise invalid(str(exc)) from None
        action.edit = actions.workspace_edit(
            self.server.caps, data.uri, doc.version, reported.anchor.range, new_text
        )
        action.command = actions.decision_command(data.uri, reported.finding_id)
        return action

    # --- commands -------------------------------------------------------------------

    async def review_command(self, target: TargetArgs) -> dict[str, Any]:
        key = doc_key(target.uri)
        for fusion in list(self.fusions.running.values()):
            if fusion.uri == key and fusion.task == "review":
                await self.fusions.cancel_and_wait(fusion)
        self.dismissed[key] = await self._read_dismissed(target.uri)
        return await self.fusions.run("review", target, self._finish, self._observe)

    async def _read_dismissed(self, uri: str) -> Dismissed:
        """The same dismissals `fuse-ls review FILE` applies: those kept for the file's
        repository (a buffer with no file has none)."""
        # Loaded with the first review, not at start-up (tests/cli/test_startup_imports.py).
        from fuse_ls.changes import quiet

        if not uri.startswith("file:"):
            return quiet.NO_FILE
        file = uri_path(uri)
        settings = self.server.settings

        def read() -> Dismissed:
            return quiet.dismissed_in(quiet.repo_of(file.parent), file, settings)

        try:  # git and SQLite: off the event loop
            return await asyncio.to_thread(read)
        except Exception as exc:  # a review without dismissals beats no review
            log.warning("dismissed findings unreadable: %s", type(exc).__name__)
            return quiet.Dismissed(None, notes=("dismissed findings could not be read",))

    def _shown(self, key: str, text: str) -> Callable[[Sequence[FusedFinding]], list[FusedFinding]]:
        """The findings a review of `key` shows, as the CLI's one-file review."""
        from fuse_ls.changes import quiet

        known = self.dismissed.get(key, quiet.NO_FILE)

        def shown(findings: Sequence[FusedFinding]) -> list[FusedFinding]:
            return [f for f, _ in quiet.sift(findings, text, known)[0]]

        return shown

    def decision_command(self, decision: DecisionArgs) -> dict[str, Any]:
        key = doc_key(decision.uri)
        if self.server.document(key) is None and key not in self.findings:
            raise invalid(
                f"Unknown document {decision.uri}: fuse-ls published no findings there; "
                "open it and review it first."
            )
        known = {r.finding_id: r for r in self.published(key)}
        reported = known.get(decision.finding_id)
        remembered = self.fingerprints.get(decision.finding_id)
        if decision.decision == "dismissed" and remembered is not None:
            from fuse_ls.changes.cache import ReviewCache, cache_path

            with ReviewCache(cache_path(self.server.settings)) as cache:
                cache.dismiss(*remembered, "dismissed in the editor")
        fusion_id = reported.fusion_id if reported else decision.finding_id.rsplit("-", 1)[0]
        self.recording.record(
            lambda r: r.record_decision(
                fusion_id,
                decision.finding_id,
                decision.decision,
                kind="finding",
                votes=reported.votes if reported else None,
                pool_size=reported.pool_size if reported else None,
                did_not_answer=reported.did_not_answer if reported else None,
                not_waited_for=reported.not_waited_for if reported else None,
            )
        )
        return {}

    # --- a running review -----------------------------------------------------------

    def _observe(self, fusion: Fusion, event: FusionEvent) -> None:
        if isinstance(event, ModelFinished):
            fusion.answers.append(event.candidate)
            self._publish_provisional(fusion)

    def _publish_provisional(self, fusion: Fusion) -> None:
        """The answers so far, as diagnostics marked provisional, on the current text."""
        now = self.server.snapshot(fusion.uri)
        found = provisional_findings(
            fusion.answers,
            fusion.reporter.pool_size,
            fusion.snapshot,
            fusion.id,
            VotePolicy(min_votes=self.server.settings.review.min_votes_for_warning),
            self._shown(fusion.uri, fusion.snapshot.text),
        )
        self.provisional[fusion.uri] = track_all(found, fusion.changes, now)
        self.publish(fusion.uri)

    def _fusion_ended(self, fusion: Fusion) -> None:
        if fusion.task == "review" and self.provisional.pop(fusion.uri, None) is not None:
            self.publish(fusion.uri)

    async def _finish(self, fusion: Fusion, result: FusionResult) -> dict[str, Any]:
        key = fusion.uri
        now = self.server.snapshot(key)
        from fuse_ls.changes import quiet

        known = self.dismissed.get(key, quiet.NO_FILE)
        # Ignore comments and dismissals hide findings as in `fuse-ls review FILE`.
        marked = quiet.mark(result, fusion.snapshot.text, known)
        result = marked.result
        prints = {
            finding_id(f, fusion.id, n): fp
            for n, (f, fp) in enumerate(zip(result.findings, marked.fingerprints, strict=True))
        }
        if known.path is not None:
            self.fingerprints.update((i, (known.root, fp)) for i, fp in prints.items())
        fused = track_all(
            reported_from_fused(result.findings, fusion.snapshot, fusion.id), fusion.changes, now
        )
        reviewed = track_span(fusion.selection, fusion.changes, now, fusion.snapshot)
        kept = outside(self.findings.get(key, []), reviewed.start.line, reviewed.end.line)
        self.findings[key] = kept + fused
        self.provisional.pop(key, None)
        forget_gone(self.fingerprints, self.findings.values())
        self.publish(key)
        uri = self.server.client_uri(key)
        said = quiet.hidden_text(marked.hidden)
        return {
            "fusionId": fusion.id,
            "cancelled": False,
            "findings": [
                {**finding_json(r, uri), **_fingerprint(prints.get(r.finding_id))} for r in fused
            ],
            **partial(result, said),
            "hidden": marked.hidden,
            "_summary": counted(len(fused), "finding") + (f" ({said})" if said else ""),
        }


def _fingerprint(fp: str | None) -> dict[str, str]:
    """The id `fuse-ls dismiss` takes; none for a buffer with no file."""
    return {"fingerprint": fp} if fp else {}
