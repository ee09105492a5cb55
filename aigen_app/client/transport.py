"""Connection pools that are safe across event loops.

An ``httpx.AsyncClient`` pool is bound to the event loop that opened its connections.
Sync callers reach the client through ``asgiref.sync.async_to_sync``, which runs every
call in ``asyncio.run`` on a fresh loop; reusing one pool there ends in "Event loop is
closed". So each loop gets its own pool, and the pool is closed by the loop itself when
``asyncio.run`` shuts it down (through an async generator that the loop finalises in
``shutdown_asyncgens``), so no socket outlives its loop.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

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
