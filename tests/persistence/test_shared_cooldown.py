"""The shared limiter raises, instead of sleeping, when a 429's cooldown is longer than
the caller will wait, as the process-local one does (its other behaviour is in
tests/scale)."""

from __future__ import annotations

import asyncio
import time

import pytest
from django.test import override_settings

from aigen_app.client import RateLimitError
from aigen_app.limits import SharedRateLimiter

CACHES = {"limiter": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                      "LOCATION": "test-shared-cooldown"}}


@override_settings(CACHES=CACHES)
async def test_cooldown_longer_than_max_wait_raises_with_the_remaining_wait() -> None:
    limiter = SharedRateLimiter("limiter", key_prefix="test-long")
    limiter.cooldown("m", 90)
    async with asyncio.timeout(1):
        with pytest.raises(RateLimitError) as info:
            async with limiter.slot("m", max_wait=30):
                pass
    assert info.value.retry_after is not None and 88 <= info.value.retry_after <= 90


@override_settings(CACHES=CACHES)
async def test_cooldown_within_max_wait_is_waited_out() -> None:
    limiter = SharedRateLimiter("limiter", key_prefix="test-short")
    limiter.cooldown("m", 0.3)
    started = time.monotonic()
    async with limiter.slot("m", max_wait=30):
        pass
    assert time.monotonic() - started >= 0.2
