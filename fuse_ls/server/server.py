"""The fuse-ls language server: a small core that fans LSP events out to feature modules.

    settings.py   SettingsFeature   initializationOptions, workspace/configuration, files
    recording.py  Recording         the session transcript (follows `telemetry`)
    fusions.py    Fusions           running, progress and cancelling of fusions
    review.py     Review            fuse-ls.review, diagnostics, quick fixes, decisions
    explain.py    Explain           fuse-ls.explain, hovers over explained code
    fix.py        Fix               fuse-ls.fix, the fused rewrite as a workspace edit
    changes.py    ChangeReviews     fuse-ls.reviewChanges (made on first use)

The core (base.py) owns the settings in force, the one engine and the documents; it
answers every request, including malformed ones, with the right JSON-RPC error.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import sys
from collections.abc import Callable, Generator
from typing import Any

import attrs
import cattrs
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
)
from pygls.protocol import LanguageServerProtocol, lsp_method

from fuse_ls import __version__
from fuse_ls.core.events import FusionEvent
from fuse_ls.core.hosts import port_argument
from fuse_ls.server import actions, transports, wire
from fuse_ls.server.base import Feature, ServerBase, doc_key
from fuse_ls.server.explain import Explain
from fuse_ls.server.fix import Fix
from fuse_ls.server.fusions import Fusions
from fuse_ls.server.recording import Recording
from fuse_ls.server.review import Review
from fuse_ls.server.settings import SettingsFeature
from fuse_ls.server.wire import (
    CancelArgs,
    DecisionArgs,
    FixArgs,
    TargetArgs,
    VerifyFindingArgs,
)

log = logging.getLogger(__name__)

# `capabilities.experimental` in the initialize result: what a client may count on beyond
# LSP (docs/protocol.md). `requestKey`: fuse-ls.fix and fuse-ls.verifyFinding take one and
# echo it as the change annotation id of the fix they send.
EXPERIMENTAL = {"fuseLs": {"requestKey": True}}

# Loaded after `initialize` is answered, off the event loop: together they cost as much
# as pygls itself to import, and an editor waits for `initialize` before anything else.
# The features import the last three where they use them (clustering of answers,
# restoring redacted secrets in a fix, checking a fix), so none is needed to start.
_HEAVY_MODULES = (
    "fuse_ls.fusion.engine",
    "fuse_ls.context",
    "fuse_ls.telemetry.session",
    "fuse_ls.fusion.findings",
    "fuse_ls.core.redact",
    "fuse_ls.verify.verifier",
)


class _Unanswerable:
    """A request pygls could not decode: it still gets its error response."""

    def __init__(self, msg_id: Any, error: JsonRpcException) -> None:
        self.id = msg_id
        self.error = error


class FuseProtocol(LanguageServerProtocol):
    """pygls drops requests it cannot decode (the client then waits forever) and leaves a
    cancelled command's coroutine running; this protocol answers the first with the
    JSON-RPC error they deserve and lets the server stop the fusion behind the second."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        if "jsonrpc" in data and "method" in data and not isinstance(data["method"], str):
            if "id" in data:
                return _Unanswerable(data["id"], JsonRpcInvalidRequest("method must be a string"))
            return data
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" not in data or "method" not in data:
                raise
            cause = exc.__cause__
            if isinstance(cause, cattrs.BaseValidationError):
                why = "; ".join(cattrs.transform_error(cause, path="params"))
                exc = JsonRpcInvalidParams(message=f"Invalid params for {data['method']}: {why}")
            return _Unanswerable(data["id"], exc)

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Unanswerable):
            self._send_response(message.id, error=message.error.to_response_error())
            return
        if isinstance(message, dict):  # no "jsonrpc" member: pygls left it undecoded
            if "id" in message and "method" in message:
                error = JsonRpcInvalidRequest("not a JSON-RPC 2.0 request ('jsonrpc' missing)")
                self._send_response(message["id"], error=error.to_response_error())
            return
        super().handle_message(message)

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(
        self, params: types.ExecuteCommandParams
    ) -> Generator[Any, Any, Any]:
        # No `arguments` (Helix's command picker sends none) is no argument: pygls called
        # the command without one, and its TypeError came back as an internal error.
        if params.arguments is None:
            params = attrs.evolve(params, arguments=[])
        return (yield from super().lsp_workspace__execute_command(params))

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, Any]:
        result = yield from super().lsp_initialize(params)
        result.capabilities.experimental = EXPERIMENTAL
        return result

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        super()._handle_cancel_notification(msg_id)
        if isinstance(self._server, FuseLanguageServer):
            self._server.fusions.cancel_request(msg_id)
            if self._server._changes is not None:
                self._server._changes.cancel_request(msg_id)


