"""Proactive client-side rate limiting: wait for capacity instead of provoking 429s.

``RateLimiter`` is the interface the client calls; ``LocalRateLimiter`` limits one
process. A shared implementation (across processes, through Django's cache) can replace
it by providing the same two methods.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from pyrate_limiter import Duration, Limiter, Rate

from .errors import RateLimitError

# The server counts a request from when it arrives, we from when we send it; a first
# request that was slow to arrive (a new connection) leaves the server's window later
# than ours, so our window is kept a little longer than the server's minute.
WINDOW_MARGIN_MS = 1000


class RateLimiter(Protocol):
    """What the client needs from a limiter."""

    def slot(self, model: str, *,
             max_wait: float | None = None) -> AbstractAsyncContextManager[None]:
        """Wait until one request to ``model`` may start; hold the slot while it runs.

        A cooldown that would keep the request waiting longer than ``max_wait`` seconds
        is not waited out: ``cooling_down(model, remaining)`` is raised at once instead.
        """
        ...

    def cooldown(self, model: str, seconds: float) -> None:
        """The server asked for a pause: start no request to ``model`` for ``seconds``."""
        ...


def cooling_down(model: str, remaining: float) -> RateLimitError:
    """The error for a request that a cooldown would hold past the wait its caller allows:
    the caller reschedules it after ``retry_after``, as after the 429 that began it."""
    return RateLimitError(
        remaining, f"Rate limited: {model} is paused after a 429; retry after {remaining:.1f}s")


class _InFlight:
    """A counting semaphore usable from any thread and any event loop.

    ``asyncio.Semaphore`` binds itself to one loop; calls arriving through
    ``async_to_sync`` each run on a different loop (and often several at once), so the
    waiters here are futures of their own loops, woken thread-safely.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                if self._used < self._limit:
                    self._used += 1
                    return
                future: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, future))
            try:
                await future
            except asyncio.CancelledError:
                with self._lock:
                    if (loop, future) in self._waiters:
                        self._waiters.remove((loop, future))
                raise

    def release(self) -> None:
        with self._lock:
            self._used -= 1
            while self._waiters:
                loop, future = self._waiters.pop(0)
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_wake, future)
                    break

    @property
    def in_use(self) -> int:
        return self._used


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class LocalRateLimiter:
    """Requests per minute (a sliding window, per model) and requests in flight, for one
    process. The window is pyrate-limiter's, which is thread-safe and loop-aware."""

    def __init__(self, requests_per_minute: int | None = None,
                 max_in_flight: int | None = None) -> None:
        if requests_per_minute is not None and requests_per_minute < 1:
            raise ValueError("requests_per_minute must be a positive integer or None")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("max_in_flight must be a positive integer or None")
        self.requests_per_minute = requests_per_minute
        self.max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self._windows: dict[str, Limiter] = {}
        self._in_flight: dict[str, _InFlight] = {}
        self._resume_at: dict[str, float] = {}

    def cooldown(self, model: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + max(0.0, seconds)
            self._resume_at[model] = max(self._resume_at.get(model, 0.0), until)

    @asynccontextmanager
    async def slot(self, model: str, *, max_wait: float | None = None) -> AsyncIterator[None]:
        await self._wait_cooldown(model, max_wait)
        in_flight = self._in_flight_for(model)
        if in_flight is not None:
            await in_flight.acquire()
        try:
            window = self._window_for(model)
            if window is not None:
                await window.try_acquire_async(model)
            yield
        finally:
            if in_flight is not None:
                in_flight.release()

    async def _wait_cooldown(self, model: str, max_wait: float | None) -> None:
        while True:
            with self._lock:
                remaining = self._resume_at.get(model, 0.0) - time.monotonic()
            if remaining <= 0:
                return
            if max_wait is not None and remaining > max_wait:
                raise cooling_down(model, remaining)
            await asyncio.sleep(remaining)

    def _window_for(self, model: str) -> Limiter | None:
        if self.requests_per_minute is None:
            return None
        with self._lock:
            if model not in self._windows:
                self._windows[model] = Limiter(
                    Rate(self.requests_per_minute, int(Duration.MINUTE) + WINDOW_MARGIN_MS)
                )
            return self._windows[model]

    def _in_flight_for(self, model: str) -> _InFlight | None:
        if self.max_in_flight is None:
            return None
        with self._lock:
            return self._in_flight.setdefault(model, _InFlight(self.max_in_flight))
