"""Settings glue: editor settings merged with the layered config, last valid kept.

The editor speaks in two places (`initializationOptions` and `workspace/configuration`
section `fuseLs`, or a pushed didChangeConfiguration for a client that cannot be asked);
each is an editor layer of `fuse_ls.config.load_settings`, which adds files and
environment, with its own label, so a message says which of them holds a bad value. A
load that reports problems keeps the last valid settings in force; the server shows the
problems.

Workspace trust (`workspaceTrusted`) is read only at the top level of
initializationOptions and of a pushed didChangeConfiguration, never from inside the
`fuseLs` section: that section can come from the workspace's own .vscode/settings.json,
and a repository must not be able to vouch for itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import frozen
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from fuse_ls.config import EditorLayer, Settings, load_settings, replace
from fuse_ls.core.errors import ConfigError, ConfigNotice
from fuse_ls.server.base import CLIENT_TIMEOUT_S, Feature, ServerBase, uri_path

log = logging.getLogger(__name__)

SECTION = "fuseLs"
TRUST_KEYS = ("workspaceTrusted", "workspace_trusted")
WATCHED_NAMES = (".fuse-ls.toml", "pyproject.toml")

# Where editor settings came from, in the words of the messages that name them. The
# pulled section is what a VS Code user edits in settings.json.
STARTUP_SOURCE = "editor settings sent at start-up via initializationOptions"
PULLED_SOURCE = "editor settings via workspace/configuration, e.g. VS Code's settings.json"
PUSHED_SOURCE = "editor settings pushed via workspace/didChangeConfiguration"


@frozen
class Reload:
    settings: Settings  # what is in force after this reload
    problems: tuple[ConfigError, ...]
    changed: bool  # whether `settings` differs from what was in force before


def _unwrap(options: Any) -> tuple[dict[str, Any], str]:
    """Editor settings as a dict, and the prefix of their ids (`fuseLs.` when the client
    wrapped them in the section name)."""
    if not isinstance(options, Mapping):
        return {}, ""
    if len(options) == 1 and next(iter(options)) in (SECTION, "fuse_ls", "fuse-ls"):
        section, inner = next(iter(options.items()))
        return (dict(inner) if isinstance(inner, Mapping) else {}), f"{section}."
    return dict(options), ""


def read_trust(options: Any) -> bool | None:
    """The editor's workspace trust from a top-level `workspaceTrusted`, None if absent."""
    if not isinstance(options, Mapping):
        return None
    for key in TRUST_KEYS:
        if key in options:
            return options[key] is True  # anything but a real `true` is untrusted
    return None


def _without_trust(options: Any) -> dict[str, Any]:
    if not isinstance(options, Mapping):
        return {}
    return {k: v for k, v in options.items() if k not in TRUST_KEYS}


UNTRUSTED_CHECKS = (
    "verify.commands are not run in this workspace because it is not trusted: the checks "
    "run the workspace's own code (its tests, conftest.py, package scripts) on every "
    "fused fix. Trust the workspace in your editor, or run `fuse-ls trust {path}`, to "
    "verify fixes here."
)


def _without_checks(
    settings: Settings, trusted: bool, problems: list[ConfigError], workspace: Path | None
) -> Settings:
    """`settings` with no check commands unless the workspace is trusted. The commands
    are the user's, but they run the workspace's code (`pytest` imports its conftest.py,
    `npm test` runs its scripts), and the server runs them by itself on a fused fix: in
    an untrusted workspace that would be the repository running code on opening a fix,
    which is what restricted mode is for. `fuse-ls fix --verify` on the command line
    runs them because it was asked to."""
    if trusted or not settings.verify.commands:
        return settings
    path = shlex.quote(str(workspace)) if workspace is not None else "PATH"
    message = UNTRUSTED_CHECKS.format(path=path)
    problems.append(ConfigNotice("verify.commands", message, "", "verify.commands"))
    return replace(settings, {"verify.commands": []})


class SettingsState:
    """The settings in force and where they came from. Loading reads files: callers run
    `reload` in a thread so the event loop never waits on the disk."""

    def __init__(self, workspace: Path | None) -> None:
        self.workspace = workspace
        self.initialization_options = EditorLayer({}, STARTUP_SOURCE)
        self.client_settings = EditorLayer({}, PULLED_SOURCE)
        self.current: Settings | None = None  # None until the first load
        self.workspace_trusted = False  # a client that does not say is untrusted

    def set_initialization_options(self, options: Any) -> None:
        self.set_workspace_trust(options)
        data, prefix = _unwrap(_without_trust(options))
        self.initialization_options = EditorLayer(_without_trust(data), STARTUP_SOURCE, prefix)

    def set_client_settings(self, settings: Any, pulled: bool = True) -> None:
        """`pulled`: the answer to our workspace/configuration request for the `fuseLs`
        section, so its keys are that section's; else a pushed didChangeConfiguration."""
        # Pulled workspace/configuration values may be the workspace's own: trust keys in
        # them are dropped, not read.
        data, prefix = _unwrap(_without_trust(settings))
        source = PULLED_SOURCE if pulled else PUSHED_SOURCE
        prefix = f"{SECTION}." if pulled else prefix
        self.client_settings = EditorLayer(_without_trust(data), source, prefix)

    def set_workspace_trust(self, options: Any) -> None:
        """From initializationOptions or a pushed didChangeConfiguration's settings."""
        trusted = read_trust(options)
        if trusted is not None:
            self.workspace_trusted = trusted

    @property
    def editor_layers(self) -> list[EditorLayer]:
        # workspace/configuration is pulled later and on every change, so it wins.
        return [self.initialization_options, self.client_settings]

    def reload(self) -> Reload:
        loaded = load_settings(
            self.workspace, editor=self.editor_layers, trusted=self.workspace_trusted
        )
        previous = self.current
        problems = list(loaded.problems)
        settings = _without_checks(loaded.settings, loaded.trusted, problems, self.workspace)
        # A notice (say, a pyproject table shadowed by .fuse-ls.toml) is worth showing
        # but is no invalid value: it must not pin the old settings.
        invalid = [p for p in problems if not isinstance(p, ConfigNotice)]
        if invalid and previous is not None:
            kept = _without_checks(previous, loaded.trusted, [], self.workspace)
            self.current = kept
            return Reload(kept, tuple(problems), changed=kept != previous)
        # The first load has no last valid settings: the valid keys apply and every bad
        # key falls back to the layer below it (load_settings does that per key).
        self.current = settings
        return Reload(settings, tuple(problems), changed=previous != settings)

    def is_watched(self, path: Path) -> bool:
        return (
            self.workspace is not None
            and path.parent == self.workspace
            and (path.name in WATCHED_NAMES)
        )


