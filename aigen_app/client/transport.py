"""Connection pools that are safe across event loops, and the transport under them.

An ``httpx.AsyncClient`` pool is bound to the event loop that opened its connections.
Callers may reach the client from many loops: ``asgiref.sync.async_to_sync`` runs every
call in ``asyncio.run`` on a fresh loop, and reusing one pool there ends in "Event loop is
closed". So each loop gets its own pool, and the pool is closed by the loop itself when
``asyncio.run`` shuts it down (through an async generator that the loop finalises in
``shutdown_asyncgens``), so no socket outlives its loop. (``generate_sync`` avoids the
new loop, pool and connection per call altogether: see ``background``.)
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import threading
import weakref
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass

import aiohttp
import httpx


@dataclass
class _LoopPool:
    client: httpx.AsyncClient
    # Kept here because the loop holds its async generators only weakly.
    closer: AsyncGenerator[None, None]


async def _close_with_loop(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await client.aclose()


class LoopPools:
    """One ``httpx.AsyncClient`` per running event loop, created on first use."""

    def __init__(self, factory: Callable[[], httpx.AsyncClient]) -> None:
        self._factory = factory
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPool] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        self.opened = 0  # pools created so far (benchmarks and tests read it)

    async def get(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        with self._lock:
            pool = self._pools.get(loop)
            if pool is not None and not pool.client.is_closed:
                return pool.client
            # Forget pools of loops that were closed without shutting their generators.
            for stale in [lp for lp in self._pools if lp.is_closed()]:
                del self._pools[stale]
            client = self._factory()
            pool = _LoopPool(client, _close_with_loop(client))
            self._pools[loop] = pool
            self.opened += 1
        await pool.closer.__anext__()  # registers the generator with this loop
        return client

    async def close(self) -> None:
        """Close the pool of the running loop; pools of other loops close with them."""
        loop = asyncio.get_running_loop()
        with self._lock:
            pool = self._pools.pop(loop, None)
        if pool is not None:
            await pool.closer.aclose()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """httpx's API over aiohttp's connection pool: the client's default transport.

    Through httpx's own stack (httpcore, h11, anyio) reading a 1 MB reply costs ~3 ms of
    CPU, in up to 64 KB steps; aiohttp reads it in one piece for ~1 ms, and its pool stays
    cheap with hundreds of connections where httpcore's re-scans every connection on each
    change. The httpx API is kept: ``httpx.MockTransport`` and respx (``using="httpx"``)
    still stand in for it, and proxies from the environment still apply, since httpx
    mounts transports of its own for them.

    An instance serves the event loop it is first used on; ``LoopPools`` gives each loop
    its own. Bodies are read whole; httpx decodes any ``Content-Encoding`` itself.
    """

    def __init__(self, *, max_connections: int | None = None,
                 keepalive_expiry: float = 30.0) -> None:
        self._limit = max_connections or 0  # aiohttp's 0: no limit
        self._keepalive_expiry = keepalive_expiry
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        session = self._new_session()
        # Held for the loop until closed: a client dropped inside a reference cycle is
        # freed by the garbage collector, which would otherwise finalise the session (an
        # "Unclosed client session" warning) in the same pass that asks the loop to close
        # the pool properly.
        _open_sessions.setdefault(asyncio.get_running_loop(), set()).add(session)
        return session

    def _new_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._limit, limit_per_host=0, keepalive_timeout=self._keepalive_expiry,
            ssl=_ssl_context(),
        )
        # httpx owns cookies, redirects, proxies and decompression; aiohttp only carries
        # the bytes.
        return aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False,
            trust_env=False, timeout=aiohttp.ClientTimeout(total=None),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        status, reason, raw_headers, content = await self._exchange(
            request.method, str(request.url), request.headers.multi_items(), body,
            request.extensions.get("timeout") or {}, request,
        )
        extensions = {"http_version": b"HTTP/1.1",
                      "reason_phrase": reason.encode("ascii", "replace")}
        return httpx.Response(status, headers=raw_headers, content=content,
                              request=request, extensions=extensions)

    async def _exchange(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes,
        timeouts: Mapping[str, float | None], request: httpx.Request | None,
    ) -> tuple[int, str, Sequence[tuple[bytes, bytes]], bytes]:
        if self._session is None:
            self._session = self._open()
        timeout = _client_timeout(timeouts.get("pool"), timeouts.get("connect"),
                                  timeouts.get("read"))
        try:
            async with self._session.request(
                method, url, headers=headers, data=body or None, allow_redirects=False,
                timeout=timeout,
            ) as response:
                content = await response.read()
        except aiohttp.ClientError as exc:
            raise _httpx_error(exc, request or httpx.Request(method, url)) from exc
        return response.status, response.reason or "", response.raw_headers, content

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()
            _open_sessions.get(asyncio.get_running_loop(), set()).discard(session)


_open_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[aiohttp.ClientSession]] = (
    weakref.WeakKeyDictionary()
)


def _httpx_error(exc: aiohttp.ClientError, request: httpx.Request) -> httpx.TransportError:
    """The httpx exception httpx's own transport raises for the same failure."""
    message = str(exc) or type(exc).__name__
    error: type[httpx.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        error = httpx.ConnectTimeout
    elif isinstance(exc, aiohttp.ServerTimeoutError):
        error = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        error = httpx.ConnectError
    elif isinstance(exc, aiohttp.ClientOSError):
        error = httpx.ReadError
    elif isinstance(exc, aiohttp.InvalidURL):
        error = httpx.UnsupportedProtocol
    else:  # disconnects, truncated bodies, malformed responses
        error = httpx.RemoteProtocolError
    return error(message, request=request)


@functools.lru_cache(maxsize=16)
def _client_timeout(pool: float | None, connect: float | None,
                    read: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=None, connect=pool, sock_connect=connect,
                                 sock_read=read)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Built once per process: loading the CA bundle takes ~20 ms, and a new pool is made
    # for every event loop (each async_to_sync call runs on a fresh one).
    return httpx.create_ssl_context()
