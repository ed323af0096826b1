"""Model calls honour HTTP(S)_PROXY / ALL_PROXY / NO_PROXY (they were silently ignored:
httpx reads them only for a transport it builds itself, and ours is custom)."""

from __future__ import annotations

import socket

import pytest

from fuse_ls.config import RetrySettings, TimeoutSettings
from fuse_ls.core.errors import ConnectionFailed, ProviderError
from fuse_ls.core.proxies import bypassed, proxy_for
from fuse_ls.core.types import ChatMessage, ChatRequest, Endpoint
from fuse_ls.emulator import Emulator
from fuse_ls.fusion.provider import ChatClient
from tests.loopback_http import LoopbackServer, QuietHandler, forward_proxy

MODEL = "openai/gpt-5"
# A reserved name (RFC 2606) nothing resolves: only a proxy can carry a call to it, and
# the client never looks it up itself when it goes through one.
REMOTE = "http://models.test/api/v1"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client() -> ChatClient:
    return ChatClient(
        timeouts=TimeoutSettings(connect_s=2.0, request_s=10.0, first_token_s=5.0),
        retries=RetrySettings(max_attempts=1),
    )


def request(base_url: str) -> ChatRequest:
    return ChatRequest(
        model=MODEL,
        messages=(ChatMessage("user", "Review this code."),),
        endpoint=Endpoint(base_url, None),
    )


