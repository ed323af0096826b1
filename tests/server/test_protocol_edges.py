"""What editors send that the happy path never does: percent-encoded URIs, characters
that are no line break for LSP, malformed JSON-RPC, settings that change mid-session."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from fuse_ls.emulator import Emulator
from tests.server.conftest import (
    EVAL_LINE,
    SOURCE,
    Session,
    only_edit,
    server_env,
    start_session,
    wait_for,
)
from tests.server.test_review import selection

# --- URIs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "where",
    [
        "my project/app.py",  # file:///.../my%20project/app.py
        "Übung/app.py",  # %C3%9Cbung
    ],
)
async def test_percent_encoded_uris_reach_the_document(lsp: Session, where: str) -> None:
    (lsp.workspace / where).parent.mkdir(parents=True, exist_ok=True)
    uri = lsp.open(where)
    assert "%" in uri
    result = await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    assert result["cancelled"] is False
    assert [f["uri"] for f in result["findings"]][:1] == [uri]
    assert any(d.range.start.line == EVAL_LINE for d in lsp.diagnostics(uri))


async def test_a_windows_drive_uri_reaches_the_document(lsp: Session) -> None:
    uri = "file:///c%3A/Users/dev/app.py"  # how VS Code spells C:\Users\dev\app.py
    lsp.versions[uri] = 1
    lsp.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=SOURCE
            )
        )
    )
    result = await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    assert result["cancelled"] is False and result["findings"]
    assert any(d.range.start.line == EVAL_LINE for d in lsp.diagnostics(uri))
    cancelled = await lsp.execute("fuse-ls.cancel", {"uri": "file:///c:/Users/dev/app.py"})
    assert cancelled == {"cancelled": 0}  # same document, nothing running


# --- the line model ------------------------------------------------------------------------

# A form feed alone on a line (a page break, common in older Python and C files): LSP
# does not count it as a line break, so every line number below it stays the same.
FORM_FEED_SOURCE = SOURCE.replace("import json\n\n", "import json\n\x0c\n", 1)


async def test_a_form_feed_does_not_move_a_finding_or_its_fix(lsp: Session) -> None:
    uri = lsp.open("paged.py", FORM_FEED_SOURCE)
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    diagnostic = next(d for d in lsp.diagnostics(uri) if d.code == "security")
    assert diagnostic.range.start.line == EVAL_LINE
    listed = await lsp.code_actions(
        uri, (EVAL_LINE, 0), (EVAL_LINE, 0), diagnostics=[diagnostic], only=["quickfix"]
    )
    resolved = await lsp.client.code_action_resolve_async(
        types.CodeAction(title=listed[0]["title"], diagnostics=[diagnostic], data=listed[0]["data"])
    )
    edit = only_edit(resolved, uri)
    assert (edit.range.start.line, edit.range.end.line) == (EVAL_LINE, EVAL_LINE)
    assert edit.range.end.character == len("    value = eval(text)")
    assert edit.new_text == "    value = ast.literal_eval(text)"


# --- JSON-RPC: every request is answered -------------------------------------------------


class RawClient:
    """JSON-RPC frames written straight to a server process: what no library would send."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.responses: dict[Any, dict[str, Any]] = {}

    def send(self, message: Any) -> None:
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _read_one(self) -> dict[str, Any]:
        stdout = self.process.stdout
        assert stdout is not None
        length = 0
        while True:
            line = await stdout.readline()
            if not line:
                raise EOFError("the server closed its output")
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            elif line == b"\r\n" and length:
                message: dict[str, Any] = json.loads(await stdout.readexactly(length))
                return message

    async def response(self, msg_id: Any, within: float = 10.0) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while msg_id not in self.responses:
                message = await self._read_one()
                if "id" in message and "method" not in message:
                    self.responses[message["id"]] = message
            return self.responses[msg_id]

        return await asyncio.wait_for(wait(), within)

    async def request(self, method: Any, params: Any, msg_id: str) -> dict[str, Any]:
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return await self.response(msg_id)


EC = "workspace/executeCommand"
DOC = "file:///raw/a.py"
HUGE = {"start": {"line": 2**63, "character": 0}, "end": {"line": 2**63, "character": 0}}

BOOLS = {"start": {"line": True, "character": 0}, "end": {"line": 2, "character": 0}}
AT = "textDocument/codeAction"
HOVER = "textDocument/hover"
HUGE_HOVER = {"textDocument": {"uri": DOC}, "position": HUGE["start"]}
DECISION = {"uri": "file:///nope.py", "findingId": "f-0", "decision": "applied"}


def command(name: str, arguments: Any) -> dict[str, Any]:
    return {"command": name, "arguments": arguments}


