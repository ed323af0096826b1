"""The fuse-ls language server: LSP features wired to the fusion engine.

`FuseLanguageServer` owns every piece of mutable state (settings, running fusions,
published findings, explanations, statistics); the feature handlers are its methods.
Each fusion runs as its own asyncio task so that it can be cancelled from any route
($/cancelRequest of the command, window/workDoneProgress/cancel, `fuse-ls.cancel`, a
newer review of the same document), which pygls alone does not do for commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from attrs import define, evolve, field
from lsprotocol import types
from pygls.exceptions import JsonRpcContentModified, JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol
from pygls.uris import to_fs_path

from fuse_ls import __version__
from fuse_ls.config import Settings
from fuse_ls.core.errors import AllModelsFailed, ConfigNotice, FuseError
from fuse_ls.core.events import FusionEvent, ModelFinished
from fuse_ls.core.paths import data_dir
from fuse_ls.core.types import FusionRequest, FusionResult, Task
from fuse_ls.fusion.votes import VotePolicy
from fuse_ls.server import actions
from fuse_ls.server.actions import Target, invalid
from fuse_ls.server.anchors import Anchor, Snapshot, track, track_span
from fuse_ls.server.diagnostics import (
    Reported,
    finding_json,
    moved,
    provisional_findings,
    reported_from_fused,
    to_diagnostic,
)
from fuse_ls.server.explain import render_markdown, write_explanation
from fuse_ls.server.progress import FusionReporter, SessionStats, end_message, failure_summary
from fuse_ls.server.settings import SECTION, SettingsState

if TYPE_CHECKING:
    from fuse_ls.fusion.engine import FusionEngine

log = logging.getLogger(__name__)

# Loaded after `initialize` is answered, off the event loop: together they cost as much
# as pygls itself to import, and an editor waits for `initialize` before anything else.
_HEAVY_MODULES = ("fuse_ls.fusion.engine", "fuse_ls.context", "fuse_ls.telemetry.session")

Change = types.TextDocumentContentChangeEvent
_CLIENT_TIMEOUT_S = 5.0  # for our own requests to the client (configuration, progress)


class FuseProtocol(LanguageServerProtocol):
    """pygls answers a cancelled `workspace/executeCommand` with -32800 but leaves the
    command's coroutine running; this hook lets the server stop the fusion behind it."""

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        super()._handle_cancel_notification(msg_id)
        if isinstance(self._server, FuseLanguageServer):
            self._server.cancel_request(msg_id)


@define(eq=False)
class Fusion:
    """One running fusion and everything needed to cancel it or place its results."""

    id: str
    task: Task
    uri: str
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


def _import_heavy_modules() -> None:
    for name in _HEAVY_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # reported where the module is used
            log.exception("importing %s failed", name)


def _plain(method: Callable[..., Any]) -> Callable[..., Any]:
    """A plain function calling a bound method: pygls sets attributes on handlers (which
    bound methods refuse) and passes every command argument through `*args` untouched."""
    if asyncio.iscoroutinefunction(method):

        async def async_handler(*args: Any) -> Any:
            return await method(*args)

        return async_handler

    def handler(*args: Any) -> Any:
        return method(*args)

    return handler


def _uri_path(uri: str) -> Path:
    path = to_fs_path(uri)
    return Path(path) if path else Path(uri.rsplit("/", 1)[-1] or "untitled")


class FuseLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "fuse-ls",
            __version__,
            protocol_cls=FuseProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        self.state = SettingsState(None)
        self.settings: Settings = Settings()
        self._engine: FusionEngine | None = None
        self._ready = asyncio.Event()
        self.fusions: dict[str, Fusion] = {}
        self.findings: dict[str, list[Reported]] = {}  # uri -> published fused findings
        self.provisional: dict[str, list[Reported]] = {}  # uri -> from the running review
        self.explanations: dict[str, list[tuple[Anchor, str]]] = {}  # uri -> hover cache
        self.stats = SessionStats()
        self.recorder: Any = None  # SessionRecorder, when telemetry is on
        self._shown_problems: set[str] = set()
        self._watch_stop = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._changes: Any = None  # ChangeReviews, made on first use (heavy imports)
        self._register()

    # --- registration ---------------------------------------------------------------

    def _register(self) -> None:
        t = types
        on = self._on
        on(t.INITIALIZE, self.on_initialize)
        on(t.INITIALIZED, self.on_initialized)
        on(t.SHUTDOWN, self.on_shutdown)
        on(t.WORKSPACE_DID_CHANGE_CONFIGURATION, self.on_did_change_configuration)
        on(t.WORKSPACE_DID_CHANGE_WATCHED_FILES, self.on_did_change_watched_files)
        on(t.TEXT_DOCUMENT_DID_CHANGE, self.on_did_change)
        on(t.TEXT_DOCUMENT_DID_CLOSE, self.on_did_close)
        on(
            t.TEXT_DOCUMENT_CODE_ACTION,
            self.on_code_action,
            t.CodeActionOptions(code_action_kinds=list(actions.KINDS), resolve_provider=True),
        )
        on(t.CODE_ACTION_RESOLVE, self.on_code_action_resolve)
        on(t.TEXT_DOCUMENT_HOVER, self.on_hover)
        on(t.WINDOW_WORK_DONE_PROGRESS_CANCEL, self.on_progress_cancel)
        commands = {
            actions.REVIEW: self.cmd_review,
            actions.EXPLAIN: self.cmd_explain,
            actions.FIX: self.cmd_fix,
            actions.CANCEL: self.cmd_cancel,
            actions.STATS: self.cmd_stats,
            actions.FINDING_DECISION: self.cmd_finding_decision,
            actions.REVIEW_CHANGES: self.cmd_review_changes,
        }
        for name, method in commands.items():
            self.command(name)(_plain(method))

    def _on(self, feature: str, method: Callable[..., Any], options: Any = None) -> None:
        self.feature(feature, options)(_plain(method))

    # --- small helpers --------------------------------------------------------------

    @property
    def caps(self) -> types.ClientCapabilities:
        return self.client_capabilities

    def show(self, kind: types.MessageType, message: str) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def notify(self, method: str, payload: Any) -> None:
        self.protocol.notify(method, payload)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        # Keep a reference: the loop holds tasks weakly.
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    @property
    def engine(self) -> FusionEngine:
        if self._engine is None:
            from fuse_ls.fusion.engine import FusionEngine

            self._engine = FusionEngine(self.settings)
        return self._engine

    @property
    def changes(self) -> Any:
        if self._changes is None:
            from fuse_ls.server.changes import ChangeReviews

            self._changes = ChangeReviews(self)
        return self._changes

    async def wait_ready(self) -> None:
        await self._ready.wait()

    def record_event(self, event: FusionEvent) -> None:
        self._record(lambda r: r.observe(event))

    def snapshot(self, uri: str) -> Snapshot:
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            raise invalid(f"Unknown document {uri}: open it in the editor first (didOpen).")
        return Snapshot(uri, doc.source, doc.version, self.workspace.position_codec)

    # --- lifecycle and settings -----------------------------------------------------

    def on_initialize(self, params: types.InitializeParams) -> None:
        root = self.workspace.root_path
        self.state = SettingsState(Path(root) if root else None)
        self.state.set_initialization_options(params.initialization_options)

    async def on_initialized(self, params: types.InitializedParams) -> None:
        await asyncio.to_thread(_import_heavy_modules)
        await self._pull_configuration()
        await self.reload_settings()
        self._ready.set()
        self._start_recorder()
        await self._watch_settings_files()

    async def _pull_configuration(self) -> None:
        workspace = self.caps.workspace
        if workspace is None or not workspace.configuration:
            return
        try:
            values = await asyncio.wait_for(
                self.workspace_configuration_async(
                    types.ConfigurationParams(
                        items=[
                            types.ConfigurationItem(
                                section=SECTION, scope_uri=self.workspace.root_uri
                            )
                        ]
                    )
                ),
                _CLIENT_TIMEOUT_S,
            )
        except (TimeoutError, JsonRpcException) as exc:
            log.warning("workspace/configuration failed: %s", exc)
            return
        if values:
            self.state.set_client_settings(values[0])

    async def reload_settings(self) -> None:
        """Load the layered settings; show new problems; keep the last valid settings."""
        first = self.state.current is None
        outcome = await asyncio.to_thread(self.state.reload)
        messages = {str(p): p for p in outcome.problems}
        for text, problem in messages.items():
            if text not in self._shown_problems:
                notice = isinstance(problem, ConfigNotice)
                kept = "" if notice or first else " The last valid settings stay."
                kind = types.MessageType.Warning if notice else types.MessageType.Error
                self.show(kind, f"fuse-ls: {text}{kept}")
        self._shown_problems = set(messages)
        if outcome.changed:
            self.settings = outcome.settings
            self._retire_engine()

    def _retire_engine(self) -> None:
        """New endpoints, new engine; the old one closes once its fusions are done.

        A change of mode, judge, quorum or debate rounds keeps the engine (and its
        connections): those travel with each request as its policy."""
        from fuse_ls.fusion.policy import serves

        if self._engine is not None and serves(self._engine.settings, self.settings):
            self._engine.settings = self.settings
            return
        old, self._engine = self._engine, None
        if old is not None and not any(f.engine is old for f in self.fusions.values()):
            self._spawn(old.aclose())

    async def on_did_change_configuration(self, params: types.DidChangeConfigurationParams) -> None:
        self.state.set_workspace_trust(params.settings)
        workspace = self.caps.workspace
        if workspace is not None and workspace.configuration:
            await self._pull_configuration()
        else:
            # A client that cannot be asked pushes its settings in the notification.
            self.state.set_client_settings(params.settings)
        await self.reload_settings()

    async def _watch_settings_files(self) -> None:
        if self.state.workspace is None:
            return
        watched = self.caps.workspace.did_change_watched_files if self.caps.workspace else None
        if watched is not None and watched.dynamic_registration:
            # Let the editor watch: it already does, and it knows about unsaved buffers.
            options = types.DidChangeWatchedFilesRegistrationOptions(
                watchers=[
                    types.FileSystemWatcher(glob_pattern="**/.fuse-ls.toml"),
                    types.FileSystemWatcher(glob_pattern="**/pyproject.toml"),
                ]
            )
            registration = types.Registration(
                id=f"fuse-ls-settings-{uuid.uuid4().hex[:8]}",
                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                register_options=options,
            )
            try:
                await asyncio.wait_for(
                    self.client_register_capability_async(
                        types.RegistrationParams(registrations=[registration])
                    ),
                    _CLIENT_TIMEOUT_S,
                )
                return
            except (TimeoutError, JsonRpcException) as exc:
                log.warning("file watcher registration failed, watching ourselves: %s", exc)
        self._watcher = asyncio.create_task(self._watch_with_watchfiles(self.state.workspace))

    async def _watch_with_watchfiles(self, root: Path) -> None:
        from watchfiles import awatch

        def only_settings(_change: object, path: str) -> bool:
            return self.state.is_watched(Path(path))

        try:
            async for _ in awatch(
                root,
                watch_filter=only_settings,
                recursive=False,
                debounce=100,
                step=20,
                stop_event=self._watch_stop,
            ):
                await self.reload_settings()
        except Exception:  # a watcher failing must not take the server down
            log.exception("watching %s for settings changes failed", root)

    async def on_did_change_watched_files(self, params: types.DidChangeWatchedFilesParams) -> None:
        if any(self.state.is_watched(_uri_path(c.uri)) for c in params.changes):
            await self.reload_settings()

    def _start_recorder(self) -> None:
        t = self.settings.telemetry
        if not (t.enabled or t.otel) or self.state.workspace is None:
            return
        try:  # the local recorder and/or the OpenTelemetry export, as settings ask
            from fuse_ls.telemetry.session import open_session

            self.recorder = open_session(
                t,
                self.state.workspace,
                source="server",
                version=__version__,
                base_url=self.settings.provider.base_url,
            )
        except Exception:  # telemetry must never stop the server from starting
            log.exception("telemetry recorder unavailable")

    def _record(self, call: Callable[[Any], None]) -> None:
        if self.recorder is None:
            return
        try:
            call(self.recorder)
        except Exception:
            log.exception("telemetry recorder failed")

    async def on_shutdown(self, params: None) -> None:
        self._watch_stop.set()
        handles = [f.handle for f in self.fusions.values() if f.handle is not None]
        for handle in handles:
            handle.cancel()
        if handles:
            await asyncio.wait(handles, timeout=2)
        if self._watcher is not None:
            await asyncio.wait([self._watcher], timeout=2)
        if self._engine is not None:
            await self._engine.aclose()
        self._record(lambda r: r.close())

    # --- documents ------------------------------------------------------------------

    def on_did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        changes = list(params.content_changes)
        for fusion in self.fusions.values():
            if fusion.uri == uri:
                fusion.changes.extend(changes)
        if not (self.findings.get(uri) or self.provisional.get(uri) or self.explanations.get(uri)):
            return
        now = self.snapshot(uri)
        before = [r.anchor.range for r in self._published(uri)]
        self.findings[uri] = self._track_all(self.findings.get(uri, []), changes, now)
        self.provisional[uri] = self._track_all(self.provisional.get(uri, []), changes, now)
        self.explanations[uri] = [
            (a, md)
            for anchor, md in self.explanations.get(uri, [])
            if (a := track(anchor, changes, now)) is not None
        ]
        if [r.anchor.range for r in self._published(uri)] != before:
            self.publish(uri)

    @staticmethod
    def _track_all(
        reported: Sequence[Reported], changes: Sequence[Change], now: Snapshot
    ) -> list[Reported]:
        out = []
        for r in reported:
            anchor = track(r.anchor, changes, now)
            if anchor is None:
                continue
            related = tuple(
                (a, message) for old, message in r.related if (a := track(old, changes, now))
            )
            out.append(moved(r, anchor, related))
        return out

    def on_did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        # Closed documents cannot be tracked: their findings would soon point anywhere.
        uri = params.text_document.uri
        for fusion in list(self.fusions.values()):
            if fusion.uri == uri and fusion.handle is not None:
                fusion.handle.cancel()
        had = bool(self.findings.pop(uri, None) or self.provisional.pop(uri, None))
        self.explanations.pop(uri, None)
        if had:
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )

    def _published(self, uri: str) -> list[Reported]:
        return [*self.findings.get(uri, []), *self.provisional.get(uri, [])]

    def publish(self, uri: str) -> None:
        doc = self.workspace.text_documents.get(uri)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri,
                version=doc.version if doc is not None else None,
                diagnostics=[to_diagnostic(r, uri) for r in self._published(uri)],
            )
        )

    # --- code actions and hover (never call a model) --------------------------------

    def on_code_action(
        self, params: types.CodeActionParams
    ) -> list[types.CodeAction | types.Command] | None:
        uri = params.text_document.uri
        if uri not in self.workspace.text_documents:
            return None
        only = params.context.only
        listed: list[types.CodeAction | types.Command] = []
        live = {r.finding_id: r for r in self.findings.get(uri, [])}
        resolve = actions.supports_resolve(self.caps)
        for diagnostic, reported in actions.quick_fixes(
            uri, params.context.diagnostics, live, only
        ):
            action = actions.unresolved_quick_fix(uri, diagnostic, reported)
            listed.append(self._resolve_fix(action) if not resolve else action)
        listed.extend(actions.fusion_actions(uri, params.range, only))
        return listed

    def on_code_action_resolve(self, action: types.CodeAction) -> types.CodeAction:
        return self._resolve_fix(action)

    def _resolve_fix(self, action: types.CodeAction) -> types.CodeAction:
        data = action.data
        if not isinstance(data, dict) or not isinstance(data.get("findingId"), str):
            raise invalid("codeAction/resolve: data must carry the fuse-ls findingId")
        uri = data.get("uri")
        if not isinstance(uri, str) or uri not in self.workspace.text_documents:
            raise invalid(f"codeAction/resolve: unknown document {uri!r:.120}")
        live = {r.finding_id: r for r in self.findings.get(uri, [])}
        reported = live.get(data["findingId"])
        if reported is None or reported.replacement is None:
            # Gone since listing: the code changed or a new review replaced it.
            raise JsonRpcContentModified(message="The finding is gone: the code changed.")
        doc = self.workspace.text_documents[uri]
        action.edit = actions.workspace_edit(
            self.caps,
            uri,
            doc.version,
            reported.anchor.range,
            actions.replacement_text(reported.replacement),
        )
        action.command = actions.decision_command(uri, reported.finding_id)
        return action

    def on_hover(self, params: types.HoverParams) -> types.Hover | None:
        p = params.position
        hits = [
            (anchor, md)
            for anchor, md in self.explanations.get(params.text_document.uri, [])
            if (anchor.range.start.line, anchor.range.start.character)
            <= (p.line, p.character)
            <= (anchor.range.end.line, anchor.range.end.character)
        ]
        if not hits:
            return None
        # The innermost explanation is the most specific one.
        anchor, markdown = min(hits, key=lambda h: h[0].range.end.line - h[0].range.start.line)
        hover = self.caps.text_document.hover if self.caps.text_document else None
        formats = (hover.content_format if hover else None) or [types.MarkupKind.Markdown]
        kind = (
            types.MarkupKind.Markdown
            if types.MarkupKind.Markdown in formats
            else types.MarkupKind.PlainText
        )
        return types.Hover(
            contents=types.MarkupContent(kind=kind, value=markdown), range=anchor.range
        )

    # --- commands -------------------------------------------------------------------

    async def cmd_review(self, *args: object) -> dict[str, Any]:
        target = actions.parse_target(actions.REVIEW, args)
        for fusion in list(self.fusions.values()):
            if fusion.uri == target.uri and fusion.task == "review":
                await self._cancel_and_wait(fusion)
        return await self._run_command("review", target, self._finish_review)

    async def cmd_explain(self, *args: object) -> dict[str, Any]:
        target = actions.parse_target(actions.EXPLAIN, args)
        return await self._run_command("explain", target, self._finish_explain)

    async def cmd_fix(self, *args: object) -> dict[str, Any]:
        target = actions.parse_target(actions.FIX, args)
        return await self._run_command("fix", target, self._finish_fix)

    async def cmd_cancel(self, *args: object) -> dict[str, Any]:
        uri = actions.parse_cancel(args)
        chosen = [f for f in self.fusions.values() if uri is None or f.uri == uri]
        for fusion in chosen:
            await self._cancel_and_wait(fusion)
        reviews = self._changes.cancel_all() if uri is None and self._changes else 0
        return {"cancelled": len(chosen) + reviews}

    async def cmd_review_changes(self, *args: object) -> dict[str, Any]:
        result: dict[str, Any] = await self.changes.command(*args)
        return result

    async def cmd_stats(self, *args: object) -> dict[str, Any]:
        actions.single_argument(actions.STATS, args)
        return self.stats.as_json()

    async def cmd_finding_decision(self, *args: object) -> dict[str, Any]:
        decision = actions.parse_decision(args)
        if decision.decision == "dismissed" and self._changes is not None:
            self._changes.dismissed(decision.finding_id)
        known = {r.finding_id: r for r in self._published(decision.uri)}
        reported = known.get(decision.finding_id)
        fusion_id = reported.fusion_id if reported else decision.finding_id.rsplit("-", 1)[0]
        self._record(
            lambda r: r.record_decision(
                fusion_id,
                decision.finding_id,
                decision.decision,
                kind="finding",
                votes=reported.votes if reported else None,
                pool_size=reported.pool_size if reported else None,
            )
        )
        return {}

    # --- running a fusion -----------------------------------------------------------

    def _selection(self, snapshot: Snapshot, target: Target) -> tuple[int | None, int | None]:
        """1-based inclusive lines of the target range; (None, None) for the document."""
        r = target.range
        if r is None or r.start == r.end:
            return None, None
        if r.end.line > snapshot.line_count or (
            r.end.line == snapshot.line_count and r.end.character > 0
        ):
            raise invalid(
                f"range ends at line {r.end.line} (0-based) but {target.uri} has "
                f"{snapshot.line_count} lines"
            )
        # A selection that ends at the start of a line does not include that line.
        last = r.end.line if r.end.character == 0 and r.end.line > r.start.line else r.end.line + 1
        return r.start.line + 1, last

    async def _prepare(self, task: Task, target: Target) -> Fusion:
        from fuse_ls.context import build_request, language_for
        from fuse_ls.core.errors import BadRange
        from fuse_ls.fusion.policy import policy_for

        await self._ready.wait()
        snapshot = self.snapshot(target.uri)
        start, end = self._selection(snapshot, target)
        doc = self.workspace.text_documents[target.uri]
        path = _uri_path(target.uri)
        language = doc.language_id or language_for(path)
        try:
            # Reads sidecars and scans SQL lineage: off the event loop.
            request = await asyncio.to_thread(
                build_request,
                task,
                path,
                snapshot.text,
                start,
                end,
                self.settings,
                self.state.workspace,
                language,
            )
        except BadRange as exc:
            raise invalid(str(exc)) from exc
        request = evolve(request, policy=policy_for(self.settings))
        selection = snapshot.line_range(request.start_line, request.end_line) or snapshot.whole
        engine = self.engine
        fusion_id = uuid.uuid4().hex[:12]
        reporter = FusionReporter(
            notify=self.notify,
            progress=None,
            stats=self.stats,
            fusion_id=fusion_id,
            uri=target.uri,
            task=task,
            pool_size=len(engine.slots()),
            in_flight=lambda: len(self.fusions),
        )
        return Fusion(
            id=fusion_id,
            task=task,
            uri=target.uri,
            snapshot=snapshot,
            request=request,
            selection=selection,
            engine=engine,
            reporter=reporter,
            request_id=self.protocol.msg_id,
        )

    async def _run_command(
        self,
        task: Task,
        target: Target,
        finish: Callable[[Fusion, FusionResult], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        fusion = await self._prepare(task, target)
        self.fusions[fusion.id] = fusion
        fusion.handle = asyncio.create_task(self._run_fusion(fusion, finish))
        try:
            await asyncio.wait([fusion.handle])
        except asyncio.CancelledError:
            # The command itself was cancelled (shutdown): take the fusion with it.
            fusion.handle.cancel()
            raise
        if fusion.handle.cancelled():
            return {"fusionId": fusion.id, "cancelled": True}
        return fusion.handle.result()

    async def _run_fusion(
        self,
        fusion: Fusion,
        finish: Callable[[Fusion, FusionResult], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        self.stats.fusions += 1
        try:
            await self._begin_progress(fusion)
            fusion.reporter.begin()
            result = await fusion.engine.run(
                fusion.request, lambda e: self._observe(fusion, e), fusion_id=fusion.id
            )
            if result.failed:
                self._show_partial_failure(fusion, result)
            outcome = await finish(fusion, result)
            fusion.reporter.end("finished", end_message(result, outcome.pop("_summary")))
            return outcome
        except asyncio.CancelledError:
            self._end_fusion(fusion, "cancelled", "Cancelled")
            raise
        except FuseError as exc:
            self.show(types.MessageType.Error, f"fuse-ls: {exc}")
            self._end_fusion(fusion, "failed", str(exc))
            return {"fusionId": fusion.id, "cancelled": False, "error": str(exc), **_reasons(exc)}
        except Exception as exc:  # a bug must cost one fusion, never the server
            log.exception("fusion %s failed", fusion.id)
            self.show(types.MessageType.Error, f"fuse-ls: internal error: {exc!r}")
            self._end_fusion(fusion, "failed", f"internal error: {exc!r}")
            return {"fusionId": fusion.id, "cancelled": False, "error": repr(exc)}
        finally:
            fusion.closed = True
            self.fusions.pop(fusion.id, None)
            if fusion.engine is not self._engine and not any(
                f.engine is fusion.engine for f in self.fusions.values()
            ):
                self._spawn(fusion.engine.aclose())

    def _end_fusion(self, fusion: Fusion, state: Literal["cancelled", "failed"], why: str) -> None:
        """Ends a fusion that produced nothing: provisional results must not outlive it."""
        fusion.closed = True
        if fusion.task == "review" and self.provisional.pop(fusion.uri, None) is not None:
            self.publish(fusion.uri)
        fusion.reporter.end(state, why)

    async def _begin_progress(self, fusion: Fusion) -> None:
        window = self.caps.window
        if window is None or not window.work_done_progress:
            return
        token = str(uuid.uuid4())  # fresh each time: pygls never forgets a token
        try:
            await asyncio.wait_for(self.work_done_progress.create_async(token), _CLIENT_TIMEOUT_S)
        except (TimeoutError, JsonRpcException) as exc:
            log.warning("progress not available: %s", exc)
            return
        fusion.token = token

        def send(kind: str, value: dict[str, Any]) -> None:
            if kind == "begin":
                self.work_done_progress.begin(token, types.WorkDoneProgressBegin(**value))
            elif kind == "report":
                self.work_done_progress.report(token, types.WorkDoneProgressReport(**value))
            else:
                self.work_done_progress.end(
                    token, types.WorkDoneProgressEnd(message=value.get("message"))
                )

        fusion.reporter.set_progress(send)

    def _observe(self, fusion: Fusion, event: FusionEvent) -> None:
        if fusion.closed:
            return
        self._record(lambda r: r.observe(event))
        fusion.reporter.on_event(event)
        if fusion.task == "review" and isinstance(event, ModelFinished):
            fusion.answers.append(event.candidate)
            self._publish_provisional(fusion)

    def _publish_provisional(self, fusion: Fusion) -> None:
        """The answers so far, as diagnostics marked provisional, on the current text."""
        now = self.snapshot(fusion.uri)
        found = provisional_findings(
            fusion.answers,
            fusion.reporter.pool_size,
            fusion.snapshot,
            fusion.id,
            VotePolicy(min_votes=self.settings.review.min_votes_for_warning),
        )
        self.provisional[fusion.uri] = self._track_all(found, fusion.changes, now)
        self.publish(fusion.uri)

    def _show_partial_failure(self, fusion: Fusion, result: FusionResult) -> None:
        answered, total = len(result.answered), len(result.candidates)
        self.show(
            types.MessageType.Warning,
            f"fuse-ls: {total - answered} of {total} models failed; the {fusion.task} used "
            f"the {answered} that answered. {failure_summary(result.failed)}",
        )

    async def _cancel_and_wait(self, fusion: Fusion) -> None:
        if fusion.handle is None:
            return
        fusion.handle.cancel()
        await asyncio.wait([fusion.handle], timeout=2)

    def cancel_request(self, request_id: Any) -> None:
        if self._changes is not None:
            self._changes.cancel_request(request_id)
        for fusion in self.fusions.values():
            if fusion.request_id == request_id and fusion.handle is not None:
                fusion.handle.cancel()

    def on_progress_cancel(self, params: types.WorkDoneProgressCancelParams) -> None:
        if self._changes is not None:
            self._changes.cancel_token(params.token)
        for fusion in self.fusions.values():
            if fusion.token == params.token and fusion.handle is not None:
                fusion.handle.cancel()

    # --- what each task does with its result ----------------------------------------

    async def _finish_review(self, fusion: Fusion, result: FusionResult) -> dict[str, Any]:
        uri = fusion.uri
        now = self.snapshot(uri)
        fused = self._track_all(
            reported_from_fused(result.findings, fusion.snapshot, fusion.id), fusion.changes, now
        )
        reviewed = track_span(fusion.selection, fusion.changes, now)
        kept = [
            r
            for r in self.findings.get(uri, [])
            if r.anchor.range.end.line < reviewed.start.line
            or r.anchor.range.start.line > reviewed.end.line
        ]
        self.findings[uri] = kept + fused
        self.provisional.pop(uri, None)
        self.publish(uri)
        return {
            "fusionId": fusion.id,
            "cancelled": False,
            "findings": [finding_json(r, uri) for r in fused],
            **_partial(result),
            "_summary": f"{len(fused)} findings",
        }

    async def _finish_explain(self, fusion: Fusion, result: FusionResult) -> dict[str, Any]:
        markdown = render_markdown(fusion.request, result)
        path = await asyncio.to_thread(
            write_explanation,
            data_dir(self.settings.telemetry.data_dir),
            fusion.uri,
            fusion.request,
            markdown,
        )
        now = self.snapshot(fusion.uri)
        anchor = track(fusion.snapshot.anchor(fusion.selection), fusion.changes, now)
        if anchor is not None:
            cache = [
                (a, md)
                for a, md in self.explanations.get(fusion.uri, [])
                if a.range != anchor.range
            ]
            self.explanations[fusion.uri] = [*cache, (anchor, markdown)]
        document_uri = path.as_uri()
        window = self.caps.window
        if window is not None and window.show_document is not None and window.show_document.support:
            try:
                await asyncio.wait_for(
                    self.window_show_document_async(
                        types.ShowDocumentParams(uri=document_uri, take_focus=True)
                    ),
                    _CLIENT_TIMEOUT_S,
                )
            except (TimeoutError, JsonRpcException) as exc:
                log.warning("showDocument failed: %s", exc)
        return {
            "fusionId": fusion.id,
            "cancelled": False,
            "markdown": markdown,
            "documentUri": document_uri,
            **_partial(result),
            "_summary": "explanation",
        }

    async def _finish_fix(self, fusion: Fusion, result: FusionResult) -> dict[str, Any]:
        base = {"fusionId": fusion.id, "cancelled": False, **_partial(result)}
        if not result.answer:
            return {**base, "applied": False, "reason": "no fix proposed", "_summary": "no fix"}
        now = self.snapshot(fusion.uri)
        anchor = track(fusion.snapshot.anchor(fusion.selection), fusion.changes, now)
        if anchor is None:
            message = "The selected code changed while the models worked; the fix was not applied."
            self.show(types.MessageType.Warning, f"fuse-ls: {message}")
            return {**base, "applied": False, "reason": message, "_summary": "stale fix"}
        answered = ", ".join(c.model for c in result.answered)
        edit = actions.workspace_edit(
            self.caps,
            fusion.uri,
            now.version,
            anchor.range,
            actions.replacement_text(result.answer),
            confirm=(
                "Fused fix",
                f"Rewrite fused from {len(result.answered)} models ({answered}). "
                + (result.explanation or ""),
            ),
        )
        response = await self.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label="fuse-ls: fused fix")
        )
        applied = bool(response.applied)
        self._record(
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


def _partial(result: FusionResult) -> dict[str, Any]:
    return {
        "failed": [
            {"model": c.model, "error": c.error, "errorKind": c.error_kind} for c in result.failed
        ],
        "notes": list(result.notes),
        # Editors tell a judged result from one that fell back to the votes by this.
        "judge": None
        if result.judge is None
        else {
            "model": result.judge.model,
            "status": result.judge.status,
            "error": result.judge.error,
        },
        "costUsd": result.total_cost_usd,
        "engineWallS": result.wall_time_s,
    }


def _reasons(exc: FuseError) -> dict[str, Any]:
    if isinstance(exc, AllModelsFailed):
        return {"failed": [{"model": m, "error": e} for m, e in exc.reasons]}
    return {}


def create_server() -> FuseLanguageServer:
    return FuseLanguageServer()


def serve_main(argv: list[str]) -> int:
    """`fuse-ls serve [--tcp | --ws] [--host H] [--port P]`; stdio by default."""
    import argparse

    parser = argparse.ArgumentParser(prog="fuse-ls serve", description="Run the language server.")
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="speak LSP on stdin/stdout")
    transport.add_argument("--tcp", action="store_true", help="listen on TCP (debugging)")
    transport.add_argument("--ws", action="store_true", help="listen on WebSocket (debugging)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2087)
    parser.add_argument("--log-file", default=None, help="write the server log here")
    args = parser.parse_args(argv)
    if args.log_file:
        logging.basicConfig(filename=args.log_file, level=logging.INFO)
    server = create_server()
    with contextlib.suppress(KeyboardInterrupt):
        if args.tcp:
            server.start_tcp(args.host, args.port)
        elif args.ws:
            server.start_ws(args.host, args.port)
        else:
            server.start_io()
    return 0