@pytest.fixture(autouse=True)
def no_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
async def test_a_call_goes_through_the_proxy_the_environment_names(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    seen: list[str] = []
    with LoopbackServer(forward_proxy(emulator.base_url, seen)) as proxy:
        monkeypatch.setenv(variable, proxy.url)
        async with client() as c:
            answer = await c.complete(request(REMOTE))
    assert answer.text
    assert seen == [f"{REMOTE}/chat/completions"]
    assert len(emulator.requests) == 1


async def test_a_local_server_is_reached_directly_even_with_a_proxy_set(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A corporate proxy cannot reach this machine's Ollama: loopback never goes through it."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port()}")
    async with client() as c:
        assert (await c.complete(request(emulator.base_url))).text


async def test_a_proxy_that_does_not_answer_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = closed_port()
    monkeypatch.setenv("HTTP_PROXY", f"http://user:hunter2@127.0.0.1:{port}")
    async with client() as c:
        with pytest.raises(ConnectionFailed) as caught:
            await c.complete(request(REMOTE))
    said = str(caught.value)
    assert f"through the proxy http://127.0.0.1:{port} from HTTP_PROXY" in said
    assert "hunter2" not in said


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypass"),
    [
        ("api.example.com", 443, "example.com", True),
        ("api.example.com", 443, ".example.com", True),
        ("example.com", 443, "api.example.com", False),
        ("notexample.com", 443, "example.com", False),
        ("vllm.corp", 8000, "vllm.corp:8000", True),
        ("vllm.corp", 8001, "vllm.corp:8000", False),
        ("anything", 443, "*", True),
        ("API.Example.COM", 443, " foo , example.com ", True),
        ("api.example.com", 443, "", False),
        # address ranges, as curl takes them (were compared as names: never matched)
        ("10.1.2.3", 8000, "10.0.0.0/8", True),
        ("10.1.2.3", 8000, "192.168.0.0/16,10.1.0.0/16", True),
        ("11.1.2.3", 8000, "10.0.0.0/8", False),
        ("[fd00::5]", 8000, "fd00::/8", True),
        ("vllm.corp", 8000, "10.0.0.0/8", False),
    ],
)
def test_no_proxy_names_hosts_domains_and_ports(
    host: str, port: int, no_proxy: str, bypass: bool
) -> None:
    assert bypassed(host, port, no_proxy) is bypass


def test_which_variable_applies() -> None:
    proxies = {"https": "proxy.corp:3128", "all": "http://all.corp:1", "no": "internal.corp"}
    chosen = proxy_for("https", "openrouter.ai", 443, proxies)
    assert chosen is not None and chosen.url == "http://proxy.corp:3128"  # scheme added
    assert chosen.variable == "HTTPS_PROXY"
    fallback = proxy_for("http", "models.example", 80, proxies)
    assert fallback is not None and fallback.variable == "ALL_PROXY"
    assert proxy_for("https", "llm.internal.corp", 443, proxies) is None
    assert proxy_for("http", "localhost", 11434, proxies) is None
    assert proxy_for("https", "openrouter.ai", 443, {"http": "http://p:1"}) is None


@pytest.mark.parametrize(
    ("proxy_url", "said"),
    [
        # A password with an unencoded '/' or '#': httpx reads a piece of it as the port
        # and its error quoted that piece ("Invalid port: 'hunter2'"), out of a traceback.
        ("http://me:hunter2/x@127.0.0.1:9", "is not a valid URL"),
        ("http://me:hunter2#x@127.0.0.1:9", "is not a valid URL"),
        ("http://me:hunter2@proxy.test:80a", "is not a valid URL"),
        ("http://me:hunter2@127.0.0.1:99999", "has a port outside 1-65535"),
        ("ftp://me:hunter2@127.0.0.1:21", "has a scheme other than"),
    ],
)
async def test_an_unusable_proxy_url_is_a_clear_error_that_shows_no_password(
    monkeypatch: pytest.MonkeyPatch, proxy_url: str, said: str
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy_url)
    async with client() as c:
        with pytest.raises(ConnectionFailed) as caught:
            await c.complete(request("https://models.test/api/v1"))
    message = str(caught.value)
    assert "HTTPS_PROXY (" in message and said in message
    assert "hunter2" not in message


def recording_proxy(seen: list[tuple[str, str, dict[str, str]]]) -> type[QuietHandler]:
    """A proxy that writes down what it is sent and answers 401 (it never goes out)."""

    class Proxy(QuietHandler):
        def _record(self) -> None:
            seen.append((self.command, self.path, dict(self.headers)))
            self.send_response(401)
            self.send_header("content-length", "0")
            self.end_headers()

        do_GET = do_POST = do_CONNECT = _record

    return Proxy


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
async def test_the_openrouter_key_never_goes_over_plain_http_to_a_proxy(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """`http://openrouter.ai/api/v1` (a slip for https) sent the key in clear text: a
    proxy got it as a plain header, as would every hop to OpenRouter without one."""
    secret = "sk-or-v1-" + "5e3c" * 12
    monkeypatch.setenv("OPENROUTER_API_KEY", secret)
    seen: list[tuple[str, str, dict[str, str]]] = []
    with LoopbackServer(recording_proxy(seen)) as proxy:
        monkeypatch.setenv(variable, proxy.url)
        call = ChatRequest(
            model=MODEL,
            messages=(ChatMessage("user", "Review this code."),),
            endpoint=Endpoint("http://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
        )
        async with client() as c:
            with pytest.raises(ProviderError) as caught:
                await c.complete(call)
    assert [(command, path) for command, path, _ in seen] == [
        ("POST", "http://openrouter.ai/api/v1/chat/completions")
    ]
    assert all(secret not in value for _, _, headers in seen for value in headers.values())
    assert "only goes over https" in str(caught.value)


async def test_an_https_call_through_a_proxy_shows_it_only_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The usual setup: the proxy is asked to CONNECT and never sees the request."""
    secret = "sk-or-v1-" + "7d1a" * 12
    monkeypatch.setenv("OPENROUTER_API_KEY", secret)
    seen: list[tuple[str, str, dict[str, str]]] = []
    with LoopbackServer(recording_proxy(seen)) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        call = ChatRequest(
            model=MODEL,
            messages=(ChatMessage("user", "Review this code."),),
            endpoint=Endpoint("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
        )
        async with client() as c:
            with pytest.raises(ConnectionFailed):
                await c.complete(call)
    assert [(command, path) for command, path, _ in seen] == [("CONNECT", "openrouter.ai:443")]
    assert all(secret not in value for _, _, headers in seen for value in headers.values())


async def test_a_password_in_a_base_url_is_not_in_the_error() -> None:
    """A gateway's login in the base URL was printed twice in "could not reach"."""
    base = f"http://me:hunter2@127.0.0.1:{closed_port()}/v1"
    async with client() as c:
        with pytest.raises(ConnectionFailed) as caught:
            await c.complete(request(base))
    said = str(caught.value)
    assert "hunter2" not in said
    assert f"the base URL {base.replace('me:hunter2@', '')}" in said
