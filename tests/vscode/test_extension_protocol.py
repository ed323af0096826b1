"""The VS Code extension against the real server.

VS Code itself cannot run here, so this test takes from the extension's own code what
VS Code would do and does it with pytest-lsp:

- the command line, the initialization options and the names of the environment
  variables it sets come from `vscode-extension/scripts/print-launch.js`, which runs the
  extension's `src/launch.ts` + `src/settings.ts` (bundled by `npm run build`) on a
  settings.json;
- the client capabilities come from `scripts/print-capabilities.js`: the ones the
  extension's `vscode-languageclient` (as locked) sends, not pytest-lsp's old VS Code 1.65
  profile;
- `workspace/configuration` is answered the way the extension's middleware does (the
  same object as the initialization options), and a settings change is pushed the way
  it pushes one.

Then it runs a review, an explanation and the stats against the model emulator and
checks the fields the extension's TypeScript reads from the results and notifications.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import pytest_asyncio
from lsprotocol import converters, types

try:  # the server is written in parallel with the extension
    import fuse_ls.server  # noqa: F401
except ImportError as exc:  # pragma: no cover - only before the server lands
    pytest.skip(f"fuse_ls.server cannot be imported yet: {exc}", allow_module_level=True)

from pygls.exceptions import JsonRpcException
from pygls.protocol import JsonRPCProtocol
from pytest_lsp import ClientServerConfig, LanguageClient, make_test_lsp_client

from fuse_ls.emulator import Emulator
from tests.lsp_sample import EVAL_LINE, JUDGE, POOL, SOURCE

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "vscode-extension"
KEY = "sk-or-v1-vscode-protocol-test-0123456789"
KEY_ENV = "FUSE_LS_VSCODE_TEST_KEY"  # where print-launch.js reads the "stored" key from

# --- what the extension computes -------------------------------------------------------


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="module")
def extension_built() -> Path:
    """node_modules and dist/launch.js, built from the current sources."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed to run the VS Code extension's own code")
    if not (EXTENSION / "node_modules" / ".package-lock.json").is_file():
        _run([npm, "ci", "--no-audit", "--no-fund"], EXTENSION)
    _run([node, "scripts/build.mjs"], EXTENSION)  # esbuild: about a second
    return EXTENSION


def print_launch(settings: dict[str, Any], tmp_path: Path, key: str | None) -> dict[str, Any]:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings))
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    args = ["node", "scripts/print-launch.js", str(path)]
    if key is not None:
        env[KEY_ENV] = key
        args += ["--api-key-from-env", KEY_ENV]
    out = _run(args, EXTENSION, env)
    assert KEY not in out, "print-launch.js printed the key"
    return json.loads(out)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def vscode_capabilities(extension_built: Path) -> types.ClientCapabilities:
    out = json.loads(_run(["node", "scripts/print-capabilities.js"], extension_built))
    assert out["client"].startswith("vscode-languageclient ")
    caps = out["capabilities"]
    # What the extension relies on the server seeing.
    # The extension shows each fusion in its own notification (src/capabilities.ts).
    assert caps["window"]["workDoneProgress"] is False
    assert caps["window"]["showDocument"]["support"] is True
    assert caps["workspace"]["configuration"] is True
    return converters.get_converter().structure(caps, types.ClientCapabilities)


def vscode_settings(emulator: Emulator, data_dir: Path) -> dict[str, Any]:
    """A user's settings.json: VS Code keys, camelCase, client-only keys included."""
    return {
        "fuseLs.interpreter": sys.executable,
        "fuseLs.trace.server": "verbose",
        "fuseLs.pool": ["emu/fast", {"id": "emu/mid", "maxTokens": 900}, "emu/slow"],
        "fuseLs.judge": JUDGE,
        "fuseLs.mode": "merge",
        "fuseLs.quorum.minResponses": None,
        "fuseLs.quorum.deadlineS": 30,
        "fuseLs.retries.maxAttempts": 1,
        "fuseLs.budget.maxUsdPerRequest": None,
        "fuseLs.budget.maxUsdPerDay": None,
        "fuseLs.provider.baseUrl": emulator.base_url,
        # The OpenRouter key never goes to a local server: this one's key has its own variable.
        "fuseLs.provider.apiKeyEnv": "FUSE_TEST_VSCODE_EMU_KEY",
        "fuseLs.review.contextLines": 3,
        "fuseLs.telemetry.enabled": True,
        "fuseLs.telemetry.dataDir": str(data_dir),
    }