def _plain(method: Callable[..., Any]) -> Callable[..., Any]:
    """A plain function calling a bound method: pygls sets attributes on handlers, which
    bound methods refuse."""
    if asyncio.iscoroutinefunction(method):

        async def async_handler(*args: Any) -> Any:
            return await method(*args)

        return async_handler

    def handler(*args: Any) -> Any:
        return method(*args)

    return handler


def _import_heavy_modules() -> None:
    for name in _HEAVY_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # reported where the module is used
            log.exception("importing %s failed", name)


class FuseLanguageServer(ServerBase):
    def __init__(self) -> None:
        super().__init__(
            "fuse-ls",
            __version__,
            protocol_cls=FuseProtocol,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
        )
        wire.install(self.protocol._converter)
        self.settings_feature = SettingsFeature(self)
        workspace = lambda: self.settings_feature.state.workspace  # noqa: E731
        self.recording = Recording(self, workspace)
        self.fusions = Fusions(self, workspace=workspace, record=self.recording.record)
        self.review = Review(self, self.fusions, self.recording)
        self.explain = Explain(self, self.fusions)
        self.fix = Fix(self, self.fusions, self.recording)
        self.features: list[Feature] = [
            self.settings_feature,
            self.recording,
            self.fusions,
            self.review,
            self.explain,
            self.fix,
        ]
        self._changes: Any = None  # ChangeReviews, made on first use (heavy imports)
        self.subscribe(None, self.retire_engine)
        self._register()

    @property
    def state(self) -> Any:
        return self.settings_feature.state

    # --- what change reviews (server/changes.py) use of the server -------------------

    @property
    def changes(self) -> Any:
        if self._changes is None:
            from fuse_ls.server.changes import ChangeReviews

            self._changes = ChangeReviews(self)
        return self._changes

    @property
    def findings(self) -> _FindingsByUri:
        return _FindingsByUri(self, self.review.findings)

    @property
    def provisional(self) -> _FindingsByUri:
        return _FindingsByUri(self, self.review.provisional)

    def publish(self, uri: str) -> None:
        self.review.publish(doc_key(uri))

    async def wait_ready(self) -> None:
        await self.ready.wait()

    def record_event(self, event: FusionEvent) -> None:
        self.recording.record(lambda r: r.observe(event))

    # --- registration ---------------------------------------------------------------

    def _register(self) -> None:
        t = types

        def on(name: str, options: Any = None) -> Callable[[Callable[..., Any]], Any]:
            return lambda method: self.feature(name, options)(_plain(method))

        on(t.INITIALIZE)(self.settings_feature.initialize)
        on(t.INITIALIZED)(self.on_initialized)
        on(t.SHUTDOWN)(self.on_shutdown)
        on(t.WORKSPACE_DID_CHANGE_CONFIGURATION)(self.settings_feature.did_change_configuration)
        on(t.WORKSPACE_DID_CHANGE_WATCHED_FILES)(self.settings_feature.did_change_watched_files)
        on(t.TEXT_DOCUMENT_DID_CHANGE)(self.on_did_change)
        on(t.TEXT_DOCUMENT_DID_CLOSE)(self.on_did_close)
        on(
            t.TEXT_DOCUMENT_CODE_ACTION,
            t.CodeActionOptions(code_action_kinds=list(actions.KINDS), resolve_provider=True),
        )(self.on_code_action)
        on(t.CODE_ACTION_RESOLVE)(self.review.resolve_fix)
        on(t.TEXT_DOCUMENT_HOVER)(self.explain.hover)
        on(t.WINDOW_WORK_DONE_PROGRESS_CANCEL)(self.on_progress_cancel)

        # pygls structures each argument into the annotated attrs class (see wire.py).
        @self.command(actions.REVIEW)
        async def review(target: TargetArgs) -> dict[str, Any]:
            return await self.review.review_command(target)

        @self.command(actions.EXPLAIN)
        async def explain(target: TargetArgs) -> dict[str, Any]:
            return await self.explain.explain_command(target)

        @self.command(actions.FIX)
        async def fix(target: FixArgs) -> dict[str, Any]:
            return await self.fix.fix_command(target)

        @self.command(actions.VERIFY_FINDING)
        async def verify_finding(data: VerifyFindingArgs) -> dict[str, Any]:
            return await self.fix.verify_finding(data, self.review.findings)

        @self.command(actions.CANCEL)
        async def cancel(*given: Any) -> dict[str, Any]:
            # No argument is allowed (cancel everything): pygls requires every annotated one.
            if len(given) > 1:
                raise JsonRpcInvalidParams(
                    message=f"{actions.CANCEL} takes no argument or one object {{uri?}}"
                )
            try:
                args = wire.structure(given[0], CancelArgs) if given else CancelArgs()
            except ValueError as exc:
                raise JsonRpcInvalidParams(message=f"{actions.CANCEL}: {exc}") from None
            result = await self.fusions.cancel_command(args)
            if args.uri is None and self._changes is not None:
                result["cancelled"] += self._changes.cancel_all()
            return result

        @self.command(actions.FINDING_DECISION)
        def finding_decision(decision: DecisionArgs) -> dict[str, Any]:
            if decision.decision == "dismissed" and self._changes is not None:
                self._changes.dismissed(decision.finding_id)
            return self.review.decision_command(decision)

        @self.command(actions.REVIEW_CHANGES)
        async def review_changes(*args: Any) -> dict[str, Any]:
            result: dict[str, Any] = await self.changes.command(*args)
            return result

        @self.command(actions.STATS)
        def stats(*args: Any) -> dict[str, Any]:
            if args and (len(args) > 1 or not isinstance(args[0], dict)):
                raise JsonRpcInvalidParams(
                    message=f"{actions.STATS} takes no argument or one object, got {args!r:.200}"
                )
            return self.fusions.stats.as_json()

    def on_progress_cancel(self, params: types.WorkDoneProgressCancelParams) -> None:
        self.fusions.on_progress_cancel(params)
        if self._changes is not None:
            self._changes.cancel_token(params.token)

    # --- lifecycle ------------------------------------------------------------------

    async def on_initialized(self, params: types.InitializedParams) -> None:
        await asyncio.to_thread(_import_heavy_modules)
        await self.settings_feature.initialized()
        self.ready.set()
        for feature in self.features:
            if feature is not self.settings_feature:
                await feature.initialized()
        await self.settings_feature.watch_files()

    async def on_shutdown(self, params: None) -> None:
        for feature in reversed(self.features):
            try:
                await feature.shutdown()
            except Exception:
                log.exception("shutting down %s failed", type(feature).__name__)
        if self._changes is not None:
            await self._changes.shutdown()
        self._cancel_pending_requests()
        await self.close_engine()

    def _cancel_pending_requests(self) -> None:
        """After this handler pygls cancels the requests still pending while iterating the
        dict each cancellation's callback removes its request from, and answers `shutdown`
        with an internal error. Cancelled here first, from a copy; never this handler."""
        protocol = self.protocol
        current = protocol.msg_id
        me: Any = asyncio.current_task()  # pygls keeps asyncio tasks there too
        for msg_id, future in list(protocol._request_futures.items()):
            if msg_id != current and future is not me and not future.done():
                future.cancel()

    # --- documents ------------------------------------------------------------------

    def on_did_change(self, params: types.DidChangeTextDocumentParams) -> None:
        key = doc_key(params.text_document.uri)
        if self.document(key) is None:
            return
        now = self.snapshot(key)
        changes = list(params.content_changes)
        for feature in self.features:
            feature.document_changed(key, changes, now)
        if self._changes is not None:
            self._changes.document_changed(key, changes)

    def on_did_close(self, params: types.DidCloseTextDocumentParams) -> None:
        key = doc_key(params.text_document.uri)
        for feature in self.features:
            feature.document_closed(key)
        if self._changes is not None:
            self._changes.document_closed(key)

    def on_code_action(
        self, params: types.CodeActionParams
    ) -> list[types.CodeAction | types.Command] | None:
        """Listing never calls a model: quick fixes for findings, then the fusion commands."""
        if self.document(params.text_document.uri) is None:
            return None
        listed: list[types.CodeAction | types.Command] = []
        for feature in self.features:
            listed.extend(feature.code_actions(params))
        only = params.context.only
        listed.extend(actions.fusion_actions(params.text_document.uri, params.range, only))
        return listed

    def report_server_error(self, error: Exception, source: Any) -> None:
        if isinstance(error, json.JSONDecodeError):
            # Not even an id could be read: JSON-RPC answers a parse error with id null.
            message = f"Parse error: {error}"
            self.protocol._send_data(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": message}}
            )
            return
        super().report_server_error(error, source)


