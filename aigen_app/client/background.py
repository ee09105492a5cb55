"""One event loop in a daemon thread, for callers that block: ``generate_sync``.

``asgiref.sync.async_to_sync`` runs every call on a new event loop, so every call made
that way opened a new connection pool and a new TCP (and TLS) connection, and closed it
again. Calls made through here all run on this one loop, where each client keeps one pool,
so a worker thread reuses its connection from one generation to the next.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_SHUTDOWN_TIMEOUT = 5.0


class BackgroundLoop:
    """Runs coroutines for synchronous callers on a loop of its own, started on first
    use (and again in a forked child, which does not inherit the thread)."""

    def __init__(self, name: str = "aigen-client") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` to its end and return its result (or raise its error)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coroutine.close()
            raise RuntimeError(
                "generate_sync() blocks its thread: await generate() from async code"
            )
        future = asyncio.run_coroutine_threadsafe(coroutine, self._get_loop())
        try:
            return future.result()
        finally:
            # Only still running when this thread was interrupted (KeyboardInterrupt).
            future.cancel()

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=_serve, args=(loop,), name=self._name,
                                 daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
                atexit.register(self._stop, loop)
            return self._loop

    def _stop(self, loop: asyncio.AbstractEventLoop) -> None:
        """At exit: close the pools living on the loop (their closers are its async
        generators), then stop it."""
        if self._pid != os.getpid() or loop.is_closed():
            return
        shutdown = asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop)
        try:
            with contextlib.suppress(TimeoutError):
                shutdown.result(_SHUTDOWN_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()


background_loop = BackgroundLoop()
