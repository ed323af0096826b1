"""`fuse-ls.reviewChanges`: a fused review of the workspace's git change in the editor.

The review itself is `fuse_ls.changes` (the same units, cache and noise filters as
`fuse-ls review --uncommitted/--staged/--diff`). This module turns it into diagnostics on
every changed file: cached units are published at once, the others as each unit
finishes; one work-done progress reports units done and cost; it is cancelled by the
progress' cancel button, `$/cancelRequest` of the command (which stops that review alone),
or `fuse-ls.cancel` without a uri (which stops every fusion). A cancelled review keeps the
units it finished (published and cached) and leaves the files it did not get to as they
were. Dismissing a finding it published remembers the finding for the repository.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attrs import define, field, frozen
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from fuse_ls.changes.cache import ReviewCache, cache_path
from fuse_ls.changes.git import GitError, Scope, read_changes
from fuse_ls.changes.review import (
    ChangeReview,
    ChangeReviewer,
    ReviewOptions,
    RunState,
    Target,
    UnitOutcome,
)
from fuse_ls.context import language_for
from fuse_ls.core.errors import FuseError
from fuse_ls.core.types import CandidateResult
from fuse_ls.fusion.votes import VotePolicy
from fuse_ls.safetext import error_text
from fuse_ls.server.actions import REVIEW_CHANGES
from fuse_ls.server.anchors import Snapshot, track_span
from fuse_ls.server.base import Change, doc_key, invalid, uri_path
from fuse_ls.server.diagnostics import (
    Reported,
    finding_id,
    finding_json,
    forget_gone,
    overlaps,
    provisional_findings,
    reported_from_fused,
    track_all,
)
from fuse_ls.server.placing import EditLogs, FileTexts, Placing, place

log = logging.getLogger(__name__)

ID_PREFIX = "changes-"  # fusion ids of change-review findings start with it
_SCOPES: tuple[Scope, ...] = ("uncommitted", "staged", "diff")
_CLIENT_TIMEOUT_S = 5.0


@frozen
class ChangesArgs:
    scope: Scope = "uncommitted"
    base: str | None = None
    paths: tuple[str, ...] = ()


def parse_args(args: Sequence[Any]) -> ChangesArgs:
    if len(args) > 1:
        raise invalid(f"{REVIEW_CHANGES} takes at most one argument, got {len(args)}")
    arg = args[0] if args else {}
    if arg is None:
        arg = {}
    if hasattr(arg, "_asdict"):  # pygls hands untyped JSON objects over as namedtuples
        arg = arg._asdict()
    if not isinstance(arg, dict):
        raise invalid(f"{REVIEW_CHANGES}: the argument must be an object, got {arg!r:.80}")
    scope = arg.get("scope", "uncommitted")
    if scope not in _SCOPES:
        raise invalid(f"{REVIEW_CHANGES}: 'scope' must be one of {', '.join(_SCOPES)}")
    base = arg.get("base")
    if base is not None and (not isinstance(base, str) or scope != "diff"):
        raise invalid(f"{REVIEW_CHANGES}: 'base' is a string and only goes with scope 'diff'")
    paths = arg.get("paths") or []
    if not isinstance(paths, list | tuple) or not all(isinstance(p, str) for p in paths):
        raise invalid(f"{REVIEW_CHANGES}: 'paths' must be a list of strings")
    if any("\0" in p for p in paths):
        # No file name holds one; the path library would fail on it as an internal error.
        raise invalid(f"{REVIEW_CHANGES}: a path in 'paths' holds a NUL character")
    return ChangesArgs(scope, base or None, tuple(paths))


@define
class ChangeRun:
    """One running change review, so every cancel route can find it."""

    id: str
    request_id: Any
    task: asyncio.Task[ChangeReview] | None = None
    token: str | None = None
    # uri -> unit key -> provisional diagnostics from the models that answered so far
    provisional: dict[str, dict[str, list[Reported]]] = field(factory=dict)
    answers: dict[str, list[CandidateResult]] = field(factory=dict)  # unit key -> answers
    edits: EditLogs = field(factory=EditLogs)  # the open buffers' edits since read
    texts: FileTexts = field(factory=FileTexts)  # what its findings are placed on
    reviewed: dict[str, tuple[Path, str]] = field(factory=dict)  # uri -> (file, text reviewed)


class ChangeReviews:
    """The server's change reviews: starts them, publishes them, cancels them."""

    def __init__(self, server: Any) -> None:  # the FuseLanguageServer (no import cycle)
        self.server = server
        self.running: dict[str, ChangeRun] = {}
        # finding id -> (repository, fingerprint) for every change-review finding shown.
        self.fingerprints: dict[str, tuple[str, str]] = {}

    # --- cancel routes ----------------------------------------------------------------

    def cancel_all(self) -> int:
        count = 0
        for run in self.running.values():
            if run.task is not None and not run.task.done():
                run.task.cancel()
                count += 1
        return count

    async def shutdown(self) -> None:
        """Stop every review; each stores what it finished and ends its progress."""
        tasks = [r.task for r in self.running.values() if r.task is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    def cancel_request(self, request_id: Any) -> None:
        for run in self.running.values():
            if run.request_id == request_id and run.task is not None:
                run.task.cancel()

    def cancel_token(self, token: Any) -> None:
        for run in self.running.values():
            if run.token == token and run.task is not None:
                run.task.cancel()

    # --- dismissals -------------------------------------------------------------------

    def dismissed(self, finding_id: str) -> bool:
        """Remember a dismissed change-review finding for its repository."""
        found = self.fingerprints.get(finding_id)
        if found is None:
            return False
        repo, fingerprint = found
        with ReviewCache(self._cache_path()) as cache:
            cache.dismiss(repo, fingerprint, "dismissed in the editor")
        return True

    def _cache_path(self) -> Path:
        return cache_path(self.server.settings)

    def _buffers(self, run: ChangeRun, only: Sequence[Path]) -> dict[Path, str]:
        """The open documents' texts, unsaved edits included: the change under review
        is what the user sees, not what was last saved. The run logs their edits from
        here on, to place its findings on the code they were about."""
        out: dict[Path, str] = {}
        for doc in list(self.server.workspace.text_documents.values()):
            if not doc.uri.startswith("file:"):
                continue
            path = uri_path(doc.uri).resolve()
            if only and not any(path == p or p in path.parents for p in only):
                continue
            out[path] = doc.source
            run.edits.start(doc_key(doc.uri), doc.source)
        return out

    # --- documents --------------------------------------------------------------------

    def document_changed(self, key: str, changes: Sequence[Change]) -> None:
        for run in self.running.values():
            run.edits.changed(key, changes)

    def document_closed(self, key: str) -> None:
        for run in self.running.values():
            run.edits.closed(key)

    def _place(self, run: ChangeRun, uri: str) -> Placing | None:
        path, text = run.reviewed[uri]
        return place(self.server, uri, path, text, run.edits, run.texts)

    # --- the command ------------------------------------------------------------------

    async def command(self, *args: object) -> dict[str, Any]:
        parsed = parse_args(args)
        server = self.server
        await server.wait_ready()
        workspace = server.state.workspace
        if workspace is None:
            raise invalid(f"{REVIEW_CHANGES} needs a workspace folder (a git repository)")
        paths = [str((workspace / p).resolve()) for p in parsed.paths]
        run = ChangeRun(ID_PREFIX + uuid.uuid4().hex[:10], server.protocol.msg_id)
        self.running[run.id] = run  # from here on the open buffers' edits are logged
        buffers = self._buffers(run, [Path(p) for p in paths])
        try:
            changes = await asyncio.to_thread(
                read_changes, workspace, parsed.scope, parsed.base, paths, buffers
            )
        except GitError as git_error:
            self.running.pop(run.id, None)
            server.show(types.MessageType.Error, f"fuse-ls: {git_error}")
            return {"cancelled": False, "error": str(git_error)}
        except BaseException:
            self.running.pop(run.id, None)
            raise
        root = changes.root
        targets = [
            Target(f.path, root / f.path, language_for(Path(f.path)), f.text, f.changed)
            for f in changes.reviewable
            if f.text is not None
        ]
        run.reviewed = {(root / t.path).as_uri(): (root / t.path, t.text) for t in targets}
        run.edits.keep({doc_key(uri) for uri in run.reviewed})
        published: set[str] = set()
        cache = ReviewCache(self._cache_path())
        reviewer: ChangeReviewer

        def on_unit(outcome: UnitOutcome) -> None:
            self._drop_provisional(run, (root / outcome.unit.path).as_uri(), outcome.key)
            self._publish_unit(run, reviewer, root, outcome, published)

        def on_answer(outcome: UnitOutcome, candidate: CandidateResult) -> None:
            self._publish_answer(run, root, outcome, candidate)

        report = await self._progress(run)
        reviewer = ChangeReviewer(
            server.settings,
            root,
            ReviewOptions(max_findings=None),
            cache=cache,
            on_update=report,
            on_unit=on_unit,
            on_answer=on_answer,
            observer=server.record_event,
            description=changes.description,
            skipped_files=[(f.path, f.skipped) for f in changes.files if f.skipped],
        )
        run.task = asyncio.create_task(reviewer.run(targets))
        try:
            await asyncio.wait([run.task])
        except asyncio.CancelledError:
            # The command itself was cancelled (shutdown): the review goes too, but only
            # once it has stored its finished units and closed its calls.
            run.task.cancel()
            await asyncio.wait([run.task])
            self._end_progress(run, "Cancelled")
            raise
        finally:
            self.running.pop(run.id, None)
            cache.close()
            for uri in list(run.provisional):  # nothing provisional outlives its run
                for key in list(run.provisional[uri]):
                    self._drop_provisional(run, uri, key)
            forget_gone(self.fingerprints, server.review.findings.values())
        if run.task.cancelled():
            # Files it did not get to keep the previous review's findings.
            self._end_progress(run, "Cancelled")
            return {"reviewId": run.id, "cancelled": True}
        # Files of the change with no finding now lose the previous review's findings.
        for target in targets:
            uri = (root / target.path).as_uri()
            if uri not in published:
                self._replace(run, uri, [])
        exc = run.task.exception()
        if isinstance(exc, FuseError):
            server.show(types.MessageType.Error, f"fuse-ls: {exc}")
            self._end_progress(run, str(exc))
            return {"reviewId": run.id, "cancelled": False, "error": str(exc)}
        if exc is not None:
            log.error("change review %s failed", run.id, exc_info=exc)
            # Never repr(exc): it may carry a whole prompt or code (see safetext.error_text).
            why = f"internal error: {error_text(exc)}"
            self._end_progress(run, why)
            return {"reviewId": run.id, "cancelled": False, "error": why}
        review = run.task.result()
        return self._result(run, root, review)

    def _result(self, run: ChangeRun, root: Path, review: ChangeReview) -> dict[str, Any]:
        findings = []
        for outcome in review.outcomes:
            uri = (root / outcome.unit.path).as_uri()
            for r in self.server.findings.get(uri, []):
                if r.fusion_id == _unit_id(run, outcome):
                    fp = self.fingerprints.get(r.finding_id, ("", ""))[1]
                    findings.append({"fingerprint": fp, **finding_json(r, uri)})
        cached = sum(o.cached for o in review.outcomes)
        summary = (
            f"{len(review.outcomes)} unit(s), {cached} cached, {len(findings)} finding(s), "
            f"${review.total_cost_usd:.4f}"
        )
        self._end_progress(run, summary)
        out: dict[str, Any] = {
            "reviewId": run.id,
            "cancelled": False,
            "description": review.description,
            "units": len(review.outcomes),
            "cached": cached,
            "calls": review.calls,
            "costUsd": review.total_cost_usd,
            "findings": findings,
            "skippedFiles": [{"path": p, "reason": why} for p, why in review.skipped_files],
            "failedUnits": [
                {"path": o.unit.path, "startLine": o.unit.start_line, "error": o.error}
                for o in review.outcomes
                if o.error
            ],
        }
        if review.stopped:
            out["stopped"] = review.stopped
        return out

    # --- publishing -------------------------------------------------------------------

    def _publish_unit(
        self,
        run: ChangeRun,
        reviewer: ChangeReviewer,
        root: Path,
        outcome: UnitOutcome,
        published: set[str],
    ) -> None:
        server = self.server
        uri = (root / outcome.unit.path).as_uri()
        shown = reviewer.shown(outcome)
        unit_id = _unit_id(run, outcome)
        for n, s in enumerate(shown):
            self.fingerprints[finding_id(s.finding, unit_id, n)] = (str(root), s.fingerprint)
        placing = self._place(run, uri)
        reported: list[Reported] = []
        if placing is not None:
            # On the text the models saw, then moved with the user's edits since (or
            # dropped where they rewrote the code), like any review's findings.
            fused = reported_from_fused([r.finding for r in shown], placing.then, unit_id)
            reported = track_all(fused, placing.edits, placing.now)
        before = server.findings.get(uri, [])
        kept = before
        if uri not in published:
            published.add(uri)
            kept = self._without_earlier_runs(run, kept)
        reviewed_anew = outcome.error is None and outcome.skipped is None
        unit = outcome.unit
        lines = placing.then.line_range(unit.start_line, unit.end_line) if placing else None
        if reviewed_anew and placing is not None and lines is not None:
            # The unit's lines (the change and its enclosing function) were reviewed anew:
            # what a selection review found there is replaced, as a newer selection review
            # replaces what this one finds in its range (review.py). Elsewhere it stays.
            span = track_span(lines, placing.edits, placing.now, placing.then)
            start, end = span.start.line, span.end.line
            kept = [
                r for r in kept if r.fusion_id.startswith(run.id) or not overlaps(r, start, end)
            ]
        if not reported and len(kept) == len(before):
            return
        server.findings[uri] = [*kept, *reported]
        server.publish(uri)

    def _publish_answer(
        self,
        run: ChangeRun,
        root: Path,
        outcome: UnitOutcome,
        candidate: CandidateResult,
    ) -> None:
        """A model's answer for a running unit: what the answers so far agree on, on the
        changed lines, marked provisional until the unit's fused result replaces it."""
        server = self.server
        uri = (root / outcome.unit.path).as_uri()
        answers = run.answers.setdefault(outcome.key, [])
        answers.append(candidate)
        text = run.reviewed[uri][1]
        snapshot = Snapshot(doc_key(uri), text, None, server.workspace.position_codec)
        pool_size = sum(max(spec.repeat, 1) for spec in server.settings.pool)
        policy = VotePolicy(min_votes=server.settings.review.min_votes_for_warning)
        found = provisional_findings(
            answers, pool_size, snapshot, _unit_id(run, outcome) + "-p", policy
        )
        changed = outcome.unit.changed
        on_changed = [
            r
            for r in found
            if any(
                n + 1 in changed
                for n in range(r.anchor.range.start.line, r.anchor.range.end.line + 1)
            )
        ]
        # Kept on the reviewed text: each showing maps them onto the text of that moment.
        run.provisional.setdefault(uri, {})[outcome.key] = on_changed
        self._show_provisional(run, uri)

    def _drop_provisional(self, run: ChangeRun, uri: str, key: str) -> None:
        units = run.provisional.get(uri)
        if units is None or units.pop(key, None) is None:
            return
        if not units:
            run.provisional.pop(uri, None)
        self._show_provisional(run, uri)

    def _show_provisional(self, run: ChangeRun, uri: str) -> None:
        server = self.server
        mine = [r for unit in run.provisional.get(uri, {}).values() for r in unit]
        placing = self._place(run, uri) if mine else None
        mine = [] if placing is None else track_all(mine, placing.edits, placing.now)
        others = [r for r in server.provisional.get(uri, []) if not r.fusion_id.startswith(run.id)]
        if mine or others:
            server.provisional[uri] = [*others, *mine]
        else:
            server.provisional.pop(uri, None)
        server.publish(uri)

    def _replace(self, run: ChangeRun, uri: str, reported: list[Reported]) -> None:
        """This run's findings replace earlier change reviews' ones in the file."""
        server = self.server
        before = server.findings.get(uri, [])
        kept = self._without_earlier_runs(run, before)
        if not reported and len(kept) == len(before):
            return
        server.findings[uri] = [*kept, *reported]
        server.publish(uri)

    @staticmethod
    def _without_earlier_runs(run: ChangeRun, reported: list[Reported]) -> list[Reported]:
        return [
            r
            for r in reported
            if not r.fusion_id.startswith(ID_PREFIX) or r.fusion_id.startswith(run.id)
        ]

    # --- progress ---------------------------------------------------------------------

    async def _progress(self, run: ChangeRun) -> Any:
        server = self.server
        window = server.caps.window
        if window is None or not window.work_done_progress:
            return None
        token = str(uuid.uuid4())
        try:
            await asyncio.wait_for(server.work_done_progress.create_async(token), _CLIENT_TIMEOUT_S)
        except (TimeoutError, JsonRpcException) as exc:
            log.warning("progress not available: %s", exc)
            return None
        run.token = token
        server.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(
                title="Fused review of changes", cancellable=True, message="reading the change"
            ),
        )
        last: list[tuple[int, int, str]] = []

        def report(state: RunState) -> None:
            key = (state.done, state.units, state.stage)
            if last and last[-1] == key:
                return
            last[:] = [key]
            percentage = int(100 * state.done / state.units) if state.units else 0
            server.work_done_progress.report(
                token,
                types.WorkDoneProgressReport(
                    message=f"units {state.done}/{state.units} ({state.cached} cached) · "
                    f"${state.cost_usd:.4f}",
                    percentage=percentage,
                    cancellable=True,
                ),
            )

        return report

    def _end_progress(self, run: ChangeRun, message: str) -> None:
        if run.token is not None:
            self.server.work_done_progress.end(
                run.token, types.WorkDoneProgressEnd(message=message)
            )


def _unit_id(run: ChangeRun, outcome: UnitOutcome) -> str:
    return f"{run.id}-{outcome.key[:8]}"
