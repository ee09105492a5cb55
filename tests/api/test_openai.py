"""The REST API takes OpenAI model ids like Gemini ones, and refuses what the chosen
model's provider cannot do as field errors."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from aigen_app.emulator import EmulatorServer

URL = "/api/generations/"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("immediate_tasks")]


def test_an_openai_model_generates_and_refines(api: APIClient,
                                               aigen_emulator: EmulatorServer) -> None:
    created = api.post(URL, {"prompt": "A lighthouse", "width": 1280, "height": 720,
                             "model": "gpt-image-2"}, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert (data["status"], data["model"], data["seed"]) == ("succeeded", "gpt-image-2", None)
    assert (data["image"]["width"], data["image"]["height"]) == (1280, 720)
    assert data["request_id"] == aigen_emulator.requests()[0].response_id
    refined = api.post(f"{URL}{data['id']}/refine/", {"prompt": "At night"}, format="json")
    assert refined.status_code == 201, refined.json()
    assert refined.json()["model"] == "gpt-image-2"
    assert [e.provider for e in aigen_emulator.requests()] == ["openai", "openai"]


@pytest.mark.parametrize(("payload", "field", "words"), [
    ({"model": "imagen-4"}, "model", "belongs to no known provider"),
    ({"model": "gpt-image-2", "seed": 3}, "seed", "takes no seed"),
])
def test_what_the_provider_cannot_do_is_a_field_error(
        api: APIClient, aigen_emulator: EmulatorServer, payload: dict[str, Any], field: str,
        words: str) -> None:
    response = api.post(URL, {"prompt": "x", **payload}, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert words in errors["fields"][field][0], errors
    assert aigen_emulator.requests() == []


def test_refining_with_another_providers_model_is_a_400(
        api: APIClient, aigen_emulator: EmulatorServer) -> None:
    first = api.post(URL, {"prompt": "A fox"}, format="json").json()
    response = api.post(f"{URL}{first['id']}/refine/",
                        {"prompt": "Red", "model": "gpt-image-2"}, format="json")
    assert response.status_code == 400
    assert "same provider" in response.json()["fields"]["model"][0]


def test_options_are_accepted_checked_and_returned(
        api: APIClient, aigen_emulator: EmulatorServer) -> None:
    created = api.post(URL, {"prompt": "A kite", "model": "gpt-image-1.5",
                             "options": {"quality": "low"}}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["options"] == {"quality": "low"}
    assert aigen_emulator.requests()[0].body["quality"] == "low"
    refused = api.post(f"{URL}{created.json()['id']}/refine/",
                       {"prompt": "Red", "options": {"moderation": "low"}}, format="json")
    assert refused.status_code == 400
    assert "moderation option applies to generations" in refused.json()["fields"]["options"][0]
    assert len(aigen_emulator.requests()) == 1


def test_listings_filter_by_provider(api: APIClient, aigen_emulator: EmulatorServer) -> None:
    gemini = api.post(URL, {"prompt": "A fox"}, format="json").json()
    openai = api.post(URL, {"prompt": "A kite", "model": "gpt-image-2"}, format="json").json()
    for provider, expected in (("openai", openai), ("gemini", gemini)):
        listed = api.get(URL, {"provider": provider}).json()["results"]
        assert [g["id"] for g in listed] == [expected["id"]]
    assert api.get(URL, {"provider": "anthropic"}).status_code == 400
