"""Which proxy, if any, a request goes through: the standard environment variables.

One rule for every outgoing request: model calls (`fusion.transport`) and `fuse-ls
upload` (`telemetry.upload`).

httpx reads `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` only when it builds
its own transport; ours (`transport.ShardedTransport`) is custom, so the variables are
honoured here, with the meaning curl and pip give them (the lower-case spelling wins,
`NO_PROXY` lists hosts or domain suffixes, `*` bypasses everything).

One difference on purpose: a server on this machine (Ollama, vLLM, LM Studio) is always
reached directly. A corporate proxy cannot reach the user's loopback interface, and
forgetting `NO_PROXY=localhost` would otherwise break every local model.
"""

from __future__ import annotations

import ipaddress
import urllib.request

import httpx
from attrs import frozen

from fuse_ls.core import hosts


@frozen
class Proxy:
    url: str
    variable: str  # the environment variable it came from, for error messages

    @property
    def shown(self) -> str:
        """The proxy's address without any user:password in it."""
        scheme, _, rest = self.url.partition("://")
        host = rest.rpartition("@")[2].split("/", 1)[0]
        return f"{scheme}://{host}" if rest else self.url


def environment_proxies() -> dict[str, str]:
    """scheme (`http`, `https`, `all`, `no`) -> value, as the environment sets them now."""
    return urllib.request.getproxies_environment()


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether `NO_PROXY` names this host: `*`, the host itself, a domain it is under
    (`example.com` and `.example.com` both cover `api.example.com`), `host:port`, or an
    address range the host's IP address is in (`10.0.0.0/8`)."""
    host = host.strip("[]").lower()
    for entry in no_proxy.lower().split(","):
        entry = entry.strip().lstrip(".")
        if entry == "*":
            return True
        if not entry:
            continue
        if "/" in entry:  # an address range, as curl takes it: `10.0.0.0/8`, `fd00::/8`
            if _in_network(host, entry):
                return True
            continue
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and (not entry_port.isdigit() or int(entry_port) != port):
            continue
        if host == name or host.endswith("." + name):
            return True
    return False


def _in_network(host: str, network: str) -> bool:
    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(network, strict=False)
    except ValueError:  # a host name, or not a range
        return False


def proxy_for(scheme: str, host: str, port: int, proxies: dict[str, str]) -> Proxy | None:
    """The proxy for a request to `scheme://host:port`, or None to connect directly."""
    if hosts.is_loopback_host(host):
        return None
    chosen = next(((s, proxies[s]) for s in (scheme, "all") if proxies.get(s)), None)
    if chosen is None:
        return None
    if bypassed(host, port, proxies.get("no", "")):
        return None
    name, url = chosen
    if "://" not in url:  # `HTTPS_PROXY=proxy:3128` means http://proxy:3128, as in curl
        url = f"http://{url}"
    return Proxy(url, f"{name}_proxy".upper())


_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def unusable(url: str) -> str | None:
    """What makes `url` unusable as a proxy, or None. The words quote none of the URL:
    httpx's own message for a password holding `/` or `#` quotes a piece of it as the
    "port" (`http://me:pa/ss@proxy` reads as host `me`, port `pa`)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return (
            "is not a valid URL (a '/', '#', '?' or '@' in its user name or password "
            "must be percent-encoded)"
        )
    if parsed.scheme not in _PROXY_SCHEMES:
        return f"has a scheme other than {', '.join(_PROXY_SCHEMES)}"
    if not parsed.host:
        return "names no host"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return "has a port outside 1-65535"
    return None
