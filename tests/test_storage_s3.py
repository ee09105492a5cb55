"""Files on S3 (django-storages against moto's server on loopback), end to end through
the REST API: an uploaded asset, a generation's image, a refinement whose history is
read back from S3, owner-only images as short-lived signed URLs, and no orphan."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, MediaAsset, TurnPart
from tests.support import aigen_settings_for, png_bytes, s3_storages

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("immediate_tasks")]


@pytest.fixture
def on_s3(s3_bucket: Any, emulator: EmulatorServer) -> Iterator[Any]:
    """Default storage on a fresh moto bucket; the app's client on the emulator."""
    with override_settings(STORAGES=s3_storages(s3_bucket.storage_options),
                           AIGEN=aigen_settings_for(emulator, API_CREATE_RATE=None)):
        yield s3_bucket


def api_for(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def s3_object(bucket: Any, key: str | None) -> bytes:
    data: bytes = bucket.Object(key).get()["Body"].read()
    return data


def referenced_files() -> set[str]:
    names: set[str] = set()
    for model, field in ((Generation, "image"), (Generation, "reference_image"),
                         (TurnPart, "image"), (MediaAsset, "image")):
        names.update(model.objects.exclude(**{field: ""}).exclude(**{f"{field}__isnull": True})
                     .values_list(field, flat=True))
    return names


def assert_signed_and_short_lived(location: str, endpoint: str) -> None:
    """A URL on the storage's endpoint, valid for at most the configured 5 minutes and
    signed with the storage's secret (moto serves any URL, so the signature is checked
    here: HMAC-SHA1 of the request, S3's query-string authentication)."""
    assert location.startswith(endpoint)
    url = urlsplit(location)
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    if "X-Amz-Signature" in query:  # SigV4: the expiry is a duration
        assert 0 < int(query["X-Amz-Expires"]) <= 300
        return
    expires = query["Expires"]
    assert 0 < int(expires) - time.time() <= 301
    signed = hmac.new(b"testing", f"GET\n\n\n{expires}\n{unquote(url.path)}".encode(),
                      hashlib.sha1).digest()
    assert query["Signature"] == base64.b64encode(signed).decode()


def test_assets_generations_and_refinements_live_on_s3(
    on_s3: Any, emulator: EmulatorServer, make_user: Any
) -> None:
    bucket, endpoint = on_s3, on_s3.storage_options["endpoint_url"]
    api, stranger = api_for(make_user()), api_for(make_user())
    logo = png_bytes(40, 30, (10, 120, 200))

    # An uploaded asset is an S3 object with exactly the uploaded bytes.
    asset = api.post("/api/assets/", {"image": SimpleUploadedFile("logo.png", logo,
                                                                  content_type="image/png"),
                                      "display_name": "logo"}, format="multipart")
    assert asset.status_code == 201, asset.content
    asset_row = MediaAsset.objects.get(pk=asset.json()["id"])
    assert s3_object(bucket, asset_row.image.name) == logo

    # A generation using it: the result is stored on S3 as measured in its row.
    created = api.post("/api/generations/", {"prompt": "A lighthouse with our logo",
                                             "width": 640, "height": 480,
                                             "media_assets": [asset_row.pk]}, format="json")
    assert created.status_code == 201, created.content
    first = Generation.objects.get(pk=created.json()["id"])
    assert first.status == "succeeded", first.error_message
    stored = s3_object(bucket, first.image.name)
    assert hashlib.sha256(stored).hexdigest() == first.sha256
    assert (first.image_width, first.image_height) == (640, 480)

    # A refinement: the history (the asset and the model's image with its signature)
    # is read back from S3 and sent again, byte for byte.
    refined = api.post(f"/api/generations/{first.pk}/refine/",
                       {"prompt": "Make the sky stormy"}, format="json")
    assert refined.status_code == 201, refined.content
    second = Generation.objects.get(pk=refined.json()["id"])
    assert second.status == "succeeded", second.error_message
    sent = emulator.requests()[-1].body["contents"]
    assert [turn["role"] for turn in sent] == ["user", "model", "user"]
    model_image = TurnPart.objects.get(turn__generation=first, turn__role="model",
                                       kind="image")
    replayed = [part for part in sent[1]["parts"] if "inlineData" in part]
    assert [base64.b64decode(p["inlineData"]["data"]) for p in replayed] == [
        s3_object(bucket, model_image.image.name)]
    assert replayed[0]["thoughtSignature"]
    sent_first_turn = [base64.b64decode(p["inlineData"]["data"])
                       for p in sent[0]["parts"] if "inlineData" in p]
    assert sent_first_turn == [logo]

    # Images reach their owner as short-lived signed URLs; nobody else gets one.
    conversation = api.get(f"/api/conversations/{first.conversation_id}/").json()
    image_urls = [created.json()["image"]["url"], refined.json()["image"]["url"],
                  asset.json()["image"]["url"]]
    image_urls += [part["image"]["url"] for turn in conversation["turns"]
                   for part in turn["parts"] if part["image"]]
    for url in image_urls:
        redirect = api.get(url)
        assert redirect.status_code == 302, url
        assert redirect["Cache-Control"] == "private, no-store"
        assert_signed_and_short_lived(redirect["Location"], endpoint)
        assert httpx.get(redirect["Location"]).status_code == 200
        assert stranger.get(url).status_code == 404
    location = api.get(created.json()["image"]["url"])["Location"]
    assert httpx.get(location).content == stored
    assert endpoint not in str(created.json())  # responses link to the API only

    # Nothing in the bucket that no row refers to, and nothing missing.
    assert {obj.key for obj in bucket.objects.all()} == referenced_files()


def test_the_orphan_sweep_works_on_s3(on_s3: Any, make_user: Any) -> None:
    generation = services.create_generation("A kept one", owner=make_user(),
                                            width=64, height=64)
    generation.refresh_from_db()
    directory = str(generation.image.name).rsplit("/", 1)[0]
    on_s3.put_object(Key=f"{directory}/orphan.png", Body=png_bytes())

    deleted = services.sweep_orphan_files(older_than=0)

    assert deleted == [f"{directory}/orphan.png"]
    assert {obj.key for obj in on_s3.objects.all()} == referenced_files()
