"""The connection pools every model call goes through, and the proxy it may need."""

from __future__ import annotations

import itertools
from typing import Any

import httpx


class ShardedTransport(httpx.AsyncBaseTransport):
    """Several connection pools behind one transport, requests spread round-robin.

    httpcore's pool scans every connection for every queued request, which turns
    quadratic with ~1000 concurrent streams; a handful of smaller pools keeps the same
    keep-alive reuse at a fraction of the cost. One TLS context serves every shard.

    The pools are made on the first request: the TLS context (the CA bundle), httpcore
    and anyio cost ~80 ms, and a change review whose units all come from the cache
    never sends one. The proxy variables are read then too (`core.proxies`): a call
    a proxy must carry goes through one pool per proxy instead of the shards.
    """

    def __init__(
        self,
        shards: int = 8,
        *,
        max_keepalive_connections: int = 2000,
        keepalive_expiry: float = 30.0,
    ) -> None:
        # Fusions fan out to several models at once and benchmarks run ~1000 streams:
        # no cap on connections, and keep enough idle ones to avoid reconnect storms.
        self._limits = httpx.Limits(
            max_connections=None,
            max_keepalive_connections=max(max_keepalive_connections // shards, 1),
            keepalive_expiry=keepalive_expiry,
        )
        self._count = shards
        self._shards: list[httpx.AsyncHTTPTransport] = []
        self._turn = itertools.count()
        self._tls: Any = None
        self._proxies: dict[str, str] = {}
        self._proxied: dict[str, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self._shards:  # no await before this: one request makes them
            from fuse_ls.core.proxies import environment_proxies

            self._tls = httpx.create_ssl_context()
            self._proxies = environment_proxies()
            self._shards = [
                httpx.AsyncHTTPTransport(verify=self._tls, limits=self._limits)
                for _ in range(self._count)
            ]
        if self._proxies:
            return await self._through_proxy(request)
        shard = self._shards[next(self._turn) % len(self._shards)]
        return await shard.handle_async_request(request)

    async def _through_proxy(self, request: httpx.Request) -> httpx.Response:
        from fuse_ls.core.proxies import proxy_for, unusable

        url = request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        proxy = proxy_for(url.scheme, url.host, port, self._proxies)
        if proxy is None:
            shard = self._shards[next(self._turn) % len(self._shards)]
            return await shard.handle_async_request(request)
        transport = self._proxied.get(proxy.url)
        if transport is None:
            problem = unusable(proxy.url)
            if problem is not None:
                raise httpx.ProxyError(f"{proxy.variable} ({proxy.shown}) {problem}")
            try:
                transport = httpx.AsyncHTTPTransport(
                    verify=self._tls, limits=self._limits, proxy=proxy.url
                )
            except ImportError as exc:  # socks without socksio
                raise httpx.ProxyError(f"{proxy.variable} ({proxy.shown}): {exc}") from None
            self._proxied[proxy.url] = transport
        try:
            return await transport.handle_async_request(request)
        except httpx.TransportError as exc:
            # The user sees "could not reach <server>": say the proxy stood in between.
            raise type(exc)(
                f"{exc or type(exc).__name__}; through the proxy {proxy.shown} from "
                f"{proxy.variable}",
                request=request,
            ) from None

    async def aclose(self) -> None:
        for transport in [*self._shards, *self._proxied.values()]:
            await transport.aclose()
