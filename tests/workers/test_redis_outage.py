"""The API degrades, it does not fail: with Redis refusing connections or stalled,
creating and reading through the REST API keep working. The create throttle counts
per process meanwhile (and says so once in the log); a generation run in the request
is limited per process by the shared limiter's fallback. Redis' client has connect and
socket timeouts, so a stall costs each cache call that timeout, not the whole stall."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from aigen_app.api import throttling
from aigen_app.emulator import EmulatorServer
from aigen_app.models import GenerationStatus
from tests.support import DUMMY, IMMEDIATE, Media, aigen_settings_for

from .proxy import TcpProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("media_storage")]

TIMEOUTS = {"socket_connect_timeout": 0.3, "socket_timeout": 0.3}
RATE = 3  # creates per minute


@pytest.fixture
def redis_behind_proxy(redis_proxy: tuple[TcpProxy, str],
                       monkeypatch: pytest.MonkeyPatch) -> Iterator[TcpProxy]:
    proxy, url = redis_proxy
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": url, "KEY_PREFIX": "workers-outage",
                          "OPTIONS": TIMEOUTS}}
    monkeypatch.setattr(throttling, "_warned_at", -math.inf)
    with override_settings(CACHES=caches):
        from django.core.cache import cache

        cache.clear()
        yield proxy


def api_for(make_user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=make_user()).key}")
    return client


def create(api: APIClient, prompt: str) -> Any:
    return api.post("/api/generations/", {"prompt": prompt, "width": 64, "height": 64},
                    format="json")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("outage", ["cut", "stall"])
def test_creates_and_reads_work_while_redis_is_away(
    make_user: Any, redis_behind_proxy: TcpProxy, outage: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = api_for(make_user)
    with override_settings(TASKS={"default": DUMMY},
                           AIGEN={"API_CREATE_RATE": f"{RATE}/minute"}):
        assert create(api, "before").status_code == 202  # through Redis
        with caplog.at_level(logging.WARNING, logger="aigen.api"), \
                redis_behind_proxy.outage(outage):
            answers = [create(api, f"during {i}") for i in range(RATE + 1)]
            listing = api.get("/api/generations/")
            one = api.get(f"/api/generations/{answers[0].json()['id']}/")

    # Counted per process during the outage: the rate holds, the request after it is 429.
    assert [a.status_code for a in answers] == [202] * RATE + [429]
    assert listing.status_code == 200 and listing.json()["results"]
    assert one.status_code == 200
    warnings = [r for r in caplog.records if r.name == "aigen.api"]
    assert len(warnings) == 1 and "per process" in warnings[0].getMessage()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("outage", ["cut", "stall"])
def test_a_generation_run_in_the_request_succeeds_while_redis_is_away(
    make_user: Any, redis_behind_proxy: TcpProxy, outage: str, emulator: EmulatorServer,
    caplog: pytest.LogCaptureFixture, media_storage: Media,
) -> None:
    api = api_for(make_user)
    aigen = aigen_settings_for(emulator, LIMITER_CACHE="default", REQUESTS_PER_MINUTE=600,
                               MAX_IN_FLIGHT=4, API_CREATE_RATE=None)
    with override_settings(TASKS={"default": IMMEDIATE}, AIGEN=aigen), \
            caplog.at_level(logging.WARNING, logger="aigen.limiter"), \
            redis_behind_proxy.outage(outage):
        answer = create(api, "in the request")
        detail = api.get(f"/api/generations/{answer.json()['id']}/")

    assert answer.status_code == 201  # finished within the request
    assert detail.json()["status"] == GenerationStatus.SUCCEEDED
    assert any(r.name == "aigen.limiter" for r in caplog.records)