class _FindingsByUri:
    """The review's published (or provisional) findings, indexed by any spelling of a
    document's URI."""

    def __init__(self, server: FuseLanguageServer, store: dict[str, Any]) -> None:
        self._server = server
        self._store = store

    def get(self, uri: str, default: Any = None) -> Any:
        return self._store.get(doc_key(uri), default)

    def __getitem__(self, uri: str) -> Any:
        return self._store[doc_key(uri)]

    def __setitem__(self, uri: str, reported: Any) -> None:
        self._server.known_uris[doc_key(uri)] = uri
        self._store[doc_key(uri)] = reported

    def pop(self, uri: str, default: Any = None) -> Any:
        return self._store.pop(doc_key(uri), default)


class _QuietLateCancels(logging.Filter):
    """Drops pygls' warning about `$/cancelRequest` for a request that already finished.

    The answer and the cancel cross on the wire whenever a user cancels near the end, so
    it is normal, and editors show the server's stderr to the user as if it were news.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Cancel notification for unknown message id")


def create_server() -> FuseLanguageServer:
    pygls_rpc = logging.getLogger("pygls.protocol.json_rpc")
    if not any(isinstance(f, _QuietLateCancels) for f in pygls_rpc.filters):
        pygls_rpc.addFilter(_QuietLateCancels())
    return FuseLanguageServer()


# pygls' own words name `pygls[ws]`, which a user of fuse-ls does not install directly.
WS_MISSING = (
    "fuse-ls serve --ws needs the websockets package: pip install 'fuse-ls[ws]' "
    "(in a clone: .venv/bin/pip install -e '.[ws]')."
)


def _websockets_installed() -> bool:
    try:  # what pygls' start_ws imports
        importlib.import_module("websockets.asyncio.server")
    except ImportError:
        return False
    return True


def serve_main(argv: list[str]) -> int:
    """`fuse-ls serve [--tcp | --ws] [--host H] [--port P]`; stdio by default."""
    import argparse

    parser = argparse.ArgumentParser(prog="fuse-ls serve", description="Run the language server.")
    transport = parser.add_mutually_exclusive_group()
    transport.add_argument("--stdio", action="store_true", help="speak LSP on stdin/stdout")
    transport.add_argument("--tcp", action="store_true", help="listen on TCP (debugging)")
    transport.add_argument(
        "--ws", action="store_true", help="listen on WebSocket (debugging; the ws extra)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address for --tcp/--ws (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=port_argument,
        default=2087,
        help="port for --tcp/--ws (default 2087)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="--ws: a web page origin (http://localhost:3000) that may connect; "
        "without it, browsers are refused (repeatable)",
    )
    parser.add_argument(
        "--log-file", default=None, metavar="FILE", help="write the server log here"
    )
    args = parser.parse_args(argv)
    if args.ws and not _websockets_installed():
        print(WS_MISSING, file=sys.stderr)
        return 2
    if args.log_file:
        logging.basicConfig(filename=args.log_file, level=logging.INFO)
    server = create_server()
    try:
        with contextlib.suppress(KeyboardInterrupt):
            if args.tcp:
                transports.serve_tcp(server, args.host, args.port)
            elif args.ws:
                transports.serve_ws(server, args.host, args.port, args.allow_origin)
            else:
                server.start_io()
    except transports.ListenError as exc:
        print(f"fuse-ls serve: {exc}; choose another --port", file=sys.stderr)
        return 1
    return 0