def emulator_script() -> dict[str, Any]:
    eval_rule = {
        "match": "eval(",
        "severity": "error",
        "category": "security",
        "message": "eval() runs arbitrary code; use ast.literal_eval.",
        "replace": "ast.literal_eval(",
    }
    return {
        "models": {
            "emu/fast": {"ttft_ms": 20, "findings": [eval_rule], "text": "It parses with eval."},
            "emu/mid": {"ttft_ms": 40, "findings": [eval_rule], "text": "It evaluates text."},
            "emu/slow": {"ttft_ms": 60, "findings": [eval_rule], "text": "Loads with eval."},
            JUDGE: {"ttft_ms": 10},
        },
        "judge": {"merge_answer": "It evaluates the text with eval()."},
    }


# --- the session ---------------------------------------------------------------------


class Seen:
    def __init__(self) -> None:
        self.model_status: list[dict[str, Any]] = []
        self.fusion_status: list[dict[str, Any]] = []
        self.configuration_requests = 0
        self.edits: list[types.ApplyWorkspaceEditParams] = []
        # How the "user" answers a fix: applied unless a test says otherwise.
        self.answer_edit: Callable[[types.ApplyWorkspaceEditParams], Any] = lambda _p: (
            types.ApplyWorkspaceEditResult(applied=True)
        )


def _plain(params: Any) -> dict[str, Any]:
    """Custom notifications arrive as pygls' generic objects: back to JSON."""
    if isinstance(params, dict):
        return params
    if hasattr(params, "_asdict"):
        return {k: _plain(v) if hasattr(v, "_asdict") else v for k, v in params._asdict().items()}
    return dict(vars(params))


def client_factory(seen: Seen, answer: Callable[[], Any]) -> Callable[[], LanguageClient]:
    def make() -> LanguageClient:
        client = make_test_lsp_client()

        # pytest-lsp answers workspace/configuration through get_configuration: answer
        # as the extension's middleware does, with its settings object for `fuseLs`.
        def get_configuration(*, section: str | None = None, scope_uri: str | None = None) -> Any:
            seen.configuration_requests += 1
            return answer() if section == "fuseLs" else None

        client.get_configuration = get_configuration  # type: ignore[method-assign]

        @client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def register(params: types.RegistrationParams) -> None:
            return None

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            seen.edits.append(params)
            return seen.answer_edit(params)

        @client.feature("fuse/modelStatus")
        def model_status(params: Any) -> None:
            seen.model_status.append(_plain(params))

        @client.feature("fuse/fusionStatus")
        def fusion_status(params: Any) -> None:
            seen.fusion_status.append(_plain(params))

        return client

    return make


class Session:
    def __init__(
        self,
        client: LanguageClient,
        seen: Seen,
        launch: dict[str, Any],
        emulator: Emulator,
        workspace: Path,
    ) -> None:
        self.client, self.seen, self.launch = client, seen, launch
        self.emulator, self.workspace = emulator, workspace
        self.server_capabilities = types.ServerCapabilities()

    def open(self, name: str = "app.py", text: str = SOURCE) -> str:
        path = self.workspace / name
        path.write_text(text)
        uri = path.as_uri()
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        return uri

    async def execute(self, command: str, argument: dict[str, Any], within: float = 30) -> Any:
        """`workspace/executeCommand` as the extension sends it: one argument object."""
        result = await asyncio.wait_for(
            self.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command=command, arguments=[argument])
            ),
            within,
        )
        return _jsonable(result)

    def errors(self) -> list[str]:
        return [m.message for m in self.client.messages if m.type == types.MessageType.Error]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda o: _plain(o)))


