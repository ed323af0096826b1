"""The OpenRouter key only ever goes to OpenRouter; other endpoints get a key only from a
variable the user named for them."""

from __future__ import annotations

from typing import Any

import pytest

from fuse_ls.config import RetrySettings, TimeoutSettings
from fuse_ls.core.errors import AuthError, ModerationError
from fuse_ls.core.types import ChatMessage, ChatRequest, Endpoint
from fuse_ls.emulator import Emulator
from fuse_ls.fusion.provider import ChatClient, _api_key

MODEL = "openai/gpt-5"
KEY = "sk-or-v1-" + "0123456789ab" * 5


@pytest.mark.parametrize(
    ("base_url", "env_var", "sent"),
    [
        ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", True),
        ("https://eu.openrouter.ai/api/v1", "OPENROUTER_API_KEY", True),
        # A server on this machine (Ollama, vLLM, LM Studio) was not given the OpenRouter key...
        ("http://127.0.0.1:8080/api/v1", "OPENROUTER_API_KEY", False),
        ("http://localhost:11434/v1", "OPENROUTER_API_KEY", False),
        ("http://[::1]:8000/v1", "OPENROUTER_API_KEY", False),
        # ...nor is a host a repository's .fuse-ls.toml points at...
        ("https://collector.example.com/v1", "OPENROUTER_API_KEY", False),
        ("http://10.1.2.3/v1", "OPENROUTER_API_KEY", False),
        ("https://openrouter.ai.example.com/v1", "OPENROUTER_API_KEY", False),
        # ...each gets the key of a variable the user named for it.
        ("http://127.0.0.1:8080/api/v1", "MY_VLLM_KEY", True),
        ("http://localhost:11434/v1", "MY_OLLAMA_KEY", True),
        ("https://proxy.example.com/v1", "MY_PROXY_KEY", True),
    ],
)
def test_openrouter_key_scope(
    monkeypatch: pytest.MonkeyPatch, base_url: str, env_var: str, sent: bool
) -> None:
    monkeypatch.setenv(env_var, KEY)
    assert (_api_key(Endpoint(base_url, env_var)) == KEY) is sent


def test_a_named_variable_next_to_the_openrouter_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both set: the local server gets its own key, never the OpenRouter one."""
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    monkeypatch.setenv("MY_VLLM_KEY", "vllm-local-key")
    assert _api_key(Endpoint("http://127.0.0.1:8000/v1", "MY_VLLM_KEY")) == "vllm-local-key"
    assert _api_key(Endpoint("http://127.0.0.1:8000/v1", "OPENROUTER_API_KEY")) is None


# --- what a local server that wants a key makes the user see ---------------------------


def request(emulator: Emulator, api_key_env: str) -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=(ChatMessage("user", "Review this code."),),
        endpoint=Endpoint(emulator.base_url, api_key_env),
    )


def client() -> ChatClient:
    return ChatClient(
        timeouts=TimeoutSettings(connect_s=2.0, request_s=10.0, first_token_s=5.0),
        retries=RetrySettings(max_attempts=1),
    )


@pytest.mark.parametrize("status", [401, 403])
async def test_a_withheld_key_is_named_in_the_auth_error(
    emulator_factory: Any, monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    """401 (missing key) or 403 from a local server that got no key: the error says no key
    was sent, why, and which setting sends one. A 403 here is about the key, not moderation."""
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    emulator = emulator_factory(
        {"models": {MODEL: {"fault": {"kind": "http", "status": status, "message": "no key"}}}}
    )
    async with client() as c:
        with pytest.raises(AuthError) as caught:
            await c.complete(request(emulator, "OPENROUTER_API_KEY"))
    said = str(caught.value)
    origin = emulator.base_url.removesuffix("/api/v1")
    assert f"answered {status}" in said
    assert f"No key is sent to {origin}: the OpenRouter key (OPENROUTER_API_KEY)" in said
    assert "only goes to OpenRouter" in said and "FUSE_LS_PROVIDER__API_KEY_ENV" in said
    assert KEY not in said
    assert "authorization" not in emulator.requests[-1].headers


async def test_a_named_key_reaches_the_local_server(
    emulator_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", KEY)
    monkeypatch.setenv("FUSE_TEST_LOCAL_KEY", "local-key")
    emulator = emulator_factory(require_key="local-key")
    async with client() as c:
        assert (await c.complete(request(emulator, "FUSE_TEST_LOCAL_KEY"))).text
        assert emulator.requests[-1].headers["authorization"] == "[redacted]"
        # A 403 from a server that did get a key keeps its usual meaning.
        emulator.set_script(
            {"models": {MODEL: {"fault": {"kind": "http", "status": 403, "message": "flagged"}}}}
        )
        with pytest.raises(ModerationError):
            await c.complete(request(emulator, "FUSE_TEST_LOCAL_KEY"))
