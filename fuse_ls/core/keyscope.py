"""Which endpoint gets which API key ("keys only go where the user sent them").

The OpenRouter key is the one almost every user has exported, for OpenRouter. It goes
to OpenRouter and nowhere else: not to a host a cloned repository's `.fuse-ls.toml`
names, and not to a server on this machine (Ollama, vLLM, llama.cpp, LM Studio), which
the user did not give it to either. Any other endpoint gets a key only from a variable
the user names for it in `api_key_env`. The wording that explains a withheld key lives
here too, so the error, `fuse-ls doctor` and the CLI say the same thing (and editors,
which show doctor's rows rather than decide them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from fuse_ls.core import hosts
from fuse_ls.core.types import Endpoint

OPENROUTER_KEY_ENV = "OPENROUTER_API_KEY"


def key_may_be_sent(endpoint: Endpoint) -> bool:
    """Whether the variable `endpoint.api_key_env` names may be sent to its base URL."""
    if endpoint.api_key_env != OPENROUTER_KEY_ENV:
        return True
    # Over https only: `http://openrouter.ai` would carry it in clear text past every
    # hop, and to an HTTP_PROXY as a plain header (an https call only tunnels through it).
    return hosts.is_openrouter(endpoint.base_url) and _is_https(endpoint.base_url)


def _is_https(url: str) -> bool:
    return urlsplit(url).scheme.lower() == "https"


def api_key(endpoint: Endpoint, env: Mapping[str, str] | None = None) -> str | None:
    """The key to send to this endpoint now, or None (none named, unset, or withheld)."""
    if not endpoint.api_key_env or not key_may_be_sent(endpoint):
        return None
    return (os.environ if env is None else env).get(endpoint.api_key_env) or None


def needs_key(base_url: str) -> bool:
    """OpenRouter always needs a key; local servers (Ollama, vLLM) usually need none."""
    return hosts.is_openrouter(base_url)


def unset_key(var: str, base_urls: Sequence[str]) -> tuple[str, str]:
    """How much it matters that the key variable `var`, named for these base URLs, is
    unset: (`error` | `warning` | `skipped`, what to say after the variable's name).

    OpenRouter refuses every request without a key: an error. A server elsewhere that the
    user named a variable for almost surely wants that key, but it may also take none: a
    warning, never a failure. A server on this machine usually needs none. `fuse-ls doctor`
    says this; Neovim's :checkhealth shows doctor's rows (`doctor --editor-settings`), so
    no editor keeps a copy of this rule.
    """
    if any(needs_key(url) for url in base_urls):
        return "error", f"not set: export {var}=... (OpenRouter key)."
    remote = [url for url in base_urls if not hosts.is_loopback(url)]
    if remote:
        return "warning", (
            f"not set: {origin(remote[0])} gets no key. If it needs one, export {var}=...; "
            "if it needs none, remove api_key_env."
        )
    return "skipped", "not set; a local server may not need one."


def origin(url: str) -> str:
    """`scheme://host:port` of a base URL, without any user:password in it."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def withheld_key_note(endpoint: Endpoint) -> str | None:
    """Why no key goes to this endpoint and how to send one; None when its key may go."""
    if key_may_be_sent(endpoint):
        return None
    if hosts.is_openrouter(endpoint.base_url):
        return (
            f"No key is sent to {origin(endpoint.base_url)}: the OpenRouter key "
            f"({OPENROUTER_KEY_ENV}) only goes over https. Use "
            "https://openrouter.ai/api/v1 as the base URL."
        )
    return (
        f"No key is sent to {origin(endpoint.base_url)}: the OpenRouter key "
        f"({OPENROUTER_KEY_ENV}) only goes to OpenRouter. If this server needs a key, put "
        "it in a variable of its own and name that in api_key_env "
        "(FUSE_LS_PROVIDER__API_KEY_ENV, or the pool entry's or judge's api_key_env)."
    )
