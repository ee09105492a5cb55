"""Strict input: wrong JSON types, unknown fields and bad query parameters are 400s
naming the field; nothing is stored and the API is not called."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from aigen_app.models import Generation, MediaAsset
from tests.support import png_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_tasks")]
URL = "/api/generations/"


def refused(response: Any, field: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error" and field in body["fields"], body
    assert field in body["message"]


@pytest.mark.parametrize(("field", "value"), [
    ("model", 0), ("prompt", 0), ("enable_grounding", 0), ("enable_grounding", "true"),
    ("width", "640"), ("width", 64.0), ("seed", True), ("media_assets", "abc"),
    ("media_assets", [1]), ("title", None), ("prompt", None), ("options", "quality=low"),
    ("options", {"quality": 5}), ("options", {"quality": None}),
])
def test_a_wrong_json_type_is_refused(api: APIClient, field: str, value: Any) -> None:
    body = {"prompt": "A fox", "width": 64, "height": 48, field: value}

    refused(api.post(URL, body, format="json"), field)

    assert not Generation.objects.exists()


@pytest.mark.parametrize("field", ["asset_ids", "name", "negative_prompt"])
def test_an_unknown_field_is_refused(api: APIClient, field: str) -> None:
    refused(api.post(URL, {"prompt": "A fox", field: "x"}, format="json"), field)
    refused(api.post(URL, {"prompt": "A fox", field: "x"}, format="multipart"), field)
    assert not Generation.objects.exists()


def test_an_unknown_upload_field_is_refused(api: APIClient) -> None:
    image = SimpleUploadedFile("a.png", png_bytes(), content_type="image/png")

    refused(api.post("/api/assets/", {"image": image, "kind": "logo"}, format="multipart"),
            "kind")
    assert not MediaAsset.objects.exists()


@pytest.mark.parametrize("null", ["null", ""])
def test_form_data_null_seed_is_null_as_the_schema_says(api: APIClient, null: str) -> None:
    response = api.post(URL, {"prompt": "A fox", "width": "64", "height": "48",
                              "seed": null}, format="multipart")

    assert response.status_code == 202, response.json()
    assert Generation.objects.get().seed is None


def test_json_null_seed_and_a_right_typed_body_are_accepted(api: APIClient) -> None:
    response = api.post(URL, {"prompt": "A fox", "width": 64, "height": 48, "seed": None,
                              "enable_grounding": False, "model": "", "media_assets": []},
                        format="json")

    assert response.status_code == 202, response.json()


@pytest.mark.parametrize(("params", "field"), [
    ({"page_size": "AAA"}, "page_size"), ({"page_size": "0"}, "page_size"),
    ({"page_size": "-1"}, "page_size"), ({"page": "AAA"}, "page"),
    ({"status": "exploded"}, "status"), ({"ordering": "prompt"}, "ordering"),
    ({"ordering": "-created_at,nope"}, "ordering"), ({"stauts": "failed"}, "stauts"),
])
def test_a_bad_query_parameter_is_refused(api: APIClient, params: dict[str, str],
                                          field: str) -> None:
    refused(api.get(URL, params), field)


def test_detail_endpoints_refuse_query_parameters_they_do_not_take(
    api: APIClient, alice: Any
) -> None:
    from tests.api.helpers import pending_generation

    generation = pending_generation(alice)
    refused(api.get(f"{URL}{generation.pk}/", {"expand": "all"}), "expand")
    assert api.get(f"{URL}{generation.pk}/", {"format": "json"}).status_code == 200


@pytest.mark.parametrize("param", ["created_after", "status", "conversation", "page",
                                   "ordering", "page_size"])
def test_an_empty_typed_query_parameter_is_refused(api: APIClient, param: str) -> None:
    refused(api.get(URL, {param: ""}), param)


def test_an_empty_search_or_text_filter_means_any(api: APIClient) -> None:
    assert api.get(URL, {"search": "", "model": ""}).status_code == 200


@pytest.mark.parametrize("field", ["width", "enable_grounding", "prompt"])
def test_an_empty_form_value_is_refused_not_defaulted(api: APIClient, field: str) -> None:
    refused(api.post(URL, {"prompt": "A fox", field: ""}, format="multipart"), field)


@pytest.mark.parametrize("param", ["search", "model"])
def test_a_nul_character_in_free_text_is_refused(api: APIClient, param: str) -> None:
    refused(api.get(URL, {param: "light\x00house"}), param)


def test_an_object_in_form_data_is_one_json_part(api: APIClient) -> None:
    # OpenAPI's default encoding of an object property in multipart/form-data.
    response = api.post(URL, {"prompt": "A kite", "model": "gpt-image-1.5",
                              "options": '{"quality": "low"}'}, format="multipart")

    assert response.status_code == 202, response.json()
    assert Generation.objects.get().options == {"quality": "low"}


@pytest.mark.parametrize("part", ["quality=low", '["low"]', '{"quality": 5}', "null"])
def test_a_form_part_that_is_no_object_of_strings_is_refused(api: APIClient,
                                                               part: str) -> None:
    refused(api.post(URL, {"prompt": "A kite", "model": "gpt-image-1.5", "options": part},
                     format="multipart"), "options")
    assert not Generation.objects.exists()