class SettingsFeature(Feature):
    """Pulls the editor's settings, watches the config files, and applies what loads."""

    def __init__(self, server: ServerBase) -> None:
        super().__init__(server)
        self.state = SettingsState(None)
        self._shown_problems: set[str] = set()
        self._watch_stop = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    def initialize(self, params: types.InitializeParams) -> None:
        root = self.server.workspace.root_path
        self.state = SettingsState(Path(root) if root else None)
        self.state.set_initialization_options(params.initialization_options)

    async def initialized(self) -> None:
        await self.pull_configuration()
        await self.reload()

    async def pull_configuration(self) -> None:
        server = self.server
        workspace = server.caps.workspace
        if workspace is None or not workspace.configuration:
            return
        item = types.ConfigurationItem(section=SECTION, scope_uri=server.workspace.root_uri)
        try:
            values = await asyncio.wait_for(
                server.workspace_configuration_async(types.ConfigurationParams(items=[item])),
                CLIENT_TIMEOUT_S,
            )
        except (TimeoutError, JsonRpcException) as exc:
            log.warning("workspace/configuration failed: %s", exc)
            return
        if values:
            self.state.set_client_settings(values[0])

    async def reload(self) -> None:
        """Load the layered settings; show new problems; keep the last valid settings."""
        first = self.state.current is None
        outcome = await asyncio.to_thread(self.state.reload)
        messages = {str(p): p for p in outcome.problems}
        for text, problem in messages.items():
            if text not in self._shown_problems:
                notice = isinstance(problem, ConfigNotice)
                kept = "" if notice or first else " The last valid settings stay."
                kind = types.MessageType.Warning if notice else types.MessageType.Error
                self.server.show(kind, f"fuse-ls: {text}{kept}")
        self._shown_problems = set(messages)
        if outcome.changed:
            self.server.apply_settings(outcome.settings)

    async def did_change_configuration(self, params: types.DidChangeConfigurationParams) -> None:
        self.state.set_workspace_trust(params.settings)
        workspace = self.server.caps.workspace
        if workspace is not None and workspace.configuration:
            await self.pull_configuration()
        else:
            # A client that cannot be asked pushes its settings in the notification.
            self.state.set_client_settings(params.settings, pulled=False)
        await self.reload()

    async def did_change_watched_files(self, params: types.DidChangeWatchedFilesParams) -> None:
        if any(self.state.is_watched(uri_path(c.uri)) for c in params.changes):
            await self.reload()

    async def watch_files(self) -> None:
        server = self.server
        if self.state.workspace is None:
            return
        caps = server.caps.workspace
        watched = caps.did_change_watched_files if caps else None
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
                    server.client_register_capability_async(
                        types.RegistrationParams(registrations=[registration])
                    ),
                    CLIENT_TIMEOUT_S,
                )
                return
            except (TimeoutError, JsonRpcException) as exc:
                log.warning("file watcher registration failed, watching ourselves: %s", exc)
        self._watcher = asyncio.create_task(self._watch_with_watchfiles(self.state.workspace))

    async def _watch_with_watchfiles(self, root: Path) -> None:
        try:
            from watchfiles import awatch
        except ImportError:
            # watchfiles is compiled; the copy bundled in the VS Code extension is pure
            # Python and leaves it out (VS Code watches for us anyway).
            await self._poll_settings_files(root)
            return

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
                await self.reload()
        except Exception:  # a watcher failing must not take the server down
            log.exception("watching %s for settings changes failed", root)

    async def _poll_settings_files(self, root: Path, interval_s: float = 1.0) -> None:
        """The fallback watcher: the settings files' mtimes, once a second."""

        def stamps() -> dict[str, float | None]:
            out: dict[str, float | None] = {}
            for name in WATCHED_NAMES:
                try:
                    out[name] = (root / name).stat().st_mtime
                except OSError:
                    out[name] = None
            return out

        try:
            before = await asyncio.to_thread(stamps)
            while not self._watch_stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._watch_stop.wait(), interval_s)
                now = await asyncio.to_thread(stamps)
                if now != before:
                    before = now
                    await self.reload()
        except Exception:  # a watcher failing must not take the server down
            log.exception("polling %s for settings changes failed", root)

    async def shutdown(self) -> None:
        self._watch_stop.set()
        if self._watcher is not None:
            await asyncio.wait([self._watcher], timeout=2)
