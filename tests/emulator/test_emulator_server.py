"""The emulator's HTTP behaviour, seen by a plain HTTP client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from fuse_ls.emulator import Emulator, EmulatorScript, ScriptError, load_script, parse_script

MODEL = "openai/gpt-5"
CODE = '<code path="a.py" language="python" start_line="1" end_line="1">\n1| eval(x)\n</code>'


def body(model: str = MODEL, stream: bool = False, schema: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "model": model,
        "stream": stream,
        "messages": [{"role": "user", "content": CODE}],
    }
    if schema:
        payload["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": schema, "strict": True, "schema": {}},
        }
    return payload


async def post(
    emulator: Emulator, payload: Any, path: str = "/chat/completions", **kw: Any
) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(emulator.base_url + path, json=payload, **kw)


async def test_models_lists_scripted_and_default_models(emulator: Emulator) -> None:
    emulator.set_script({"models": {"acme/x": {"price": {"prompt": 0.5, "completion": "1"}}}})
    async with httpx.AsyncClient() as http:
        data = (await http.get(emulator.base_url + "/models")).json()["data"]
        v1 = (await http.get(emulator.base_url.replace("/api/v1", "/v1") + "/models")).json()
    ids = {m["id"]: m for m in data}
    assert ids["acme/x"]["pricing"]["prompt"] == "0.500000"
    assert ids["acme/x"]["pricing"]["completion"] == "1"
    assert {"openai/gpt-5", "anthropic/claude-sonnet-4.5", "google/gemini-2.5-pro"} <= set(ids)
    assert all(isinstance(m["pricing"]["prompt"], str) for m in data)
    assert v1["data"] == data


async def test_non_streaming_shape(emulator: Emulator) -> None:
    response = await post(emulator, body(schema="review_findings"))
    payload = response.json()
    assert response.status_code == 200
    assert payload["model"] == MODEL and payload["id"] == response.headers["x-generation-id"]
    content = json.loads(payload["choices"][0]["message"]["content"])
    assert content["findings"][0]["start_line"] == 1
    assert payload["usage"]["cost"] > 0


async def test_v1_path_and_answer_model(emulator: Emulator) -> None:
    emulator.set_script({"models": {MODEL: {"answer_model": "openai/gpt-5-mini"}}})
    async with httpx.AsyncClient() as http:
        url = emulator.base_url.replace("/api/v1", "/v1") + "/chat/completions"
        response = await http.post(url, json=body())
    assert response.status_code == 200
    assert response.json()["model"] == "openai/gpt-5-mini"
    assert emulator.requests[-1].path == "/v1/chat/completions"


async def test_bad_requests(emulator: Emulator) -> None:
    unknown = await post(emulator, body(model="nobody/nothing"))
    assert unknown.status_code == 400
    assert unknown.json() == {
        "error": {"code": 400, "message": "nobody/nothing is not a valid model ID"}
    }
    assert (await post(emulator, {"messages": []})).status_code == 400
    assert (await post(emulator, {"model": MODEL})).status_code == 400
    assert (await post(emulator, [1])).status_code == 400
    emulator.set_script({"strict_models": False})
    assert (await post(emulator, body(model="my/local-model"))).status_code == 200


async def test_a_prompt_over_the_models_window_is_refused(emulator: Emulator) -> None:
    """As OpenRouter does (a 400 naming the window), so a client that overfills a small
    model is caught in tests instead of being answered as if the model had read it all."""
    emulator.set_script({"models": {MODEL: {"context_length": 100}}})
    small = await post(emulator, body())
    assert small.status_code == 200
    big = body()
    big["messages"][0]["content"] = CODE + "\n" + "x = 1\n" * 100  # ~700 chars, ~175 tokens
    refused = await post(emulator, big)
    assert refused.status_code == 400
    assert "maximum context length is 100 tokens" in refused.json()["error"]["message"]


async def test_require_key(emulator_factory: Any) -> None:
    emulator: Emulator = emulator_factory(require_key="secret-1")
    assert (await post(emulator, body())).status_code == 401
    wrong = await post(emulator, body(), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 401
    right = await post(emulator, body(), headers={"Authorization": "Bearer secret-1"})
    assert right.status_code == 200
    assert emulator.requests[-1].headers["authorization"] == "[redacted]"
    assert "secret-1" not in repr(emulator.requests)


async def test_fault_sequence_and_schema_filter(emulator: Emulator) -> None:
    emulator.set_script(
        {
            "models": {
                MODEL: {
                    "faults": [
                        {"kind": "http", "status": 429, "retry_after": 2, "times": 1},
                        {"kind": "http", "status": 502, "times": 1},
                        {"kind": "invalid_json", "schemas": ["cluster_verdict"]},
                    ]
                }
            }
        }
    )
    first = await post(emulator, body())
    assert first.status_code == 429 and first.headers["retry-after"] == "2"
    assert (await post(emulator, body())).status_code == 502
    assert (await post(emulator, body())).status_code == 200
    broken = await post(emulator, body(schema="cluster_verdict"))
    with pytest.raises(ValueError):
        json.loads(broken.json()["choices"][0]["message"]["content"])
    assert [r.fault for r in emulator.requests] == ["http", "http", None, "invalid_json"]
    emulator.set_script(emulator.script)  # counters restart
    assert (await post(emulator, body())).status_code == 429


async def test_star_faults_count_per_model(emulator: Emulator) -> None:
    emulator.set_script({"models": {"*": {"fault": {"kind": "http", "status": 500, "times": 1}}}})
    assert (await post(emulator, body(model="openai/gpt-5"))).status_code == 500
    assert (await post(emulator, body(model="openai/gpt-5"))).status_code == 200


async def test_open_streams_and_disconnect_record(emulator: Emulator) -> None:
    emulator.set_script({"models": {MODEL: {"fault": {"kind": "hang"}, "keepalive_ms": 50}}})
    async with (
        httpx.AsyncClient() as http,
        http.stream(
            "POST", emulator.base_url + "/chat/completions", json=body(stream=True)
        ) as response,
    ):
        lines = response.aiter_lines()
        assert await lines.__anext__() == ": OPENROUTER PROCESSING"
        assert emulator.open_streams == 1
    assert await emulator.until(lambda: emulator.open_streams == 0)
    record = emulator.requests[-1]
    assert record.disconnected and not record.completed and record.fault == "hang"


async def test_hold_until_released(emulator: Emulator) -> None:
    emulator.hold(MODEL)
    async with httpx.AsyncClient() as http:
        pending = asyncio.create_task(
            http.post(emulator.base_url + "/chat/completions", json=body(stream=True))
        )
        assert await emulator.until(lambda: emulator.open_streams == 1)
        other = await http.post(
            emulator.base_url + "/chat/completions", json=body("openai/gpt-5-mini")
        )
        assert other.status_code == 200  # only the held model waits
        assert not pending.done() and not emulator.requests[0].completed
        emulator.release()
        response = await asyncio.wait_for(pending, 5)
    assert response.status_code == 200 and "[DONE]" in response.text
    assert emulator.requests[0].completed


async def test_async_context_manager_and_stop_with_hanging_stream() -> None:
    script = {"models": {MODEL: {"fault": {"kind": "hang"}}}}
    async with Emulator(script) as emulator:
        assert emulator.base_url.startswith("http://127.0.0.1:")
        async with httpx.AsyncClient() as http:
            pending = asyncio.create_task(
                http.post(emulator.base_url + "/chat/completions", json=body())
            )
            assert await emulator.until(lambda: len(emulator.requests) == 1)
            await emulator.astop()  # must not wait for the hanging request
            response = await asyncio.wait_for(pending, 5)
    assert response.status_code == 503


def test_sync_start_stop_and_repr() -> None:
    emulator = Emulator()
    assert "not started" in repr(emulator)
    with emulator:
        assert httpx.get(emulator.base_url + "/models").status_code == 200
        with pytest.raises(RuntimeError):
            emulator.start()
    with pytest.raises(httpx.ConnectError):
        httpx.get(emulator.base_url + "/models")


def test_port_in_use() -> None:
    with Emulator() as first, pytest.raises(OSError):
        Emulator(port=first.port).start()


def test_script_files_and_errors(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text(
        '[models."openai/gpt-5"]\nttft_ms = 5\n'
        '[models."openai/gpt-5".fault]\nkind = "http"\nstatus = 429\ntimes = 1\n'
        "[judge]\nconfirm_min_votes = 3\n"
    )
    script = load_script(toml)
    assert script.models[MODEL].faults[0].status == 429
    assert script.judge.confirm_min_votes == 3
    as_json = tmp_path / "s.json"
    as_json.write_text(json.dumps({"models": {"*": {"findings": []}}}))
    assert load_script(as_json).for_model("x/y").findings == []
    assert isinstance(parse_script(None), EmulatorScript)
    with pytest.raises(ScriptError, match="ttft"):
        parse_script({"models": {"a/b": {"ttft": 5}}})
    with pytest.raises(ScriptError):
        parse_script({"models": {"a/b": {"fault": {"kind": "explode"}}}})
    with pytest.raises(ScriptError, match="cannot read"):
        load_script(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ScriptError, match="does not parse"):
        load_script(tmp_path / "bad.json")
