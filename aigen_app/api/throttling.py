"""Throttling of the requests that cost money or storage."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from django.core.cache.backends.locmem import LocMemCache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from ..conf import aigen_settings

logger = logging.getLogger("aigen.api")

# Counts requests while the shared cache cannot be reached: each process then limits
# its own requests with the same rate, instead of answering 500.
_PROCESS_CACHE = LocMemCache("aigen-create-throttle", {})
# At most one warning this often while the cache is unreachable (seconds).
DEGRADED_WARNING_INTERVAL = 60.0
_warned_at = -math.inf


class CreateRateThrottle(ScopedRateThrottle):
    """Per user (per IP when anonymous) across every creating action of the API.

    The rate is the host project's ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    ["aigen_create"]`` when set, else ``AIGEN["API_CREATE_RATE"]``: a project that sets
    no rates still gets a working throttle instead of ``ImproperlyConfigured``.

    When the cache (Redis) fails, the request is counted in this process alone, and a
    warning is logged on ``aigen.api`` at most once a minute: creating must not stop
    because the throttle's bookkeeping is unreachable.
    """

    scope = "aigen_create"

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return SimpleRateThrottle.allow_request(self, request, view)
        except Exception as exc:  # whatever the cache backend raises
            _degraded(exc)
            self.cache = _PROCESS_CACHE
            return SimpleRateThrottle.allow_request(self, request, view)

    def get_rate(self) -> str | None:
        """Read at request time, so ``override_settings`` and late configuration work."""
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES or {}
        rate = rates.get(self.scope, aigen_settings.API_CREATE_RATE)
        return None if rate is None else str(rate)


def _degraded(exc: Exception) -> None:
    global _warned_at
    now = time.monotonic()
    if now - _warned_at >= DEGRADED_WARNING_INTERVAL:
        _warned_at = now
        logger.warning("the create throttle's cache failed (%s: %s); counting requests per "
                       "process until it answers again", type(exc).__name__, exc)
