"""The create throttle's defaults, and the one error shape for every failure."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

from aigen_app.api.exceptions import flatten
from aigen_app.models import Generation

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_tasks")]
URL = "/api/generations/"
REST = getattr(settings, "REST_FRAMEWORK", {})


def create(client: APIClient) -> Any:
    return client.post(URL, {"prompt": "x"}, format="json")


def test_no_host_rates_still_throttles_with_the_app_default(api: APIClient) -> None:
    assert "DEFAULT_THROTTLE_RATES" not in REST
    with override_settings(AIGEN={"API_CREATE_RATE": "2/minute"}):
        statuses = [create(api).status_code for _ in range(3)]
        listing = api.get(URL)

    assert statuses == [202, 202, 429]
    assert listing.status_code == 200  # reads are not throttled


def test_the_built_in_default_needs_no_configuration(api: APIClient) -> None:
    with override_settings(AIGEN={}):
        statuses = {create(api).status_code for _ in range(30)}
        assert create(api).status_code == 429
    assert statuses == {202}


def test_throttled_answer_shape(api: APIClient) -> None:
    with override_settings(AIGEN={"API_CREATE_RATE": "1/hour"}):
        create(api)
        response = create(api)

    assert response.status_code == 429
    data = response.json()
    assert data["code"] == "rate_limited"
    assert data["message"]
    assert 3500 <= data["retry_after"] <= 3600
    assert response["Retry-After"] == str(data["retry_after"])
    assert Generation.objects.count() == 1


def test_host_rate_wins_and_users_are_throttled_apart(api: APIClient, api_for: Any,
                                                      make_user: Any) -> None:
    rest = {**REST, "DEFAULT_THROTTLE_RATES": {"aigen_create": "1/minute"}}
    bob = api_for(make_user("bob"))
    with override_settings(REST_FRAMEWORK=rest, AIGEN={"API_CREATE_RATE": "100/minute"}):
        assert [create(api).status_code for _ in range(2)] == [202, 429]
        assert create(bob).status_code == 202
        upload = api.post("/api/assets/", {}, format="multipart")
    assert upload.status_code == 429  # one budget across every creating action


def test_none_disables_the_throttle(api: APIClient) -> None:
    with override_settings(AIGEN={"API_CREATE_RATE": None}):
        assert {create(api).status_code for _ in range(40)} == {202}


@pytest.mark.parametrize(("method", "url", "kwargs", "status", "code"), [
    ("post", URL, {"data": "{not json", "content_type": "application/json"}, 400,
     "parse_error"),
    ("post", URL, {"data": "prompt", "content_type": "text/plain"}, 415,
     "unsupported_media_type"),
    ("put", URL, {"data": {}, "format": "json"}, 405, "method_not_allowed"),
    ("get", URL, {"HTTP_ACCEPT": "text/csv"}, 406, "not_acceptable"),
    ("get", f"{URL}not-a-uuid/", {}, 404, "not_found"),
    ("get", f"{URL}6f1c1f8e-8d4b-4f7e-9a59-5d2f3b0c1a2b/", {}, 404, "not_found"),
    ("post", URL, {"data": {}, "format": "json"}, 400, "validation_error"),
])
def test_every_error_has_code_and_message(api: APIClient, method: str, url: str,
                                          kwargs: dict[str, Any], status: int,
                                          code: str) -> None:
    rest = {key: value for key, value in REST.items() if key != "EXCEPTION_HANDLER"}
    with override_settings(REST_FRAMEWORK=rest):  # the viewsets bring their own handler
        response = getattr(api, method)(url, **kwargs)

    assert response.status_code == status
    data = response.json()
    assert data["code"] == code
    assert isinstance(data["message"], str) and data["message"]
    assert set(data) <= {"code", "message", "fields", "retry_after"}


def test_nested_field_errors_are_dotted() -> None:
    detail = {"media_assets": {0: ["Must be a valid UUID."]}, "prompt": ["Required."],
              "non_field_errors": ["Bad."]}
    assert flatten(detail) == {"media_assets.0": ["Must be a valid UUID."],
                               "prompt": ["Required."], "non_field_errors": ["Bad."]}
    assert flatten(["Whole request."]) == {"non_field_errors": ["Whole request."]}
