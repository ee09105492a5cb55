"""Media assets over HTTP: upload by content, deduplication, listing, deletion, HEIC, and
how their images are delivered (streamed locally, redirected on remote storage)."""

from __future__ import annotations

import io
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pillow_heif
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from PIL import Image
from rest_framework.test import APIClient

from aigen_app import services
from aigen_app.images import acceptance
from aigen_app.models import MediaAsset
from tests.api.helpers import delivered, streamed
from tests.support import Media, png_bytes, s3_storages, stored_files

pytestmark = pytest.mark.django_db
URL = "/api/assets/"


def upload(api: APIClient, content: bytes, name: str = "logo.png",
           content_type: str = "image/png", **fields: Any) -> Any:
    file = SimpleUploadedFile(name, content, content_type=content_type)
    return api.post(URL, {"image": file, **fields}, format="multipart")


def heic_bytes(mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.new(mode, (64, 48), (20, 200, 40))).save(buffer, quality=90)
    return buffer.getvalue()


def test_upload_list_detail_and_image(api: APIClient, media_storage: Media) -> None:
    content = png_bytes(40, 30)

    response = upload(api, content, asset_type="logo", display_name="Our logo")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert response["Location"] == data["url"]
    assert data["asset_type"] == "logo" and data["display_name"] == "Our logo"
    assert data["image"]["mime_type"] == "image/png"
    assert (data["image"]["width"], data["image"]["height"]) == (40, 30)
    assert api.get(data["url"]).json() == data
    assert [item["id"] for item in api.get(URL).json()["results"]] == [data["id"]]
    assert delivered(api.get(data["image"]["url"])) == content
    assert len(stored_files(media_storage)) == 1


