"""One path from an upload to the stored bytes, whichever surface it came by: a direct
service call is held to the same rules, and answers in the same two codes, as the API."""

from __future__ import annotations

import io
from typing import Any

import pillow_heif
import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from PIL import Image

from aigen_app import images, services
from aigen_app.models import MediaAsset
from tests.api.hostile import zip_archive
from tests.support import png_bytes

pytestmark = pytest.mark.django_db


def refusal(image: bytes, make_user: Any) -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        services.add_media_asset(image, owner=make_user())
    assert MediaAsset.objects.count() == 0
    return raised.value


@pytest.mark.parametrize(("image", "code", "words"), [
    (b"", images.INVALID_IMAGE, "empty"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", images.INVALID_IMAGE, "SVG"),
    (png_bytes() + zip_archive(), images.INVALID_IMAGE, "polyglot"),
    (png_bytes()[:60], images.INVALID_IMAGE, "truncated"),
])
def test_a_service_call_is_refused_like_an_upload(make_user: Any, image: bytes, code: str,
                                                  words: str) -> None:
    error = refusal(image, make_user)
    assert error.code == code and error.code in images.CODES
    assert words in error.messages[0]


def test_pixels_over_the_cap_are_too_large(make_user: Any) -> None:
    with override_settings(AIGEN={"MAX_IMAGE_PIXELS": 100}):
        error = refusal(png_bytes(20, 20), make_user)
    assert error.code == images.IMAGE_TOO_LARGE
    assert "MAX_IMAGE_PIXELS" in error.messages[0]


def test_heic_handed_to_a_service_is_stored_as_jpeg(make_user: Any) -> None:
    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (64, 48), (20, 200, 40))).save(buffer)
    asset = services.add_media_asset(buffer.getvalue(), owner=make_user())
    assert (asset.mime_type, asset.width, asset.height) == ("image/jpeg", 64, 48)


def test_only_image_codes_are_refusals() -> None:
    with pytest.raises(ValueError, match="not an image refusal code"):
        images.refused("x", "too_large")
