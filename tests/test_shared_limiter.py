"""The shared limiter: one API quota for every process using the same cache.

In-process tests, on LocMem and (with REDIS_URL) on Redis; the tests with several
processes are in ``tests/workers/test_shared_limiter_processes.py``.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from aigen_app import shared_limiter
from aigen_app.checks import check_aigen_settings
from aigen_app.client import GenerationRequest, LocalRateLimiter, RateLimitError
from aigen_app.client_factory import build_client, build_limiter
from aigen_app.emulator import EmulatorServer
from aigen_app.shared_limiter import SharedRateLimiter
from tests.support import TEST_API_KEY
from tests.support.plans import (
    EPS,
    MODEL,
    assert_paced,
    peak_overlap,
    plans_of,
    take_slots,
)
from tests.support.processes import redis_caches


@pytest.fixture(params=["locmem", "redis"])
def limiter_alias(request: pytest.FixtureRequest) -> Iterator[str]:
    """A ``limiter`` cache alias on LocMem, or on Redis when REDIS_URL is set."""
    if request.param == "redis":
        caches = redis_caches(request.getfixturevalue("redis_url"))
    else:
        caches = {**settings.CACHES, "limiter": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": uuid.uuid4().hex}}
    with override_settings(CACHES=caches):
        yield "limiter"


# -- configuration ---------------------------------------------------------------------


def test_the_process_local_limiter_stays_the_default() -> None:
    with override_settings(AIGEN={"API_KEY": TEST_API_KEY}):
        assert build_limiter() is None
    with override_settings(AIGEN={"API_KEY": TEST_API_KEY, "REQUESTS_PER_MINUTE": 30}):
        assert isinstance(build_limiter(), LocalRateLimiter)


def test_naming_a_cache_shares_the_limits_and_cooldowns(limiter_alias: str) -> None:
    with override_settings(AIGEN={"API_KEY": TEST_API_KEY, "LIMITER_CACHE": limiter_alias,
                                  "REQUESTS_PER_MINUTE": 290, "MAX_IN_FLIGHT": 8,
                                  "TIMEOUT": 20}):
        limiter = build_client().limiter
    assert isinstance(limiter, SharedRateLimiter)
    assert (limiter.alias, limiter.requests_per_minute, limiter.max_in_flight) == (
        limiter_alias, 290, 8)
    # A slot is never held longer than one attempt: the lease outlives it.
    assert limiter.lease > 20
    # Cooldowns are shared even when no limit is set.
    with override_settings(AIGEN={"API_KEY": TEST_API_KEY, "LIMITER_CACHE": limiter_alias}):
        assert isinstance(build_limiter(), SharedRateLimiter)


def test_an_unknown_cache_alias_names_the_setting() -> None:
    with (override_settings(AIGEN={"API_KEY": TEST_API_KEY, "LIMITER_CACHE": "nowhere"}),
          pytest.raises(ImproperlyConfigured, match=r"AIGEN\['LIMITER_CACHE'\].*'nowhere'")):
        build_client()


@pytest.mark.parametrize(("backend", "expected"), [
    (None, ["aigen.E005"]),
    ("django.core.cache.backends.dummy.DummyCache", ["aigen.E006"]),
    ("django.core.cache.backends.locmem.LocMemCache", ["aigen.W002"]),
    ("django.core.cache.backends.redis.RedisCache", []),
])
def test_system_checks_name_a_limiter_cache_that_cannot_be_shared(
    backend: str | None, expected: list[str]
) -> None:
    caches = {**settings.CACHES}
    if backend is not None:
        caches["limiter"] = {"BACKEND": backend, "LOCATION": "redis://127.0.0.1:6379/0"}
    with override_settings(CACHES=caches, AIGEN={"API_KEY": TEST_API_KEY,
                                                 "LIMITER_CACHE": "limiter"}):
        ids = [message.id for message in check_aigen_settings()]
    assert [i for i in ids if i in ("aigen.E005", "aigen.E006", "aigen.W002")] == expected


@pytest.mark.parametrize("kwargs", [{"requests_per_minute": 0}, {"max_in_flight": 0},
                                    {"lease": 0}])
def test_nonsense_limits_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be a positive"):
        SharedRateLimiter("default", **kwargs)


# -- behaviour in one process ------------------------------------------------------------


async def test_requests_per_minute_spaces_starts_evenly(limiter_alias: str) -> None:
    limiter = SharedRateLimiter(limiter_alias, requests_per_minute=600)  # one per 0.1 s
    assert_paced(await take_slots(limiter, 10), 61 / 600)


async def test_no_window_ever_holds_more_than_the_limit(
    limiter_alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A one-second "minute" keeps the test short: 4 per window, cells of 0.25 s. The
    # first start falls late in its cell, so the fifth must wait for the first to leave
    # the window, not merely for its own cell.
    monkeypatch.setattr(shared_limiter, "WINDOW", 1.0)
    monkeypatch.setattr(shared_limiter, "TRANSIT_MARGIN", 0.0)
    limiter = SharedRateLimiter(limiter_alias, requests_per_minute=4)
    now = time.time()
    await asyncio.sleep(0.25 - now % 0.25 + 0.2)  # 0.2 s into a cell
    starts = plans_of(await take_slots(limiter, 1) + await take_slots(limiter, 5))
    for first, fifth in zip(starts, starts[4:], strict=False):
        assert fifth - first >= 1.0 - EPS, starts


async def test_max_in_flight_holds_across_limiter_objects(limiter_alias: str) -> None:
    # Two objects share nothing but the cache, like two processes.
    first, second = (SharedRateLimiter(limiter_alias, max_in_flight=2) for _ in range(2))
    spans = [span for group in await asyncio.gather(
        take_slots(first, 3, hold=0.15), take_slots(second, 3, hold=0.15)) for span in group]
    assert peak_overlap(spans) == 2


async def test_a_cooldown_pauses_every_limiter_on_the_cache(limiter_alias: str) -> None:
    worker_a, worker_b = (SharedRateLimiter(limiter_alias) for _ in range(2))
    worker_a.cooldown(MODEL, 1.0)
    worker_a.cooldown(MODEL, 0.1)  # a shorter delay does not cut the pause short
    started = time.time()
    # Per model: another model starts while the pause is on.
    [other_model] = await take_slots(worker_b, 1, model="gemini-3-pro-image")
    assert other_model.started - started < 0.7
    [paused] = await take_slots(worker_b, 1)
    assert paused.started - started >= 1.0 - EPS


async def test_a_cooldown_longer_than_max_wait_raises_with_the_remaining_wait(
    limiter_alias: str,
) -> None:
    limiter = SharedRateLimiter(limiter_alias)
    limiter.cooldown(MODEL, 90)
    async with asyncio.timeout(1):
        with pytest.raises(RateLimitError) as info:
            async with limiter.slot(MODEL, max_wait=30):
                pass
    assert info.value.retry_after is not None and 88 <= info.value.retry_after <= 90
    # Within max_wait, the pause is waited out.
    limiter.cooldown("gemini-3-pro-image", 0.3)
    started = time.monotonic()
    async with limiter.slot("gemini-3-pro-image", max_wait=30):
        pass
    assert time.monotonic() - started >= 0.2


async def test_a_cancelled_wait_gives_its_turn_back(limiter_alias: str) -> None:
    limiter = SharedRateLimiter(limiter_alias, requests_per_minute=60)  # one per second
    [first] = await take_slots(limiter, 1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await take_slots(limiter, 1)  # waits for the next cell, then gives up
    [after] = await take_slots(limiter, 1)
    # It got the turn the cancelled request gave back (the next cell), not the one after.
    assert first.cell is not None
    assert after.cell == first.cell + 1


@pytest.fixture
def unreachable_alias() -> Iterator[str]:
    """A ``limiter`` cache on a Redis that is not there (connections are refused)."""
    with socket.socket() as sock:  # a free port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    caches = {**settings.CACHES, "limiter": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{port}/0",
        "OPTIONS": {"socket_connect_timeout": 1}}}
    with override_settings(CACHES=caches):
        yield "limiter"


async def test_an_unreachable_cache_limits_the_process_on_its_own(
    unreachable_alias: str, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = SharedRateLimiter(unreachable_alias, requests_per_minute=600, max_in_flight=2)
    with caplog.at_level(logging.WARNING, logger="aigen.limiter"):
        spans = await take_slots(limiter, 6, hold=0.1)
        limiter.cooldown(MODEL, 0.5)  # does not raise, and pauses this process
        started = time.time()
        [paused] = await take_slots(limiter, 1)

    # Every request went ahead, within this process's own limits, instead of failing.
    assert len(spans) == 6 and peak_overlap(spans) == 2
    assert paused.started - started >= 0.5 - EPS
    warnings = [r for r in caplog.records if r.name == "aigen.limiter"]
    assert len(warnings) == 1  # once a minute at most, not once a request
    assert "limiting this process on its own" in warnings[0].getMessage()


def test_a_generation_goes_ahead_when_the_limiter_cache_is_down(
    unreachable_alias: str, emulator: EmulatorServer
) -> None:
    with override_settings(AIGEN={"API_KEY": TEST_API_KEY, "BASE_URL": emulator.base_url,
                                  "LIMITER_CACHE": unreachable_alias,
                                  "REQUESTS_PER_MINUTE": 60, "MAX_IN_FLIGHT": 4}):
        client = build_client()

    async def generate() -> bytes:
        async with client:
            request = GenerationRequest(prompt="A lighthouse", width=1024, height=1024)
            return (await client.generate(request)).image_data

    assert asyncio.run(generate())
    assert [entry.outcome for entry in emulator.requests()] == ["ok"]