def test_local_storage_streams_the_image_with_safe_headers(
    api: APIClient, local_media_storage: Media
) -> None:
    """Streaming is what local storage does (S3 redirects: see the signed URL test)."""
    content = png_bytes(40, 30)
    data = upload(api, content).json()

    image = api.get(data["image"]["url"])

    assert image.status_code == 200
    assert streamed(image) == content
    assert image["Content-Type"] == "image/png"
    assert image["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in image["Content-Security-Policy"]
    assert image["Cache-Control"].startswith("private")


def test_the_same_image_twice_is_one_asset(api: APIClient) -> None:
    first = upload(api, png_bytes())
    again = upload(api, png_bytes(), name="copy.png")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert MediaAsset.objects.count() == 1


def test_content_decides_not_the_name(api: APIClient) -> None:
    response = upload(api, png_bytes(fmt="JPEG"), name="really.png",
                      content_type="application/octet-stream")
    webp = upload(api, png_bytes(fmt="WEBP", color=(1, 1, 1)), name="pic.jpg")

    assert response.status_code == 201
    assert response.json()["image"]["mime_type"] == "image/jpeg"
    assert webp.json()["image"]["mime_type"] == "image/webp"


def test_a_path_in_the_file_name_never_reaches_storage(api: APIClient,
                                                       media_storage: Media) -> None:
    response = upload(api, png_bytes(), name="../../../etc/x.png")

    assert response.status_code == 201
    assert response.json()["display_name"] == "x.png"
    (name,) = stored_files(media_storage)
    assert name.startswith("aigen/assets/") and ".." not in name


def test_heic_is_converted_to_jpeg(api: APIClient) -> None:
    response = upload(api, heic_bytes(), name="IMG_0001.HEIC", content_type="image/heic")

    assert response.status_code == 201, response.json()
    image = response.json()["image"]
    assert (image["mime_type"], image["width"], image["height"]) == ("image/jpeg", 64, 48)


def test_truncated_heic_is_refused(api: APIClient, media_storage: Media) -> None:
    content = heic_bytes()
    response = upload(api, content[: len(content) - 30], name="IMG.HEIC")

    assert response.status_code == 400
    assert stored_files(media_storage) == []


def test_heic_without_pillow_heif_is_refused_with_a_reason(
    api: APIClient, monkeypatch: pytest.MonkeyPatch, media_storage: Media
) -> None:
    monkeypatch.setattr(acceptance, "pillow_heif", None)

    response = upload(api, heic_bytes(), name="IMG_0001.HEIC", content_type="image/heic")

    assert response.status_code == 400
    assert "HEIC" in response.json()["fields"]["image"][0]
    assert stored_files(media_storage) == []


def test_json_upload_is_415(api: APIClient) -> None:
    response = api.post(URL, {"image": "aGVsbG8="}, format="json")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_filters_and_search(api: APIClient) -> None:
    upload(api, png_bytes(color=(1, 1, 1)), asset_type="logo", display_name="Acme logo")
    upload(api, png_bytes(color=(2, 2, 2)), asset_type="face", display_name="Portrait")

    logos = api.get(URL, {"asset_type": "logo"}).json()["results"]
    found = api.get(URL, {"search": "portrait"}).json()["results"]

    assert [a["display_name"] for a in logos] == ["Acme logo"]
    assert [a["display_name"] for a in found] == ["Portrait"]


def test_delete_removes_row_and_file(api: APIClient, media_storage: Media,
                                     django_capture_on_commit_callbacks: Any) -> None:
    data = upload(api, png_bytes()).json()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(data["url"])

    assert response.status_code == 204
    assert api.get(data["url"]).status_code == 404
    assert stored_files(media_storage) == []


@pytest.mark.usefixtures("queued_tasks")
def test_delete_keeps_the_file_a_conversation_still_replays(
    api: APIClient, alice: Any, media_storage: Media, django_capture_on_commit_callbacks: Any
) -> None:
    data = upload(api, png_bytes()).json()
    asset = MediaAsset.objects.get(pk=data["id"])
    generation = services.create_generation("x", owner=alice, media_assets=[asset])

    # While the generation waits to run, the asset it will send cannot go.
    refused = api.delete(data["url"])
    assert refused.status_code == 409
    assert refused.json()["code"] == "asset_in_use"
    assert str(generation.pk) in refused.json()["message"]
    services.cancel_generation(generation)

    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(data["url"]).status_code == 204

    assert not MediaAsset.objects.exists()
    assert stored_files(media_storage) == [asset.image.name]


def test_s3_storage_redirects_to_a_short_lived_signed_url(api: APIClient,
                                                         s3_bucket: Any) -> None:
    content = png_bytes()
    options = s3_bucket.storage_options
    with override_settings(STORAGES=s3_storages(options)):
        data = upload(api, content).json()
        response = api.get(data["image"]["url"])
        with override_settings(AIGEN={"API_IMAGE_DELIVERY": "stream"}):
            streamed_response = api.get(data["image"]["url"])
        signed = httpx.get(response["Location"])

    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(options["endpoint_url"])
    query = parse_qs(urlsplit(location).query)
    assert query["Signature"]
    assert 0 < int(query["Expires"][0]) - time.time() <= 301  # short-lived
    assert response["Cache-Control"] == "private, no-store"
    assert signed.status_code == 200 and signed.content == content
    assert options["endpoint_url"] not in str(data)  # responses link to the API only
    assert streamed(streamed_response) == content


def test_redirect_can_be_forced_on_local_storage(api: APIClient,
                                                local_media_storage: Media) -> None:
    data = upload(api, png_bytes()).json()
    with override_settings(AIGEN={"API_IMAGE_DELIVERY": "redirect"}):
        response = api.get(data["image"]["url"])
    assert response.status_code == 302


def test_a_missing_file_is_404(api: APIClient, media_storage: Media) -> None:
    data = upload(api, png_bytes()).json()
    for name in stored_files(media_storage):
        media_storage.delete(name)

    response = api.get(data["image"]["url"])

    if media_storage.on_s3:  # the API redirects without asking S3 first; S3 answers 404
        assert response.status_code == 302
        assert httpx.get(response["Location"]).status_code == 404
        return
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db(transaction=True)
def test_a_photo_uploaded_with_gps_is_stored_served_and_sent_without_it(
    api: APIClient, media_storage: Media, aigen_emulator: Any, immediate_tasks: None
) -> None:
    import base64

    from tests.images.test_metadata import assert_private, assert_upright, camera_jpeg

    response = upload(api, camera_jpeg(), name="IMG_0001.jpg", content_type="image/jpeg",
                      asset_type="face")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["image"]["width"], data["image"]["height"]) == (30, 40)
    served = delivered(api.get(data["image"]["url"]))
    assert_upright(assert_private(served))
    assert [media_storage.read(name) for name in stored_files(media_storage)] == [served]
    # The same photo again is the same asset (deduplicated by the stored bytes).
    assert upload(api, camera_jpeg(), content_type="image/jpeg").status_code == 200

    created = api.post("/api/generations/", {"prompt": "Put this face on a poster",
                                             "media_assets": [data["id"]]}, format="json")

    assert created.status_code == 201, created.json()
    parts = aigen_emulator.requests()[-1].body["contents"][-1]["parts"]
    sent = [base64.b64decode(part["inlineData"]["data"]) for part in parts
            if "inlineData" in part]
    assert sent == [served]
