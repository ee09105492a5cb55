"""Service refusals reach API clients without a table of codes: an ``InvalidInput``
lands on the field it names, any ``ServiceError`` keeps its own code, and the status
of each class is written once (``exceptions.SERVICE_STATUS``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from aigen_app.api.exceptions import exception_handler
from aigen_app.client.catalog import MAX_EDGE
from aigen_app.models import Generation
from aigen_app.services import DailyLimitReached, InvalidInput, ServiceError, rules

URL = "/api/generations/"


def test_a_new_input_refusal_lands_on_its_field() -> None:
    refusal = InvalidInput("options", "A refusal no table knows.", code="brand_new")
    response = exception_handler(refusal, {})
    assert response is not None and response.status_code == 400
    assert response.data["code"] == "validation_error"
    assert response.data["fields"] == {"options": ["A refusal no table knows."]}


def test_a_new_service_error_keeps_its_code() -> None:
    class BrandNewRefusal(ServiceError):
        code = "brand_new_refusal"

    response = exception_handler(BrandNewRefusal("Not now."), {})
    assert response is not None and response.status_code == 400
    assert response.data == {"code": "brand_new_refusal", "message": "Not now."}


@pytest.mark.django_db
@pytest.mark.usefixtures("queued_tasks")
def test_the_daily_limit_answers_the_services_code(api: APIClient) -> None:
    with override_settings(AIGEN={"USER_DAILY_LIMIT": 1}):
        assert api.post(URL, {"prompt": "one"}, format="json").status_code == 202
        refused = api.post(URL, {"prompt": "two"}, format="json")
    assert refused.status_code == 429
    assert refused.json()["code"] == DailyLimitReached.code == "daily_limit_reached"


@pytest.mark.django_db
@pytest.mark.usefixtures("queued_tasks")
def test_the_idempotency_key_header_takes_the_columns_length(api: APIClient) -> None:
    longest = "k" * rules.MAX_IDEMPOTENCY_KEY
    assert api.post(URL, {"prompt": "x"}, format="json",
                    HTTP_IDEMPOTENCY_KEY=longest).status_code == 202
    refused = api.post(URL, {"prompt": "x"}, format="json",
                       HTTP_IDEMPOTENCY_KEY=longest + "k")
    assert refused.status_code == 400
    assert refused.json()["fields"]["Idempotency-Key"] == [
        f"The idempotency key must be a string of at most {rules.MAX_IDEMPOTENCY_KEY} "
        "characters."]
    assert Generation.objects.count() == 1


@pytest.mark.django_db
def test_the_schema_documents_the_rules_limits() -> None:
    document = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    fields: dict[str, Any] = document["components"]["schemas"][
        "GenerationCreateJSONRequest"]["properties"]
    assert (fields["seed"]["minimum"], fields["seed"]["maximum"]) == (rules.SEED_MIN,
                                                                      rules.SEED_MAX)
    assert (fields["width"]["minimum"], fields["width"]["maximum"]) == (1, MAX_EDGE)
    assert fields["prompt"]["maxLength"] == rules.MAX_PROMPT
    assert fields["model"]["maxLength"] == rules.MAX_MODEL_NAME
