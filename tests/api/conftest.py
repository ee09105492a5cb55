"""Fixtures of the API tests: temporary media, a clean throttle, signed-in clients, and
objects made through the services (the API's own data path)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from aigen_app import services
from aigen_app.models import Generation, MediaAsset
from tests.api.leaks import assert_no_internal_details
from tests.conftest import DUMMY, Media, png_bytes


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


def make_asset(owner: Any, color: tuple[int, int, int] = (10, 120, 200)) -> MediaAsset:
    return services.add_media_asset(png_bytes(40, 30, color), owner=owner,
                                    display_name="logo.png")


def pending_generation(owner: Any, prompt: str = "A red lighthouse") -> Generation:
    """A generation stored by the services whose task never runs."""
    with override_settings(TASKS={"default": DUMMY}):
        return services.create_generation(prompt, owner=owner, width=64, height=48)


def finished_generation(owner: Any, prompt: str = "A red lighthouse", **fields: Any
                        ) -> Generation:
    """A pending generation marked finished (no API call); ``fields`` set on the row."""
    generation = pending_generation(owner, prompt)
    Generation.objects.filter(pk=generation.pk).update(
        **{"status": Generation.Status.FAILED, "error_code": "server_error",
           "error_message": "boom", **fields})
    return Generation.objects.get(pk=generation.pk)


def streamed(response: Any) -> bytes:
    """The body of a streamed (FileResponse) test response."""
    return b"".join(response.streaming_content)


def delivered(response: Any) -> bytes:
    """The image an API image response delivers, whatever the storage: streamed from local
    storage, or fetched from the signed URL it redirects to on S3."""
    if response.status_code == 302:
        fetched = httpx.get(response["Location"])
        assert fetched.status_code == 200, response["Location"]
        return fetched.content
    assert response.status_code == 200, response
    return streamed(response)
