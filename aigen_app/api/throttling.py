"""Throttling of the requests that cost money or storage."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView

from ..conf import aigen_settings


class CreateRateThrottle(ScopedRateThrottle):
    """Per user (per IP when anonymous) across every creating action of the API.

    The rate is the host project's ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    ["aigen_create"]`` when set, else ``AIGEN["API_CREATE_RATE"]``: a project that sets
    no rates still gets a working throttle instead of ``ImproperlyConfigured``.
    """

    scope = "aigen_create"

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return SimpleRateThrottle.allow_request(self, request, view)

    def get_rate(self) -> str | None:
        """Read at request time, so ``override_settings`` and late configuration work."""
        rates: dict[str, Any] = api_settings.DEFAULT_THROTTLE_RATES or {}
        rate = rates.get(self.scope, aigen_settings.API_CREATE_RATE)
        return None if rate is None else str(rate)
