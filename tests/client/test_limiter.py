"""The process-local limiter waits for capacity instead of letting requests through."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from aigen_app.client import LocalRateLimiter, RateLimitError


async def test_in_flight_cap_holds_under_concurrency() -> None:
    limiter = LocalRateLimiter(max_in_flight=2)
    running = 0
    peak = 0

    async def work() -> None:
        nonlocal running, peak
        async with limiter.slot("m"):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(work() for _ in range(8)))
    assert peak == 2


def test_in_flight_cap_holds_across_event_loops_in_threads() -> None:
    limiter = LocalRateLimiter(max_in_flight=1)
    lock = threading.Lock()
    running = 0
    peak = 0

    async def work() -> None:
        nonlocal running, peak
        async with limiter.slot("m"):
            with lock:
                running += 1
                peak = max(peak, running)
            await asyncio.sleep(0.02)
            with lock:
                running -= 1

    threads = [threading.Thread(target=asyncio.run, args=(work(),)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak == 1


async def test_requests_per_minute_makes_the_next_request_wait() -> None:
    limiter = LocalRateLimiter(requests_per_minute=3)
    for _ in range(3):
        async with limiter.slot("m"):
            pass

    async def fourth() -> None:
        async with limiter.slot("m"):
            pass

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(fourth(), timeout=0.3)


async def test_limits_are_per_model() -> None:
    limiter = LocalRateLimiter(requests_per_minute=1)
    async with limiter.slot("a"):
        pass
    async with asyncio.timeout(2):
        async with limiter.slot("b"):
            pass


async def test_cooldown_pauses_new_requests() -> None:
    limiter = LocalRateLimiter()
    limiter.cooldown("m", 0.3)
    started = time.monotonic()
    async with limiter.slot("m"):
        pass
    assert time.monotonic() - started >= 0.25


async def test_cooldown_longer_than_max_wait_raises_instead_of_waiting() -> None:
    limiter = LocalRateLimiter()
    limiter.cooldown("m", 90)
    async with asyncio.timeout(1):
        with pytest.raises(RateLimitError) as info:
            async with limiter.slot("m", max_wait=30):
                pass
    assert info.value.retry_after is not None and 89 <= info.value.retry_after <= 90
    assert "retry after" in info.value.message
    # Other models are not paused.
    async with asyncio.timeout(1), limiter.slot("other", max_wait=30):
        pass


async def test_cooldown_within_max_wait_is_waited_out() -> None:
    limiter = LocalRateLimiter()
    limiter.cooldown("m", 0.2)
    started = time.monotonic()
    async with limiter.slot("m", max_wait=30):
        pass
    assert time.monotonic() - started >= 0.15


async def test_cancelled_waiter_does_not_leak_a_slot() -> None:
    limiter = LocalRateLimiter(max_in_flight=1)
    async with limiter.slot("m"):
        waiter = asyncio.ensure_future(limiter.slot("m").__aenter__())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    async with asyncio.timeout(2):
        async with limiter.slot("m"):
            pass


def test_invalid_limits_are_rejected() -> None:
    with pytest.raises(ValueError, match="requests_per_minute"):
        LocalRateLimiter(requests_per_minute=0)
    with pytest.raises(ValueError, match="max_in_flight"):
        LocalRateLimiter(max_in_flight=0)
