"""Every object belongs to a user: another user gets 404 for each of them and their
images, lists show only one's own, and anonymous requests are refused."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, MediaAsset, TurnPart
from tests.api.helpers import delivered, make_asset

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("immediate_tasks")]


@pytest.fixture
def alices_objects(api: APIClient, alice: Any, aigen_emulator: EmulatorServer
                   ) -> dict[str, Any]:
    asset = make_asset(alice)
    first = api.post("/api/generations/", {"prompt": "A lighthouse",
                                           "media_assets": [str(asset.pk)]},
                     format="json").json()
    second = api.post(f"/api/generations/{first['id']}/refine/", {"prompt": "Stormy"},
                      format="json").json()
    conversation = api.get(f"/api/conversations/{first['conversation']}/").json()
    part_images = [part["image"]["url"] for turn in conversation["turns"]
                   for part in turn["parts"] if part["image"]]
    assert len(part_images) == 3  # the asset in the first user turn, each model image
    return {"asset": asset, "first": first, "second": second,
            "conversation": conversation, "part_images": part_images}


def reads(objects: dict[str, Any]) -> list[str]:
    first, conversation = objects["first"], objects["conversation"]
    asset_url = f"/api/assets/{objects['asset'].pk}/"
    return [first["url"], first["image"]["url"], objects["second"]["url"],
            objects["second"]["image"]["url"], conversation["url"], asset_url,
            f"{asset_url}image/", *objects["part_images"]]


def writes(objects: dict[str, Any]) -> list[tuple[str, str]]:
    first = objects["first"]["url"]
    return [("post", f"{first}refine/"), ("post", f"{first}retry/"),
            ("post", f"{first}cancel/"), ("delete", f"/api/assets/{objects['asset'].pk}/")]


def test_alice_reaches_all_of_them(api: APIClient, alices_objects: dict[str, Any]) -> None:
    for url in reads(alices_objects):
        response = api.get(url)
        if "/image/" in url:
            assert delivered(response), url
        else:
            assert response.status_code == 200, url


def test_another_user_gets_404_for_each_object_and_image(
    api_for: Any, make_user: Any, alices_objects: dict[str, Any]
) -> None:
    bob = api_for(make_user("bob"))

    for url in reads(alices_objects):
        response = bob.get(url, HTTP_ACCEPT="image/png" if "/image/" in url else "*/*")
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found", url
    for method, url in writes(alices_objects):
        response = getattr(bob, method)(url, {"prompt": "mine now"}, format="json")
        assert response.status_code == 404, url
    for listing in ("/api/generations/", "/api/conversations/", "/api/assets/"):
        assert bob.get(listing).json()["count"] == 0
    # Nothing of Alice's changed.
    assert Generation.objects.count() == 2
    assert MediaAsset.objects.filter(pk=alices_objects["asset"].pk).exists()
    assert Generation.objects.get(pk=alices_objects["first"]["id"]).status == "succeeded"


def test_anonymous_requests_are_401_everywhere(alices_objects: dict[str, Any]) -> None:
    anonymous = APIClient()
    for url in [*reads(alices_objects), "/api/generations/", "/api/conversations/",
                "/api/assets/"]:
        response = anonymous.get(url)
        assert response.status_code == 401, url
        assert response.json()["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == "Token"
    response = anonymous.post("/api/generations/", {"prompt": "x"}, format="json")
    assert response.status_code == 401
    assert TurnPart.objects.filter(turn__generation__prompt="x").count() == 0


def test_a_bad_token_is_401_authentication_failed() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/generations/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_session_authentication_works_and_enforces_csrf(alice: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)

    assert client.get("/api/generations/").status_code == 200
    response = client.post("/api/generations/", {"prompt": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "CSRF" in response.json()["message"]
