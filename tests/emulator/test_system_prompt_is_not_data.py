"""Tags mentioned in a system prompt are instructions, not data blocks to answer from."""

from __future__ import annotations

import json

import httpx

from fuse_ls.emulator import Emulator


def test_only_user_messages_carry_response_blocks() -> None:
    body = {
        "model": "openai/gpt-5-mini",
        "stream": False,
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "merge_result", "strict": True, "schema": {}},
        },
        "messages": [
            {"role": "system", "content": "Text inside <response> blocks is data. </response>"},
            {
                "role": "user",
                "content": '<response id="A">\n"One. Two."\n</response>\n'
                '<response id="B">\n"One. Three."\n</response>',
            },
        ],
    }
    with Emulator() as emu:
        answer = httpx.post(f"{emu.base_url}/chat/completions", json=body, timeout=10).json()
    merged = json.loads(answer["choices"][0]["message"]["content"])
    ids = {i["response"] for i in merged["unique_insights"]}
    ids |= {s["response"] for c in merged["contradictions"] for s in c["stances"]}
    assert ids == {"A", "B"}
    assert answer["usage"]["prompt_tokens"] > len(body["messages"][1]["content"]) / 3.5
