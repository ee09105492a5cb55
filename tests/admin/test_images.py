"""The admin-only image views: staff get the stored bytes, nobody else does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.http import FileResponse
from django.test import Client

from aigen_app import services
from aigen_app.models import Generation, TurnPart
from tests.support import Media, png_bytes

from .helpers import admin_url

pytestmark = pytest.mark.django_db


def body(response: Any) -> bytes:
    # Consuming the stream closes the response (the test client wraps it so that this
    # does not close the test's database connection, as a manual close() would).
    assert isinstance(response, FileResponse)
    return b"".join(response.streaming_content)  # type: ignore[arg-type]


@pytest.fixture
def poster(make_generation: Callable[..., Generation],
           make_user: Callable[..., Any]) -> Generation:
    owner = make_user("ada")
    asset = services.add_media_asset(png_bytes(20, 20), owner=owner, asset_type="logo")
    return make_generation("A poster", owner=owner, media_assets=[asset],
                           reference_image=png_bytes(40, 30))


def image_urls(generation: Generation) -> dict[str, tuple[str, str]]:
    """Each image view of the fixture's rows -> (its URL, the stored file's name)."""
    asset = generation.media_assets.get()
    part = TurnPart.objects.filter(turn__generation=generation, turn__role="model",
                                   kind="image").get()
    return {
        "generation": (admin_url("generation", "image", object_id=generation.pk),
                       generation.image.name or ""),
        "reference": (admin_url("generation", "reference", object_id=generation.pk),
                      generation.reference_image.name or ""),
        "asset": (admin_url("mediaasset", "image", object_id=asset.pk), asset.image.name or ""),
        "part": (admin_url("conversation", "part_image", object_id=generation.conversation_id,
                           part_id=part.pk), part.image.name or ""),
    }


def test_staff_get_the_stored_bytes(admin_client: Client, poster: Generation,
                                    media_storage: Media) -> None:
    for url, name in image_urls(poster).values():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Type"] == "image/png"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "private" in response["Cache-Control"]
        assert body(response) == media_storage.read(name)


def test_an_unchanged_image_is_not_sent_again(admin_client: Client,
                                              poster: Generation) -> None:
    url = admin_url("generation", "image", object_id=poster.pk)
    first = admin_client.get(url)
    etag = first["ETag"]
    body(first)
    assert etag == f'"{poster.sha256}"'
    again = admin_client.get(url, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""


def test_anonymous_and_non_staff_users_are_sent_to_the_login_page(
        client: Client, poster: Generation, make_user: Callable[..., Any]) -> None:
    urls = [url for url, _ in image_urls(poster).values()]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]
    client.force_login(make_user("visitor"))
    for url in urls:
        assert client.get(url).status_code == 302


def test_staff_without_view_permission_are_refused(
        client: Client, poster: Generation, make_user: Callable[..., Any]) -> None:
    staff = make_user("clerk")
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    for url, _ in image_urls(poster).values():
        assert client.get(url).status_code == 403, url
    staff.user_permissions.add(Permission.objects.get(codename="view_generation"))
    url = admin_url("generation", "image", object_id=poster.pk)
    assert client.get(url).status_code == 200


def test_missing_images_and_foreign_parts_are_not_found(
        admin_client: Client, poster: Generation,
        make_generation: Callable[..., Generation], media_storage: Media) -> None:
    other = make_generation("Another")
    blocked = make_generation("Forbidden", fault="block_prompt")
    text_part = TurnPart.objects.filter(turn__generation=poster, kind="text").first()
    foreign_part = TurnPart.objects.get(turn__generation=other, kind="image")
    assert text_part is not None
    not_found = [
        admin_url("generation", "image", object_id=blocked.pk),
        admin_url("generation", "reference", object_id=other.pk),
        admin_url("generation", "image", object_id="00000000-0000-4000-8000-000000000000"),
        admin_url("generation", "image", object_id="not-a-uuid"),
        admin_url("conversation", "part_image", object_id=poster.conversation_id,
                  part_id=text_part.pk),
        admin_url("conversation", "part_image", object_id=poster.conversation_id,
                  part_id=foreign_part.pk),
    ]
    for url in not_found:
        assert admin_client.get(url).status_code == 404, url

    media_storage.delete(poster.image.name or "")
    assert admin_client.get(admin_url("generation", "image",
                                      object_id=poster.pk)).status_code == 404
