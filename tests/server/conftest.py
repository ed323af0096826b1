"""End-to-end fixtures: the real `python -m fuse_ls serve` process, a pytest-lsp client
with the Neovim or VS Code capabilities, and the model emulator on loopback."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.protocol import JsonRPCProtocol
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities, make_test_lsp_client

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.lsp_sample import EVAL_LINE, JUDGE, POOL, SOURCE  # noqa: F401 (re-exported to tests)
from tests.pool_sample import home_env
from tests.server.change_sample import changed_repo

NONE_LINE = 5  # 0-based line of `if value == None:`


def model(ttft_ms: float, **extra: Any) -> dict[str, Any]:
    """A pool member: everyone flags eval(); only emu/slow also flags `== None`."""
    findings: list[dict[str, Any]] = [
        {
            "match": "eval(",
            "severity": "error",
            "category": "security",
            "message": "eval() runs arbitrary code; use ast.literal_eval.",
            "replace": "ast.literal_eval(",
        }
    ]
    return {"ttft_ms": ttft_ms, "findings": findings, **extra}


def script(
    fast: float = 20,
    mid: float = 40,
    slow: float = 60,
    faults: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The pool's behaviour: first-token latencies in ms and per-model faults."""
    slow_model = model(slow)
    slow_model["findings"] = [
        *slow_model["findings"],
        {
            "match": "== None",
            "severity": "warning",
            "category": "style",
            "message": "Compare with None using `is`.",
        },
    ]
    models = {
        "emu/fast": model(fast, text="The code parses text with eval and returns a dict."),
        "emu/mid": model(mid, text="It evaluates the text as Python and defaults to {}."),
        "emu/slow": {**slow_model, "text": "Loads a value with eval; None becomes {}."},
        JUDGE: {"ttft_ms": 10},
    }
    for name, fault_list in (faults or {}).items():
        models[name] = {**models[name], "faults": fault_list}
    return {"models": models, "judge": {"merge_answer": "It evaluates the text with eval()."}}


class Recorder:
    """What the client saw beyond pytest-lsp's own records."""

    def __init__(self) -> None:
        self.edits: list[types.ApplyWorkspaceEditParams] = []
        self.apply = True  # what the "user" answers to the confirmation
        self.model_status: list[dict[str, Any]] = []
        self.fusion_status: list[dict[str, Any]] = []
        self.registrations: list[types.RegistrationParams] = []


def plain(value: Any) -> Any:
    """pygls decodes untyped JSON objects as namedtuples; tests want dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _as_dict(params: Any) -> dict[str, Any]:
    value = plain(params)
    return value if isinstance(value, dict) else {}


@attrs.define
class RawResponse:
    """A response whose result stays plain JSON (pygls would make namedtuples of it,
    renaming keys such as model ids that are not identifiers)."""

    id: Any
    jsonrpc: str
    result: Any = None


# pytest imports every tests/*/conftest.py as the module `conftest`, so by the time cattrs
# resolves these (string) annotations, sys.modules["conftest"] may be another directory's
# conftest without `Any`: resolve them now, while this module is the one registered.
attrs.resolve_types(RawResponse)


def make_client(recorder: Recorder) -> Callable[[], LanguageClient]:
    def factory() -> LanguageClient:
        client = make_test_lsp_client()
        client.protocol._converter.register_structure_hook(RawResponse, lambda o, c: c(**o))

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            recorder.edits.append(params)
            return types.ApplyWorkspaceEditResult(
                applied=recorder.apply,
                failure_reason=None if recorder.apply else "the user declined",
            )

        @client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def register(params: types.RegistrationParams) -> None:
            recorder.registrations.append(params)

        @client.feature("fuse/modelStatus")
        def model_status(params: Any) -> None:
            recorder.model_status.append(_as_dict(params))

        @client.feature("fuse/fusionStatus")
        def fusion_status(params: Any) -> None:
            recorder.fusion_status.append(_as_dict(params))

        return client

    return factory


class Session:
    """A started server with helpers; `client` is the pytest-lsp LanguageClient."""

    def __init__(
        self,
        client: LanguageClient,
        recorder: Recorder,
        emulator: Emulator,
        workspace: Path,
        profile: str,
        data: Path,
    ) -> None:
        self.client = client
        self.recorder = recorder
        self.emulator = emulator
        self.workspace = workspace
        self.profile = profile
        self.data = data
        self.versions: dict[str, int] = {}

    def open(self, name: str = "app.py", text: str = SOURCE) -> str:
        path = self.workspace / name
        path.write_text(text)
        uri = path.as_uri()
        self.versions[uri] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        return uri

    def edit(self, uri: str, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=uri, version=self.versions[uri]
                ),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(
                            start=types.Position(line=start[0], character=start[1]),
                            end=types.Position(line=end[0], character=end[1]),
                        ),
                        text=text,
                    )
                ],
            )
        )

    def raw_request(self, method: str, params: Any, msg_id: str | None = None) -> Any:
        """Send a request and get the result as plain JSON, without lsprotocol's decoding
        (which turns code actions that carry a command into Commands, see the notes)."""
        msg_id = msg_id or str(uuid.uuid4())
        protocol = self.client.protocol
        future = JsonRPCProtocol.send_request(protocol, method, params, msg_id=msg_id)
        protocol._result_types[msg_id] = RawResponse
        return asyncio.wrap_future(future)

    def execute_async(
        self, command: str, *arguments: Any, msg_id: str | None = None
    ) -> asyncio.Future[Any]:
        return self.raw_request(  # type: ignore[no-any-return]
            types.WORKSPACE_EXECUTE_COMMAND,
            types.ExecuteCommandParams(command=command, arguments=list(arguments)),
            msg_id=msg_id,
        )

    async def code_actions(
        self,
        uri: str,
        start: tuple[int, int],
        end: tuple[int, int],
        diagnostics: list[types.Diagnostic] | None = None,
        only: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        params = types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(
                start=types.Position(line=start[0], character=start[1]),
                end=types.Position(line=end[0], character=end[1]),
            ),
            context=types.CodeActionContext(diagnostics=diagnostics or [], only=only),
        )
        # Once typed, so pytest-lsp checks the result against the client's capabilities,
        # and once raw, for the assertions.
        await asyncio.wait_for(self.client.text_document_code_action_async(params), 5)
        listed = await asyncio.wait_for(
            self.raw_request(types.TEXT_DOCUMENT_CODE_ACTION, params), 5
        )
        return list(listed or [])

    async def execute(self, command: str, *arguments: Any) -> Any:
        return await asyncio.wait_for(self.execute_async(command, *arguments), 15)

    def diagnostics(self, uri: str) -> list[types.Diagnostic]:
        return list(self.client.diagnostics.get(uri, []))

    def messages(self, kind: types.MessageType | None = None) -> list[str]:
        return [m.message for m in self.client.messages if kind is None or m.type == kind]


async def wait_for(predicate: Callable[[], Any], within: float = 10.0, what: str = "") -> Any:
    """Poll until `predicate()` is truthy; fail with `what` after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {within} s waiting for {what or predicate}")
        await asyncio.sleep(0.005)


