"""JSON everywhere under the API's mount: a root that lists the collections, the API's
404 body for any path no endpoint serves (DEBUG or not), and browsable forms that show
the fields each action reads."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/generations/0.5/"), ("get", "/api/generations/0.5/image/"),
    ("post", "/api/generations/not-a-uuid/refine/"), ("get", "/api/nothing/here/"),
    ("delete", "/api/assets/1/"), ("get", "/api/conversations/x/turns/a/parts/0/image/"),
])
def test_a_path_no_endpoint_serves_answers_the_apis_json_404(
    api: APIClient, method: str, path: str, debug: bool
) -> None:
    with override_settings(DEBUG=debug):
        response = getattr(api, method)(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "not_found" and set(body) == {"code", "message"}
    if "." in path or "nothing" in path or "/a/" in path:  # no URL pattern matches
        assert "http://testserver/api/" in body["message"]


def test_the_root_lists_the_collections() -> None:
    response = APIClient().get("/api/")

    assert response.status_code == 200
    assert response.json() == {
        "generations": "http://testserver/api/generations/",
        "conversations": "http://testserver/api/conversations/",
        "assets": "http://testserver/api/assets/",
    }


@pytest.mark.parametrize(("path", "fields"), [
    ("/api/generations/", ["prompt", "width", "height", "model", "seed",
                           "enable_grounding", "reference_image"]),
    ("/api/assets/", ["image", "asset_type", "display_name"]),
])
def test_the_browsable_apis_forms_show_the_fields_the_action_reads(
    alice: Any, path: str, fields: list[str]
) -> None:
    client = APIClient()
    client.force_login(alice)

    html = client.get(path, HTTP_ACCEPT="text/html").content.decode()

    for field in fields:
        assert f'name="{field}"' in html, field
