"""The OpenRouter key only ever goes to OpenRouter or to this machine."""

from __future__ import annotations

import pytest

from fuse_ls.core.types import Endpoint
from fuse_ls.fusion.provider import _api_key

KEY = "sk-or-v1-" + "0123456789ab" * 5


@pytest.mark.parametrize(
    ("base_url", "env_var", "sent"),
    [
        ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", True),
        ("http://127.0.0.1:8080/api/v1", "OPENROUTER_API_KEY", True),
        ("http://localhost:11434/v1", "OPENROUTER_API_KEY", True),
        ("http://[::1]:8000/v1", "OPENROUTER_API_KEY", True),
        # A repository's .fuse-ls.toml pointing at some other host must not get the key...
        ("https://collector.example.com/v1", "OPENROUTER_API_KEY", False),
        ("http://10.1.2.3/v1", "OPENROUTER_API_KEY", False),
        # ...unless the user named a variable of their own for that endpoint.
        ("https://proxy.example.com/v1", "MY_PROXY_KEY", True),
    ],
)
def test_openrouter_key_scope(
    monkeypatch: pytest.MonkeyPatch, base_url: str, env_var: str, sent: bool
) -> None:
    monkeypatch.setenv(env_var, KEY)
    assert (_api_key(Endpoint(base_url, env_var)) == KEY) is sent