MALFORMED: list[tuple[str, Any, Any, int]] = [
    ("executeCommand params null", EC, None, -32602),
    ("executeCommand params a list", EC, [1, 2], -32602),
    ("executeCommand arguments not a list", EC, command("fuse-ls.review", {}), -32602),
    ("review of line 2**63", EC, command("fuse-ls.review", [{"uri": DOC, "range": HUGE}]), -32602),
    ("review, boolean line", EC, command("fuse-ls.review", [{"uri": DOC, "range": BOOLS}]), -32602),
    ("decision on an unknown document", EC, command("fuse-ls.findingDecision", [DECISION]), -32602),
    ("codeAction params null", AT, None, -32602),
    ("codeAction without context", AT, {"textDocument": {"uri": DOC}}, -32602),
    ("hover params null", HOVER, None, -32602),
    ("hover at line 2**63", HOVER, HUGE_HOVER, -32602),
    ("hover params a string", HOVER, "x", -32602),
    ("resolve params null", "codeAction/resolve", None, -32602),
    ("unknown method", "fuse/nope", {}, -32601),
    ("method not a string", 5, {}, -32600),
    # No `arguments` member at all (Helix's workspace-command picker): a TypeError, -32603.
    *(
        (f"{name} without arguments", EC, {"command": name}, -32602)
        for name in ("fuse-ls.review", "fuse-ls.explain", "fuse-ls.fix",
                     "fuse-ls.findingDecision", "fuse-ls.verifyFinding")
    ),
    ("cancel with two arguments", EC, command("fuse-ls.cancel", [{}, {}]), -32602),
    ("cancel of uri 5", EC, command("fuse-ls.cancel", [{"uri": 5}]), -32602),
]  # fmt: skip


async def test_every_malformed_request_gets_the_right_error(
    emulator_factory: Any, tmp_path: Path
) -> None:
    emulator: Emulator = emulator_factory({"models": {}})
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "fuse_ls",
        "serve",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=server_env(emulator, tmp_path),
    )
    client = RawClient(process)
    try:
        init = await client.request("initialize", {"capabilities": {}}, "init")
        assert "result" in init
        client.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        answers = {}
        for i, (name, method, params, _code) in enumerate(MALFORMED):
            reply = await client.request(method, params, f"m{i}")
            answers[name] = reply.get("error", {}).get("code")
        # Not JSON-RPC 2.0, and not JSON at all: answered too (the latter with id null).
        client.send({"id": "no-version", "method": "textDocument/hover", "params": {}})
        answers["no jsonrpc member"] = (await client.response("no-version"))["error"]["code"]
        client.send(b'{"jsonrpc": "2.0", "id": "cut", ')
        answers["invalid JSON"] = (await client.response(None))["error"]["code"]
        expected = {name: code for name, _m, _p, code in MALFORMED}
        expected.update({"no jsonrpc member": -32600, "invalid JSON": -32700})
        assert answers == expected
        stats = await client.request(EC, {"command": "fuse-ls.stats", "arguments": []}, "alive")
        assert stats["result"]["fusions"] == 0  # and the server is still up
        # fuse-ls.cancel with no argument cancels everything (docs/protocol.md).
        for n, params in enumerate([{"command": "fuse-ls.cancel"}, command("fuse-ls.cancel", [])]):
            cancelled = await client.request(EC, params, f"cancel-{n}")
            assert cancelled.get("result") == {"cancelled": 0}, cancelled
    finally:
        process.kill()
        await process.wait()


async def test_a_decision_about_an_unknown_document_is_an_error(lsp: Session) -> None:
    with pytest.raises(JsonRpcException) as error:
        await lsp.execute(
            "fuse-ls.findingDecision",
            {"uri": "file:///never/opened.py", "findingId": "abc-0", "decision": "applied"},
        )
    assert error.value.code == -32602
    assert "no findings" in str(error.value)


# --- settings that change mid-session ------------------------------------------------------


def transcript_lines(data: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted((data / "sessions").glob("*/*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return out


def fusion_ids(lines: list[dict[str, Any]]) -> set[str]:
    return {str(v) for line in lines if (v := line.get("fuseLs", {}).get("fusionId"))}


async def test_turning_telemetry_off_mid_session_stops_recording(
    emu: Emulator, tmp_path: Path
) -> None:
    lsp, stop = await start_session("neovim", emu, tmp_path)
    try:
        uri = lsp.open()
        first = await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
        await wait_for(
            lambda: first["fusionId"] in fusion_ids(transcript_lines(lsp.data)),
            what="the first review in the transcript",
        )
        lsp.client.set_configuration({"telemetry": {"enabled": False}}, section="fuseLs")
        lsp.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings=None)
        )
        await wait_for(
            lambda: any("session_end" in json.dumps(x) for x in transcript_lines(lsp.data)),
            what="the recorder to close its session",
        )
        second = await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
        assert second["cancelled"] is False
        assert second["fusionId"] not in fusion_ids(transcript_lines(lsp.data))
    finally:
        await stop()
