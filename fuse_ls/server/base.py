"""The server's small core: what every feature module shares, and the `Feature` hooks.

`ServerBase` holds the settings in force, the one engine, the recorder and the
documents; it fans lifecycle, settings and document events out to the features
(review, explain, fix, fusions, recording, settings), which each keep their own state.
Settings subscriptions let a feature react to its own section only: the recorder to
`telemetry`, the review to `review`, the engine to its endpoints.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from fuse_ls.config import Settings
from fuse_ls.safetext import bidi_shown
from fuse_ls.server.anchors import Snapshot

if TYPE_CHECKING:
    from pygls.workspace import TextDocument

    from fuse_ls.fusion.engine import FusionEngine

log = logging.getLogger(__name__)

Change = types.TextDocumentContentChangeEvent
SettingsCallback = Callable[[Any, Any], None]  # (old section, new section)
CLIENT_TIMEOUT_S = 5.0  # for our own requests to the client (configuration, progress)


def invalid(message: str) -> JsonRpcInvalidParams:
    return JsonRpcInvalidParams(message=message)


def doc_key(uri: str) -> str:
    """One form per document URI, the one pygls stores documents under: `%20`, `%C3%BC`
    and `c%3A` as the editor sends them and as they appear decoded are the same file."""
    return unquote(uri)


def uri_path(uri: str) -> Path:
    path = to_fs_path(uri)
    return Path(path) if path else Path(uri.rsplit("/", 1)[-1] or "untitled")


class Feature:
    """A part of the server. Every hook is optional; the core calls them in order."""

    def __init__(self, server: ServerBase) -> None:
        self.server = server

    async def initialized(self) -> None:
        """After settings were loaded for the first time."""

    def document_changed(self, key: str, changes: Sequence[Change], now: Snapshot) -> None:
        """An open document changed (`now` is its new text)."""

    def document_closed(self, key: str) -> None:
        """A document was closed: its state cannot be tracked any more."""

    def code_actions(
        self, params: types.CodeActionParams
    ) -> Sequence[types.CodeAction | types.Command]:
        return ()

    async def shutdown(self) -> None:
        """The client asked the server to shut down."""


class ServerBase(LanguageServer):
    """What features share: settings, the engine, documents, the client's abilities."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings: Settings = Settings()
        self.features: list[Feature] = []
        self._engine: FusionEngine | None = None
        self._subscribers: list[tuple[str | None, SettingsCallback]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self.ready = asyncio.Event()  # set once the first settings are in force
        self.engine_users: Callable[[], list[FusionEngine]] = list
        self.known_uris: dict[str, str] = {}  # doc key -> the URI as first given to us

    # --- small helpers --------------------------------------------------------------

    @property
    def caps(self) -> types.ClientCapabilities:
        return self.client_capabilities

    def show(self, kind: types.MessageType, message: str) -> None:
        # Model and provider words reach these notices (a failed model's error, a fix
        # refused); a bidi control in them would reorder what the editor displays.
        self.window_show_message(types.ShowMessageParams(type=kind, message=bidi_shown(message)))

    def notify(self, method: str, payload: Any) -> None:
        self.protocol.notify(method, payload)

    def spawn(self, coro: Awaitable[Any]) -> None:
        # Keep a reference: the loop holds tasks weakly.
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- documents --------------------------------------------------------------------

    def document(self, uri: str) -> TextDocument | None:
        doc: TextDocument | None = self.workspace.text_documents.get(doc_key(uri))
        return doc

    def client_uri(self, key: str) -> str:
        """The URI as the editor sent it (publishDiagnostics must use its form)."""
        doc = self.document(key)
        return doc.uri if doc is not None else self.known_uris.get(key, key)

    def snapshot(self, uri: str) -> Snapshot:
        doc = self.document(uri)
        if doc is None:
            raise invalid(f"Unknown document {uri}: open it in the editor first (didOpen).")
        return Snapshot(doc_key(uri), doc.source, doc.version, self.workspace.position_codec)

    # --- settings ---------------------------------------------------------------------

    def subscribe(self, section: str | None, callback: SettingsCallback) -> None:
        """Call `callback(old, new)` when settings section `section` (a `Settings`
        attribute such as "telemetry"; None: the whole settings) changes."""
        self._subscribers.append((section, callback))

    def apply_settings(self, new: Settings) -> None:
        old, self.settings = self.settings, new
        for section, callback in self._subscribers:
            before = old if section is None else getattr(old, section)
            after = new if section is None else getattr(new, section)
            if before != after:
                try:
                    callback(before, after)
                except Exception:  # one feature's bug must not stop the others
                    log.exception("settings subscriber for %s failed", section)

    # --- the engine -------------------------------------------------------------------

    @property
    def engine(self) -> FusionEngine:
        if self._engine is None:
            from fuse_ls.fusion.engine import FusionEngine

            self._engine = FusionEngine(self.settings)
        return self._engine

    def retire_engine(self, _old: Settings, new: Settings) -> None:
        """New endpoints, new engine; the old one closes once its fusions are done.

        A change of mode, judge, quorum or debate rounds keeps the engine (and its
        connections): those travel with each request as its policy."""
        from fuse_ls.fusion.policy import serves

        if self._engine is not None and serves(self._engine.settings, new):
            self._engine.settings = new
            return
        old, self._engine = self._engine, None
        if old is not None and old not in self.engine_users():
            self.spawn(old.aclose())

    def release_engine(self, engine: FusionEngine) -> None:
        """A fusion is done with `engine`: close it if it was retired and is now unused."""
        if engine is not self._engine and engine not in self.engine_users():
            self.spawn(engine.aclose())

    async def close_engine(self) -> None:
        if self._engine is not None:
            await self._engine.aclose()