def server_env(emulator: Emulator, home: Path) -> dict[str, str]:
    # No key: the emulator asks for none (OPENROUTER_API_KEY would not be sent to it anyway).
    return {**home_env(emulator.base_url, home), "PYTHONUNBUFFERED": "1"}


def init_options(**overrides: Any) -> dict[str, Any]:
    options: dict[str, Any] = {
        "pool": list(POOL),
        "judge": JUDGE,
        "mode": "merge",
        "retries": {"maxAttempts": 1},
        "budget": {"maxUsdPerRequest": None, "maxUsdPerDay": None},
        "review": {"contextLines": 3},
    }
    options.update(overrides)
    return options


PROFILES = ["neovim", "visual-studio-code"]


async def start_session(
    profile: str,
    emulator: Emulator,
    tmp_path: Path,
    options: dict[str, Any] | None = None,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    server_command: list[str] | None = None,
) -> tuple[Session, Callable[[], Any]]:
    """A server and client on `emulator`; `data_dir` replaces `tmp_path / "data"`; `env`
    adds to the server's environment; `server_command` replaces `python -m fuse_ls serve`."""
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    data_dir = tmp_path / "data" if data_dir is None else data_dir
    recorder = Recorder()
    config = ClientServerConfig(
        server_command=server_command or [sys.executable, "-m", "fuse_ls", "serve"],
        server_env={
            **server_env(emulator, tmp_path),
            "FUSE_LS_DATA_DIR": str(data_dir),
            **(env or {}),
        },
        client_factory=make_client(recorder),
    )
    client = await config.start()
    assert isinstance(client, LanguageClient)
    client.set_configuration({}, section="fuseLs")
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(profile),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options=init_options() if options is None else options,
        )
    )
    session = Session(client, recorder, emulator, workspace, profile, data_dir)

    async def stop() -> None:
        await client.shutdown_session()
        await client.stop()

    return session, stop


@pytest.fixture
def emu(emulator_factory: Callable[..., Emulator]) -> Emulator:
    return emulator_factory(script())


@pytest_asyncio.fixture(params=PROFILES)
async def lsp(
    request: pytest.FixtureRequest, emu: Emulator, tmp_path: Path
) -> AsyncIterator[Session]:
    session, stop = await start_session(request.param, emu, tmp_path)
    yield session
    await stop()


@pytest_asyncio.fixture
async def session(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Session, Repo]]:
    """A VS Code session whose workspace is a git repository with a change (a.py, b.py)."""
    for key, value in GIT_ENV.items():  # git identity for the test and the server
        monkeypatch.setenv(key, value)
    s, stop = await start_session("visual-studio-code", emu, tmp_path)
    try:
        yield s, changed_repo(s.workspace)
    finally:
        await stop()


def only_edit(resolved: types.CodeAction, uri: str) -> types.TextEdit:
    """The one text edit of a resolved quick fix, in whichever form the client took."""
    assert resolved.edit is not None
    if resolved.edit.document_changes:
        change = resolved.edit.document_changes[0]
        assert isinstance(change, types.TextDocumentEdit)
        edit = change.edits[0]
    else:
        assert resolved.edit.changes is not None
        edit = resolved.edit.changes[uri][0]
    assert isinstance(edit, types.TextEdit)
    return edit
