"""Running fusions for the task features: prepare the request, run the engine in a task
of its own, report progress, cancel.

Each fusion runs as its own asyncio task so that it can be cancelled from any route
($/cancelRequest of the command, window/workDoneProgress/cancel, `fuse-ls.cancel`, a
newer review of the same document), which pygls alone does not do for commands.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from attrs import define, evolve, field
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from fuse_ls.core.errors import AllModelsFailed, FuseError
from fuse_ls.core.events import FusionEvent
from fuse_ls.core.types import FusionRequest, FusionResult, Task
from fuse_ls.safetext import error_text
from fuse_ls.server.anchors import Snapshot, record
from fuse_ls.server.base import (
    CLIENT_TIMEOUT_S,
    Change,
    Feature,
    ServerBase,
    doc_key,
    invalid,
    uri_path,
)
from fuse_ls.server.progress import FusionReporter, SessionStats, end_message, failure_summary
from fuse_ls.server.wire import CancelArgs, TargetArgs

if TYPE_CHECKING:
    from fuse_ls.fusion.engine import FusionEngine
    from fuse_ls.verify.verifier import FixVerifier

log = logging.getLogger(__name__)


@define(eq=False)
class Fusion:
    """One running fusion and everything needed to cancel it or place its results."""

    id: str
    task: Task
    uri: str  # the document key (see base.doc_key)
    snapshot: Snapshot  # the document as the models see it
    request: FusionRequest
    selection: types.Range  # the selected lines, on `snapshot`
    engine: FusionEngine
    reporter: FusionReporter
    handle: asyncio.Task[dict[str, Any]] | None = None
    request_id: Any = None  # the executeCommand request, for $/cancelRequest
    token: str | None = None  # the work-done progress token
    changes: list[Change] = field(factory=list)  # edits to the document since `snapshot`
    answers: list[Any] = field(factory=list)  # CandidateResults so far (provisional)
    closed: bool = False  # ended: later engine events must not reach the client


Finish = Callable[[Fusion, FusionResult], Awaitable[dict[str, Any]]]
Observe = Callable[[Fusion, FusionEvent], None]
# Fix fusions: the verifier for one fusion (None: no checks configured).
VerifierFor = Callable[[Fusion], "FixVerifier | None"]


def selected_lines(target: TargetArgs) -> tuple[int | None, int | None]:
    """1-based inclusive lines of the target range; (None, None) for the document.

    Only converts: `context.build_request` owns the check against the document (BadRange),
    the same rule the CLI's line arguments meet."""
    r = target.range
    if r is None or r.start == r.end:
        return None, None
    # A selection that ends at the start of a line does not include that line.
    last = r.end.line if r.end.character == 0 and r.end.line > r.start.line else r.end.line + 1
    return r.start.line + 1, last