def server_env(launch: dict[str, Any], home: Path) -> dict[str, str]:
    """The extension spawns the server with VS Code's environment plus the stored key.
    Settings that would come from this machine's environment or config files are left
    out, so that what the test checks is what the extension sent."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("FUSE_LS_", "OPENROUTER", "XDG_"))
    }
    env.update(
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "share"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    for name in launch["envKeys"]:
        # Python's own variables as the extension set them; the key from SecretStorage.
        env[name] = launch["env"].get(name, KEY)
    return env


@pytest_asyncio.fixture
async def vscode(
    extension_built: Path,
    vscode_capabilities: types.ClientCapabilities,
    emulator_factory: Callable[..., Emulator],
    tmp_path: Path,
) -> AsyncIterator[Session]:
    emulator = emulator_factory(emulator_script(), require_key=KEY)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    launch = print_launch(vscode_settings(emulator, tmp_path / "data"), tmp_path, KEY)
    seen = Seen()
    config = ClientServerConfig(
        server_command=[launch["command"], *launch["args"]],
        server_env=server_env(launch, tmp_path),
        # The middleware answers with the settings alone: workspaceTrusted rides only in
        # initializationOptions (src/launch.ts vs src/server.ts).
        client_factory=client_factory(
            seen,
            lambda: {
                k: v for k, v in launch["initializationOptions"].items() if k != "workspaceTrusted"
            },
        ),
    )
    client = await config.start()
    assert isinstance(client, LanguageClient)
    initialized = await client.initialize_session(
        types.InitializeParams(
            capabilities=vscode_capabilities,
            client_info=types.ClientInfo(name="Visual Studio Code", version="1.90.0"),
            locale="en",
            root_uri=workspace.as_uri(),
            root_path=str(workspace),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="ws")],
            initialization_options=launch["initializationOptions"],
            trace=types.TraceValue.Verbose,
        )
    )
    session = Session(client, seen, launch, emulator, workspace)
    session.server_capabilities = initialized.capabilities
    yield session
    await client.shutdown_session()
    await client.stop()


async def wait_for(predicate: Callable[[], Any], within: float = 10, what: str = "") -> Any:
    deadline = time.monotonic() + within
    while not (value := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what or predicate}")
        await asyncio.sleep(0.01)
    return value


# --- tests ---------------------------------------------------------------------------


def test_launch_is_what_the_extension_runs(extension_built: Path, tmp_path: Path) -> None:
    settings = {
        "fuseLs.interpreter": "/opt/py/bin/python",
        "fuseLs.trace.server": "messages",
        "fuseLs.quorum.minResponses": 2,
        "fuseLs.provider.apiKeyEnv": "MY_OPENROUTER_KEY",
    }
    launch = print_launch(settings, tmp_path, KEY)
    assert launch["command"] == "/opt/py/bin/python"
    assert launch["args"] == ["-m", "fuse_ls", "serve"]
    # Client-only keys stay in the client; the key travels only in the environment.
    # Keys as VS Code spells them: the server names a bad one the way the user wrote it.
    assert launch["initializationOptions"] == {
        "quorum": {"minResponses": 2},
        "provider": {"apiKeyEnv": "MY_OPENROUTER_KEY"},
        "workspaceTrusted": True,
    }
    assert launch["envKeys"] == ["PYTHONSAFEPATH", "MY_OPENROUTER_KEY"]
    assert launch["env"] == {"PYTHONSAFEPATH": "1"}
    assert print_launch({}, tmp_path, None)["envKeys"] == ["PYTHONSAFEPATH"]


def test_a_fuse_ls_package_in_the_workspace_is_never_run(
    extension_built: Path, tmp_path: Path
) -> None:
    """The server runs as `python -m fuse_ls serve` in the workspace folder, and `-m` puts
    that folder first on sys.path: a repository shipping its own `fuse_ls` package ran it
    as soon as it was opened in VS Code, trusted or not."""
    workspace = tmp_path / "hostile"
    (workspace / "fuse_ls").mkdir(parents=True)
    marker = tmp_path / "ran"
    (workspace / "fuse_ls" / "__init__.py").write_text("")
    (workspace / "fuse_ls" / "__main__.py").write_text(
        f"open({str(marker)!r}, 'w').write('the repository ran code')\n"
    )
    launch = print_launch({"fuseLs.interpreter": sys.executable}, tmp_path, None)
    env = server_env(launch, tmp_path)
    env.pop("PYTHONSAFEPATH", None)  # only what the extension sets counts
    env.update(launch["env"])
    done = subprocess.run(
        [launch["command"], *launch["args"], "--help"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert not marker.exists()
    assert "usage: fuse-ls serve" in done.stdout


def test_version_check_accepts_this_server() -> None:
    """The extension runs `<python> -m fuse_ls --version` and parses `fuse-ls X.Y.Z`."""
    out = subprocess.run(
        [sys.executable, "-m", "fuse_ls", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    match = re.search(r"fuse-ls\s+v?(\d+)\.(\d+)\.(\d+)", out.stdout)
    assert match, out.stdout
    launch_ts = (EXTENSION / "src" / "launch.ts").read_text()
    minimum = re.search(r"MIN_SERVER_VERSION = '(\d+)\.(\d+)\.(\d+)'", launch_ts)
    assert minimum
    found = tuple(int(g) for g in match.groups())
    # 0.0.0 is an uninstalled checkout, which the extension accepts as a dev build.
    assert found == (0, 0, 0) or found >= tuple(int(g) for g in minimum.groups())


async def test_review_with_the_extensions_launch(vscode: Session) -> None:
    # The server pulled workspace/configuration and took every setting without complaint.
    await wait_for(lambda: vscode.seen.configuration_requests, what="workspace/configuration")
    uri = vscode.open()
    selection = {"start": {"line": 3, "character": 0}, "end": {"line": 9, "character": 0}}
    result = await vscode.execute("fuse-ls.review", {"uri": uri, "range": selection})

    # commands.ts reads `cancelled` and counts `findings`.
    assert result["cancelled"] is False
    assert isinstance(result["findings"], list) and result["findings"]
    diagnostics = vscode.client.diagnostics.get(uri, [])
    eval_diag = next(d for d in diagnostics if d.code == "security")
    assert eval_diag.source == "fuse-ls"
    assert eval_diag.range.start.line == EVAL_LINE
    assert eval_diag.message.endswith("(3/3 models)")
    assert vscode.errors() == []

    # The settings arrived as the extension sent them: pool and judge from the
    # initialization options, the pool object's maxTokens as max_tokens, the endpoint.
    models = {r.model for r in vscode.emulator.requests}
    assert set(POOL) <= models <= {*POOL, JUDGE}  # unanimous findings may skip the judge
    mid = [r for r in vscode.emulator.requests if r.model == "emu/mid"]
    assert mid and all(r.body.get("max_tokens") == 900 for r in mid)
    # The key reached the endpoint (the emulator requires it) only via the environment.
    assert all(r.status == 200 for r in vscode.emulator.requests)
    assert KEY not in json.dumps(vscode.launch["initializationOptions"])

    # status.ts / tracker.ts read these notification fields.
    await wait_for(
        lambda: any(f["state"] == "finished" for f in vscode.seen.fusion_status),
        what="fusionStatus finished",
    )
    for m in vscode.seen.model_status:
        assert {"fusionId", "uri", "task", "model", "index", "state"} <= set(m)
        assert m["uri"] == uri and m["task"] == "review"
        assert isinstance(m["index"], int)
        assert m["state"] in {"started", "streaming", "finished", "failed", "cancelled"}
    assert {m["model"] for m in vscode.seen.model_status} >= set(POOL)
    assert {m["state"] for m in vscode.seen.model_status} >= {"started", "finished"}
    for f in vscode.seen.fusion_status:
        assert {"fusionId", "uri", "task", "state", "inFlight", "sessionCostUsd"} <= set(f)
        assert f["state"] in {"started", "judging", "finished", "failed", "cancelled"}
        assert isinstance(f["inFlight"], int)
    # The extension counts fusions in flight from each fusion's start and end (the
    # server's `inFlight` still counts a fusion in its own `finished`).
    ours = [f for f in vscode.seen.fusion_status if f["fusionId"] == result["fusionId"]]
    assert ours[0]["state"] == "started" and ours[-1]["state"] == "finished"

    # No work-done progress: the extension does not ask for it, so VS Code shows one
    # progress display (the notification built from fuse/modelStatus), not two.
    assert not vscode.client.progress_reports

    # Never a key in anything the server sent to the editor.
    shown = json.dumps(
        [m.message for m in vscode.client.messages]
        + [m.message for m in vscode.client.log_messages]
        + vscode.seen.model_status
        + vscode.seen.fusion_status
    )
    assert KEY not in shown


async def test_explain_stats_cancel_and_settings_push(vscode: Session) -> None:
    uri = vscode.open()
    selection = {"start": {"line": 3, "character": 0}, "end": {"line": 8, "character": 0}}
    result = await vscode.execute("fuse-ls.explain", {"uri": uri, "range": selection})
    # commands.ts previews `documentUri` when the file exists, else shows `markdown`.
    assert result["cancelled"] is False
    assert isinstance(result["markdown"], str) and result["markdown"].strip()
    document = result["documentUri"]
    assert document.startswith("file://")
    assert await asyncio.to_thread(Path(unquote(document.removeprefix("file://"))).is_file)
    assert [d.uri for d in vscode.client.shown_documents] == [document]

    stats = await vscode.execute("fuse-ls.stats", {})
    assert stats["fusions"] >= 1
    assert isinstance(stats["costUsd"], int | float)
    for model in POOL:
        entry = stats["models"][model]
        for field in ("calls", "failures", "costUsd", "promptTokens", "completionTokens"):
            assert isinstance(entry[field], int | float), (model, field)
        assert "meanLatencyMs" in entry

    assert await vscode.execute("fuse-ls.cancel", {}) == {"cancelled": 0}
    assert await vscode.execute("fuse-ls.cancel", {"uri": uri}) == {"cancelled": 0}

    # A settings change: the extension pushes its object and answers the pull with it.
    pulls = vscode.seen.configuration_requests
    vscode.launch["initializationOptions"]["mode"] = "best-of"
    vscode.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"fuseLs": vscode.launch["initializationOptions"]}
        )
    )
    await wait_for(lambda: vscode.seen.configuration_requests > pulls, what="a new pull")
    before = len(vscode.emulator.requests)
    again = await vscode.execute("fuse-ls.explain", {"uri": uri, "range": selection})
    assert again["cancelled"] is False
    judged = [r for r in vscode.emulator.requests[before:] if r.model == JUDGE]
    assert judged and all(r.schema == "best_of_verdict" for r in judged)
    assert vscode.errors() == []


async def test_a_bad_setting_is_named_as_in_settings_json(vscode: Session, tmp_path: Path) -> None:
    """The user sets `fuseLs.review.minVotesForWarning: 0` in settings.json: the extension
    pushes the change and answers the pull with what it builds from settings.json."""
    settings = vscode_settings(vscode.emulator, tmp_path / "data")
    settings["fuseLs.review.minVotesForWarning"] = 0
    built = print_launch(settings, tmp_path, KEY)["initializationOptions"]
    vscode.launch["initializationOptions"].clear()
    vscode.launch["initializationOptions"].update(built)
    vscode.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"fuseLs": built})
    )
    [message] = await wait_for(vscode.errors, what="the bad setting's message")
    assert message.startswith(
        "fuse-ls: Invalid setting 'fuseLs.review.minVotesForWarning' (from editor settings "
        "via workspace/configuration, e.g. VS Code's settings.json): got 0; "
        "expected an integer >= 1."
    )


async def test_two_fixes_of_one_document_cancel_one(vscode: Session) -> None:
    """Two "Fused fix" notifications on one document. Cancel on one is `$/cancelRequest` for
    its request alone (src/commands.ts sends no `fuse-ls.cancel {uri}`, which would stop the
    other too): that fusion stops, the other runs on, and its fix arrives labelled and placed
    as src/fixwaits.ts expects, to tell whose notification it ends."""
    hang = [{"kind": "hang"}]
    hanging = {m: {"ttft_ms": 10, "faults": hang} for m in POOL}
    vscode.emulator.set_script({"models": {**hanging, JUDGE: {"ttft_ms": 10}}})
    uri = vscode.open()
    protocol = vscode.client.protocol
    # Sent raw with a known id, as vscode-jsonrpc does, so it can be cancelled by id.
    future = JsonRPCProtocol.send_request(
        protocol,
        types.WORKSPACE_EXECUTE_COMMAND,
        types.ExecuteCommandParams(
            command="fuse-ls.fix", arguments=[{"uri": uri, "range": whole_lines(EVAL_LINE + 1)}]
        ),
        msg_id="vscode-fix-1",
    )
    protocol._result_types.pop("vscode-fix-1", None)
    cancelled = asyncio.wrap_future(future)
    await wait_for(lambda: vscode.emulator.open_streams == 3, what="three hanging streams")
    vscode.emulator.set_script(emulator_script())
    second = asyncio.ensure_future(
        vscode.execute("fuse-ls.fix", {"uri": uri, "range": whole_lines(EVAL_LINE)})
    )
    await wait_for(
        lambda: len({f["fusionId"] for f in vscode.seen.fusion_status}) == 2, what="two fusions"
    )
    vscode.client.cancel_request(types.CancelParams(id="vscode-fix-1"))
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(cancelled, 5)
    assert error.value.code == -32800  # RequestCancelled: the extension shows "cancelled"
    result = await second
    assert result["applied"] is True and result["cancelled"] is False
    await wait_for(lambda: vscode.emulator.open_streams == 0, what="streams closed")
    states = {f["fusionId"]: f["state"] for f in vscode.seen.fusion_status}
    assert sorted(states.values()) == ["cancelled", "finished"]
    assert states[result["fusionId"]] == "finished"
    [edit] = vscode.seen.edits
    assert edit.label == "fuse-ls: fused fix"  # src/fixwaits.ts fixKindOf
    [change] = edit.edit.document_changes or []
    assert isinstance(change, types.TextDocumentEdit)
    [text_edit] = change.edits
    # The lines the request asked about (src/fixwaits.ts selectedLines).
    assert (text_edit.range.start.line, text_edit.range.end.line) == (EVAL_LINE, EVAL_LINE)
    assert "literal_eval" in text_edit.new_text


async def test_two_fixes_of_the_same_lines_each_carry_their_request_key(vscode: Session) -> None:
    """The extension sends `requestKey` only to a server that advertises it, and matches a
    fix to its request by the key the edit's change annotation carries back
    (src/fixwaits.ts): two fixes of the same lines are otherwise indistinguishable."""
    assert vscode.server_capabilities.experimental == {"fuseLs": {"requestKey": True}}

    def decline(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        [change] = params.edit.document_changes or []
        assert isinstance(change, types.TextDocumentEdit)
        [text_edit] = change.edits
        assert isinstance(text_edit, types.AnnotatedTextEdit)
        # The user declines, and says which request's fix it was.
        return types.ApplyWorkspaceEditResult(
            applied=False, failure_reason=f"declined {text_edit.annotation_id}"
        )

    vscode.seen.answer_edit = decline
    uri = vscode.open()
    lines = whole_lines(EVAL_LINE)
    first, second = await asyncio.gather(
        vscode.execute("fuse-ls.fix", {"uri": uri, "range": lines, "requestKey": "vsc-fix-1"}),
        vscode.execute("fuse-ls.fix", {"uri": uri, "range": lines, "requestKey": "vsc-fix-2"}),
    )
    assert first["reason"] == "declined vsc-fix-1"
    assert second["reason"] == "declined vsc-fix-2"
    for edit in vscode.seen.edits:
        assert edit.label == "fuse-ls: fused fix"
        assert list(edit.edit.change_annotations or {}) in (["vsc-fix-1"], ["vsc-fix-2"])
    assert len(vscode.seen.edits) == 2
    # Without a key: an annotation id of the server's own, as before.
    vscode.seen.answer_edit = lambda _p: types.ApplyWorkspaceEditResult(applied=True)
    plain = await vscode.execute("fuse-ls.fix", {"uri": uri, "range": lines})
    assert plain["applied"] is True
    [annotation] = list(vscode.seen.edits[-1].edit.change_annotations or {})
    assert annotation.startswith("fuse-ls-")
    with pytest.raises(JsonRpcException, match="requestKey"):
        await vscode.execute("fuse-ls.fix", {"uri": uri, "requestKey": ""})


def whole_lines(line: int) -> dict[str, Any]:
    """Line `line` selected as the editor gives it: up to column 0 of the next line."""
    return {"start": {"line": line, "character": 0}, "end": {"line": line + 1, "character": 0}}
