"""Fixtures of the API tests: temporary media, a clean throttle, signed-in clients, and
objects made through the services (the API's own data path)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.leaks import assert_no_internal_details
from tests.support import Media


@pytest.fixture(autouse=True)
def _media(media_storage: Media) -> Media:
    return media_storage


@pytest.fixture(autouse=True)
def _fresh_throttle() -> Iterator[None]:
    """Throttle history lives in the cache (Redis on CI): no test inherits another's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _no_internal_details(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every JSON answer of every API test is checked for file paths, SQL and tracebacks
    (``tests.api.leaks``), errors and the generations' ``error`` alike."""
    request = APIClient.request

    def checked(self: APIClient, *args: Any, **kwargs: Any) -> Any:
        response = request(self, *args, **kwargs)
        if "json" in response.get("Content-Type", ""):
            assert_no_internal_details(response.content.decode(errors="replace"),
                                       f"{response.request['REQUEST_METHOD']} "
                                       f"{response.request['PATH_INFO']}")
        return response

    monkeypatch.setattr(APIClient, "request", checked)


@pytest.fixture
def api_for(make_user: Callable[..., Any]) -> Callable[..., APIClient]:
    """``api_for(user)``: a client authenticated by the user's token."""

    def make(user: Any) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def alice(make_user: Callable[..., Any]) -> Any:
    return make_user("alice")


@pytest.fixture
def api(api_for: Callable[..., APIClient], alice: Any) -> APIClient:
    return api_for(alice)
