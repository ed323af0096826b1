"""What a base URL points at, decided in one place."""

from __future__ import annotations

import argparse
import ipaddress
from urllib.parse import urlsplit, urlunsplit


def hostname(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def is_openrouter(url: str) -> bool:
    """openrouter.ai or one of its subdomains (never `openrouter.ai.example.com`)."""
    host = hostname(url)
    return host == "openrouter.ai" or host.endswith(".openrouter.ai")


def is_loopback(url: str) -> bool:
    """This machine: `localhost` or a loopback address (127.0.0.0/8, ::1)."""
    return is_loopback_host(hostname(url))


def is_loopback_host(host: str) -> bool:
    """`localhost` (and its subdomains, RFC 6761) or a loopback address."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shown(url: str) -> str:
    """`url` as messages show it: without any `user:password@` (a base URL may carry a
    gateway's password; errors, doctor and :checkhealth rows must not print it)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rpartition("@")[2]
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def port_argument(text: str) -> int:
    """An argparse type for a port to listen on: 0-65535 (beyond, the bind raised an
    OverflowError traceback)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text}")
    return value
