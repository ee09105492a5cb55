"""Uploaded images lose what a camera or editor wrote about them, whatever path they come
in by: orientation applied to the pixels, the colour profile kept, nothing else."""

from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from aigen_app import services
from aigen_app.images.metadata import webp_lossless, without_metadata
from aigen_app.storage import read_file
from tests.support import png_bytes

GPS = 0x8825
ORIENTATION = 0x0112
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_jpeg(orientation: int = 6) -> bytes:
    """A 40x30 JPEG as a phone writes it: left half red, right half blue, stored on its
    side (``orientation`` 6: turn 90 degrees clockwise to view), with GPS position,
    camera make and model, XMP, a comment and an sRGB profile."""
    image = Image.new("RGB", (40, 30), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 30))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[0x010F] = "Camera Maker"
    exif[0x0110] = "Model X"
    exif[GPS] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif, icc_profile=SRGB, comment=b"at home",
               xmp=b"<x:xmpmeta><rdf:Description exif:GPSLatitude='48,51N'/></x:xmpmeta>")
    return buffer.getvalue()


def assert_private(data: bytes) -> Image.Image:
    """``data`` opened, after asserting it carries no metadata but its ICC profile."""
    image = Image.open(io.BytesIO(data))
    assert not image.getexif(), dict(image.getexif())
    assert set(image.info) & {"exif", "xmp", "comment", "photoshop"} == set()
    assert b"48,51N" not in data and b"Camera Maker" not in data and b"at home" not in data
    assert image.info.get("icc_profile") == SRGB
    return image


def assert_upright(image: Image.Image) -> None:
    """The camera JPEG turned as its orientation said: red on top, blue below."""
    assert image.size == (30, 40)
    rgb = image.convert("RGB")
    top, bottom = rgb.getpixel((15, 5)), rgb.getpixel((15, 35))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_a_camera_jpeg_is_turned_upright_and_keeps_only_its_colour_profile() -> None:
    assert_upright(assert_private(without_metadata(camera_jpeg())))


def test_an_upright_jpeg_keeps_its_pixels_encoding() -> None:
    stripped = without_metadata(camera_jpeg(orientation=1))
    image = assert_private(stripped)
    assert image.size == (40, 30)
    original = Image.open(io.BytesIO(camera_jpeg(orientation=1)))
    assert image.quantization == original.quantization  # type: ignore[attr-defined]


def test_png_text_chunks_and_exif_go_transparency_and_profile_stay() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Alice Example")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>48,51N</x:xmpmeta>")
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    Image.new("RGBA", (8, 6), (1, 2, 3, 0)).save(buffer, "PNG", pnginfo=info, exif=exif,
                                                  icc_profile=SRGB)

    stripped = without_metadata(buffer.getvalue())

    image = assert_private(stripped)
    assert b"Alice Example" not in stripped and "Author" not in image.info
    assert image.mode == "RGBA" and image.getpixel((0, 0)) == (1, 2, 3, 0)


@pytest.mark.parametrize("lossless", [True, False])
def test_webp_exif_and_xmp_go(lossless: bool) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (9, 9, 9)).save(buffer, "WEBP", exif=exif, icc_profile=SRGB,
                                              xmp=b"<x:xmpmeta>48,51N</x:xmpmeta>",
                                              lossless=lossless)

    stripped = without_metadata(buffer.getvalue())

    assert_private(stripped)
    assert webp_lossless(stripped) == lossless == webp_lossless(buffer.getvalue())


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_an_image_without_metadata_is_kept_byte_for_byte(fmt: str) -> None:
    data = png_bytes(fmt=fmt)
    assert without_metadata(data) == data


@pytest.mark.django_db
def test_every_service_path_stores_the_image_without_metadata(
    make_user: Any, queued_tasks: Any, media_storage: Any
) -> None:
    """The services are the one way in (the API, admin and ``generate`` call them)."""
    owner = make_user()
    asset = services.add_media_asset(camera_jpeg(), owner=owner)
    generation = services.create_generation("A face", owner=owner,
                                            reference_image=camera_jpeg())

    for name in (asset.image.name, generation.reference_image.name):
        assert_upright(assert_private(read_file(name or "")))
    assert (asset.width, asset.height) == (30, 40)
    assert asset.byte_size == len(read_file(asset.image.name or ""))
    # Deduplicated by what is stored: the same photo again is the same asset.
    again, created = services.get_or_add_media_asset(camera_jpeg(), owner=owner)
    assert again == asset and not created
