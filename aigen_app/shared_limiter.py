"""A rate limiter shared by every process that uses the same Django cache.

The client's ``LocalRateLimiter`` limits one process; a site with several workers on
several machines shares one API quota, so they must share the limiter too. With
``AIGEN["LIMITER_CACHE"]`` naming a Redis (or Memcached) alias of ``settings.CACHES``,
``SharedRateLimiter`` keeps its state there, using only the cache API's atomic
``add`` (set-if-absent) for anything two processes may race for:

- **Requests per minute**: time is cut into cells of ``61 / N`` seconds. A request claims
  one cell with ``add`` (never more than a minute ahead, and only if the claim lands
  before the cell ends) and starts within it, no sooner than a minute after the start
  ``N`` cells before. So no minute holds more than ``N`` starts (up to the machines'
  clock skew, so run NTP), and starts come about ``61 / N`` seconds apart, which also
  keeps clear of quotas enforced over shorter windows. The "minute" is 61 s: a second
  of margin for requests that reach the server later than they started.
- **Requests in flight**: ``M`` numbered slots, each claimed with ``add`` under a lease
  that outlives any attempt (the client never holds a slot longer than its per-attempt
  timeout), so a slot of a killed process frees itself.
- **Cooldown**: a 429 that names a delay pauses the model for every process, until the
  latest such delay has passed.

When the cache cannot be reached, a request is limited by this process alone (a
``LocalRateLimiter`` with the same limits) instead of failing, and a warning is logged
on ``aigen.limiter`` at most once a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from django.core.cache import BaseCache, caches

from .client import LocalRateLimiter, RateLimitError
from .client.limiter import cooling_down

__all__ = ["SharedRateLimiter"]

logger = logging.getLogger("aigen.limiter")

WINDOW = 60.0
# The server counts a request from when it arrives, we from when we start it: a request
# that reached it late must not push one a minute later into a 429. So the limiter
# schedules over a minute this much longer (N per 61 s: 1.6% of the quota).
TRANSIT_MARGIN = 1.0
# How often a request waiting for an in-flight slot looks again (seconds, jittered).
POLL_MIN, POLL_MAX = 0.02, 0.25
# At most one warning this often while the cache is unreachable (seconds).
DEGRADED_WARNING_INTERVAL = 60.0


class SharedRateLimiter:
    """Per-model requests per minute, requests in flight and 429 cooldowns, kept in the
    cache ``alias`` (``django.core.cache.caches[alias]``, looked up at each use).

    ``lease``: seconds an in-flight slot stays taken if its holder dies without
    releasing it; it must exceed the longest attempt (the client's ``timeout``).
    """

    def __init__(self, alias: str, *, requests_per_minute: int | None = None,
                 max_in_flight: int | None = None, lease: float = 300.0,
                 key_prefix: str = "aigen:limiter") -> None:
        if requests_per_minute is not None and requests_per_minute < 1:
            raise ValueError("requests_per_minute must be a positive integer or None")
        if max_in_flight is not None and max_in_flight < 1:
            raise ValueError("max_in_flight must be a positive integer or None")
        if lease <= 0:
            raise ValueError("lease must be a positive number of seconds")
        self.alias = alias
        self.requests_per_minute = requests_per_minute
        self.max_in_flight = max_in_flight
        self.lease = lease
        self.key_prefix = key_prefix
        # Used while the cache cannot be reached: this process's share of the limits
        # is unknown then, so it gets the whole of them.
        self._fallback = LocalRateLimiter(requests_per_minute, max_in_flight)
        self._warned_at = -math.inf

    @property
    def cache(self) -> BaseCache:
        return caches[self.alias]

    def _key(self, model: str, *parts: object) -> str:
        return ":".join((self.key_prefix, model, *map(str, parts)))

    # -- the RateLimiter protocol ------------------------------------------------------

    def cooldown(self, model: str, seconds: float) -> None:
        """Start no request to ``model`` anywhere for ``seconds``. A shorter delay never
        cuts short a longer one already in force (bar a race between two 429s that
        arrive together, whose delays are then nearly equal anyway)."""
        if seconds <= 0:
            return
        self._fallback.cooldown(model, seconds)
        key = self._key(model, "resume_at")
        resume_at = time.time() + seconds
        try:
            current = self.cache.get(key)
            if isinstance(current, float) and current >= resume_at:
                return
            self.cache.set(key, resume_at, timeout=math.ceil(seconds) + 1)
        except Exception as exc:  # the local pause still holds
            self._degraded(exc)

    @asynccontextmanager
    async def slot(self, model: str, *, max_wait: float | None = None) -> AsyncIterator[None]:
        try:
            held = await self._enter(model, max_wait)
        except RateLimitError:  # a cooldown longer than max_wait: the caller reschedules
            raise
        except Exception as exc:  # whatever the cache backend raises
            # The cache is unreachable: limit this process on its own rather than fail
            # the generation (the API's 429s, which the client honours, cover the rest).
            self._degraded(exc)
            held, shared = None, False
        else:
            shared = True
        if not shared:
            async with self._fallback.slot(model, max_wait=max_wait):
                yield
            return
        try:
            yield
        finally:
            if held is not None:
                try:
                    await self._release_in_flight(*held)
                except Exception as exc:  # the lease frees the slot
                    self._degraded(exc)

    async def _enter(self, model: str, max_wait: float | None) -> tuple[str, str] | None:
        """Wait out a cooldown (or raise if it is longer than ``max_wait``), then take an
        in-flight slot and a turn; returns the slot to release."""
        await self._wait_cooldown(model, max_wait)
        held = await self._acquire_in_flight(model) if self.max_in_flight else None
        try:
            if self.requests_per_minute:
                await self._wait_turn(model, self.requests_per_minute)
        except BaseException:
            if held is not None:
                with contextlib.suppress(Exception):
                    await self._release_in_flight(*held)
            raise
        return held

    def _degraded(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= DEGRADED_WARNING_INTERVAL:
            self._warned_at = now
            logger.warning(
                "the shared limiter's cache %r failed (%s: %s); limiting this process "
                "on its own until it answers again", self.alias, type(exc).__name__, exc)

    # -- cooldown ------------------------------------------------------------------

    async def _wait_cooldown(self, model: str, max_wait: float | None) -> None:
        key = self._key(model, "resume_at")
        while True:
            resume_at = await self.cache.aget(key)
            remaining = resume_at - time.time() if isinstance(resume_at, float) else 0.0
            if remaining <= 0:
                return
            if max_wait is not None and remaining > max_wait:
                raise cooling_down(model, remaining)
            # Look again afterwards: another 429 may have extended the pause meanwhile.
            await asyncio.sleep(remaining)

    # -- requests in flight ----------------------------------------------------------

    async def _acquire_in_flight(self, model: str) -> tuple[str, str]:
        assert self.max_in_flight is not None  # noqa: S101 - checked by the caller
        token = uuid.uuid4().hex
        delay = POLL_MIN
        while True:
            for index in random.sample(range(self.max_in_flight), self.max_in_flight):
                key = self._key(model, "in_flight", index)
                if await self.cache.aadd(key, token, timeout=self.lease):
                    return key, token
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
            delay = min(POLL_MAX, delay * 2)

    async def _release_in_flight(self, key: str, token: str) -> None:
        # Only our own claim: after an (impossible in practice) expired lease the slot
        # may belong to someone else.
        if await self.cache.aget(key) == token:
            await self.cache.adelete(key)

    # -- requests per minute ---------------------------------------------------------

    async def _wait_turn(self, model: str, per_minute: int) -> None:
        interval = (WINDOW + TRANSIT_MARGIN) / per_minute
        start, cell = await self._claim_cell(model, per_minute, interval)
        try:
            # The hint is written while the turn comes, so the start is not delayed.
            await asyncio.gather(
                self.cache.aset(self._key(model, "next_cell"), cell + 1, timeout=_ttl(interval)),
                asyncio.sleep(max(0.0, start - time.time())),
            )
        except asyncio.CancelledError:
            # Give the unused turn back so the schedule keeps no hole (quick calls, made
            # synchronously because this task is being cancelled). A hint that is too
            # low only costs the next claim an extra probe.
            with contextlib.suppress(Exception):  # the cancellation must go on
                self.cache.delete(self._key(model, "cell", cell))
                self.cache.set(self._key(model, "next_cell"), cell, timeout=_ttl(interval))
            raise

    async def _claim_cell(self, model: str, per_minute: int,
                          interval: float) -> tuple[float, int]:
        """Claim the first free cell from now on; returns (start time, cell)."""
        ttl = _ttl(interval)
        while True:
            first = math.floor(time.time() / interval)
            hint = await self.cache.aget(self._key(model, "next_cell"))
            cell = max(first, hint if isinstance(hint, int) else first)
            # Never claim a window ahead: a cell that far out could be claimed before the
            # cell per_minute earlier, whose start it must stay a minute behind.
            while cell < first + per_minute:
                previous_key = self._key(model, "cell", cell - 1)
                earlier_key = self._key(model, "cell", cell - per_minute)
                found = await self.cache.aget_many([previous_key, earlier_key])
                previous, earlier = found.get(previous_key), found.get(earlier_key)
                # Within the cell: a minute after the start per_minute cells back and
                # (when that claim is already visible) an interval after the one before.
                now = time.time()
                start = max(now, cell * interval,
                            previous + interval if isinstance(previous, float) else 0.0,
                            earlier + per_minute * interval
                            if isinstance(earlier, float) else 0.0)
                key = self._key(model, "cell", cell)
                if await self.cache.aadd(key, start, timeout=ttl):
                    if time.time() < (cell + 1) * interval:
                        return start, cell
                    # The claim landed after its cell ended: whoever claims the cell a
                    # minute on may have looked for it already and missed it. Drop it.
                    await self.cache.adelete(key)
                cell += 1
            # A full minute is already booked: wait for the schedule to move on.
            await asyncio.sleep(max(interval, (cell - per_minute + 1) * interval - time.time()))


def _ttl(interval: float) -> int:
    """Seconds a cell is kept: it must outlive the claims of the cells up to a minute
    after it, which are made at most a minute before those cells begin."""
    return math.ceil(2 * (WINDOW + TRANSIT_MARGIN) + interval) + 1