class Fusions(Feature):
    """The running fusions of the session, and the `fuse-ls.cancel` command."""

    def __init__(
        self,
        server: ServerBase,
        *,
        workspace: Callable[[], Any],
        record: Callable[[Callable[[Any], None]], None],
    ) -> None:
        super().__init__(server)
        self.running: dict[str, Fusion] = {}
        self.stats = SessionStats()
        # Features that keep per-fusion state (provisional findings) clean it up here.
        self.ended: list[Callable[[Fusion], None]] = []
        self._workspace = workspace
        self.workspace = workspace  # the workspace folder (a Path) or None
        self._record = record
        server.engine_users = lambda: [f.engine for f in self.running.values()]

    # --- hooks ----------------------------------------------------------------------

    def document_changed(self, key: str, changes: Sequence[Change], now: Snapshot) -> None:
        for fusion in self.running.values():
            if fusion.uri == key:
                record(fusion.changes, changes)

    def document_closed(self, key: str) -> None:
        for fusion in list(self.running.values()):
            if fusion.uri == key and fusion.handle is not None:
                fusion.handle.cancel()

    async def shutdown(self) -> None:
        handles = [f.handle for f in self.running.values() if f.handle is not None]
        for handle in handles:
            handle.cancel()
        if handles:
            await asyncio.wait(handles, timeout=2)

    # --- cancelling -----------------------------------------------------------------

    async def cancel_command(self, args: CancelArgs) -> dict[str, Any]:
        key = None if args.uri is None else doc_key(args.uri)
        chosen = [f for f in self.running.values() if key is None or f.uri == key]
        for fusion in chosen:
            await self.cancel_and_wait(fusion)
        return {"cancelled": len(chosen)}

    async def cancel_and_wait(self, fusion: Fusion) -> None:
        if fusion.handle is None:
            return
        fusion.handle.cancel()
        await asyncio.wait([fusion.handle], timeout=2)

    def cancel_request(self, request_id: Any) -> None:
        for fusion in self.running.values():
            if fusion.request_id == request_id and fusion.handle is not None:
                fusion.handle.cancel()

    def on_progress_cancel(self, params: types.WorkDoneProgressCancelParams) -> None:
        for fusion in self.running.values():
            if fusion.token == params.token and fusion.handle is not None:
                fusion.handle.cancel()

    # --- running --------------------------------------------------------------------

    async def run(
        self,
        task: Task,
        target: TargetArgs,
        finish: Finish,
        observe: Observe | None = None,
        verifier_for: VerifierFor | None = None,
    ) -> dict[str, Any]:
        fusion = await self._prepare(task, target)
        self.running[fusion.id] = fusion
        verifier = verifier_for(fusion) if verifier_for is not None else None
        fusion.handle = asyncio.create_task(self._run(fusion, finish, observe, verifier))
        try:
            await asyncio.wait([fusion.handle])
        except asyncio.CancelledError:
            # The command itself was cancelled (shutdown): take the fusion with it.
            fusion.handle.cancel()
            raise
        if fusion.handle.cancelled():
            return {"fusionId": fusion.id, "cancelled": True}
        return fusion.handle.result()

    async def _prepare(self, task: Task, target: TargetArgs) -> Fusion:
        from fuse_ls.context import build_request, language_for
        from fuse_ls.core.errors import BadRange
        from fuse_ls.fusion.policy import policy_for

        server = self.server
        await server.ready.wait()
        snapshot = server.snapshot(target.uri)
        start, end = selected_lines(target)
        doc = server.document(target.uri)
        path = uri_path(target.uri)
        language = (doc.language_id if doc else None) or language_for(path)
        try:
            # Reads sidecars and scans SQL lineage: off the event loop.
            request = await asyncio.to_thread(
                build_request,
                task,
                path,
                snapshot.text,
                start,
                end,
                server.settings,
                self._workspace(),
                language,
            )
        except BadRange as exc:
            raise invalid(str(exc)) from exc
        request = evolve(request, policy=policy_for(server.settings, target.mode))
        selection = snapshot.line_range(request.start_line, request.end_line) or snapshot.whole
        engine = server.engine
        fusion_id = uuid.uuid4().hex[:12]
        reporter = FusionReporter(
            notify=server.notify,
            progress=None,
            stats=self.stats,
            fusion_id=fusion_id,
            uri=server.client_uri(snapshot.uri),
            task=task,
            pool_size=len(engine.slots()),
            in_flight=lambda: len(self.running),
        )
        return Fusion(
            id=fusion_id,
            task=task,
            uri=snapshot.uri,
            snapshot=snapshot,
            request=request,
            selection=selection,
            engine=engine,
            reporter=reporter,
            request_id=server.protocol.msg_id,
        )

    async def _run(
        self,
        fusion: Fusion,
        finish: Finish,
        observe: Observe | None,
        verifier: FixVerifier | None = None,
    ) -> dict[str, Any]:
        server = self.server
        self.stats.fusions += 1

        def on_event(event: FusionEvent) -> None:
            if fusion.closed:
                return
            self._record(lambda r: r.observe(event))
            fusion.reporter.on_event(event)
            if observe is not None:
                observe(fusion, event)

        try:
            await self._begin_progress(fusion)
            fusion.reporter.begin()
            if verifier is None:
                result = await fusion.engine.run(fusion.request, on_event, fusion_id=fusion.id)
            else:
                # The isolated copy is made while the models think; it goes however the
                # fusion ends (cancelled included).
                async with verifier:
                    verifier.start()
                    result = await fusion.engine.run(
                        fusion.request, on_event, fusion_id=fusion.id, verifier=verifier
                    )
            if result.failed:
                self._show_partial_failure(fusion, result)
            outcome = await finish(fusion, result)
            fusion.reporter.end("finished", end_message(result, outcome.pop("_summary")))
            return outcome
        except asyncio.CancelledError:
            self.end(fusion, "cancelled", "Cancelled")
            raise
        except FuseError as exc:
            server.show(types.MessageType.Error, f"fuse-ls: {exc}")
            self.end(fusion, "failed", str(exc))
            return {"fusionId": fusion.id, "cancelled": False, "error": str(exc), **_reasons(exc)}
        except Exception as exc:  # a bug must cost one fusion, never the server
            log.exception("fusion %s failed", fusion.id)
            # Never repr(exc): it may carry the whole prompt (a UnicodeEncodeError does).
            why = f"internal error: {error_text(exc)}"
            server.show(types.MessageType.Error, f"fuse-ls: {why}")
            self.end(fusion, "failed", why)
            return {"fusionId": fusion.id, "cancelled": False, "error": why}
        finally:
            fusion.closed = True
            self.running.pop(fusion.id, None)
            server.release_engine(fusion.engine)

    def end(self, fusion: Fusion, state: Literal["cancelled", "failed"], why: str) -> None:
        """Ends a fusion that produced nothing: provisional results must not outlive it."""
        fusion.closed = True
        for hook in self.ended:
            hook(fusion)
        fusion.reporter.end(state, why)

    async def _begin_progress(self, fusion: Fusion) -> None:
        server = self.server
        window = server.caps.window
        if window is None or not window.work_done_progress:
            return
        token = str(uuid.uuid4())  # fresh each time: pygls never forgets a token
        try:
            await asyncio.wait_for(server.work_done_progress.create_async(token), CLIENT_TIMEOUT_S)
        except (TimeoutError, JsonRpcException) as exc:
            log.warning("progress not available: %s", exc)
            return
        fusion.token = token

        def send(kind: str, value: dict[str, Any]) -> None:
            if kind == "begin":
                server.work_done_progress.begin(token, types.WorkDoneProgressBegin(**value))
            elif kind == "report":
                server.work_done_progress.report(token, types.WorkDoneProgressReport(**value))
            else:
                server.work_done_progress.end(
                    token, types.WorkDoneProgressEnd(message=value.get("message"))
                )

        fusion.reporter.set_progress(send)

    def _show_partial_failure(self, fusion: Fusion, result: FusionResult) -> None:
        answered, total = len(result.answered), len(result.candidates)
        self.server.show(
            types.MessageType.Warning,
            f"fuse-ls: {total - answered} of {total} models failed; the {fusion.task} used "
            f"the {answered} that answered. {failure_summary(result.failed)}",
        )


def partial(result: FusionResult, *extra_notes: str | None) -> dict[str, Any]:
    return {
        "failed": [
            {"model": c.model, "error": c.error, "errorKind": c.error_kind} for c in result.failed
        ],
        "notes": [*result.notes, *(n for n in extra_notes if n)],
        "costUsd": result.total_cost_usd,
        "engineWallS": result.wall_time_s,
        # Editors tell a judged result from one that fell back to the votes by this.
        "judge": None
        if result.judge is None
        else {
            "model": result.judge.model,
            "status": result.judge.status,
            "error": result.judge.error,
        },
    }


def _reasons(exc: FuseError) -> dict[str, Any]:
    if isinstance(exc, AllModelsFailed):
        return {"failed": [{"model": m, "error": e} for m, e in exc.reasons]}
    return {}
