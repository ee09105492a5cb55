from __future__ import annotations

import io

import pytest
from PIL import Image

from aigen_app.client import MalformedResponseError, get_model_spec
from aigen_app.client.catalog import choose_tier, nearest_ratio
from aigen_app.client.imaging import fit_exact

from .helpers import png


@pytest.mark.parametrize(
    ("model", "size", "ratio", "tier"),
    [
        ("gemini-nano-banana-2.1", (1280, 720), "16:9", "1K"),
        ("gemini-nano-banana-2.1", (1024, 1024), "1:1", "1K"),
        ("gemini-nano-banana-2.1", (1080, 1920), "9:16", "2K"),
        ("gemini-nano-banana-2.1", (4000, 4000), "1:1", "4K"),
        ("gemini-nano-banana-2.1", (400, 3200), "1:8", "2K"),
        ("gemini-3-pro-image", (400, 3200), "9:16", "4K"),
        ("gemini-3.1-flash-image", (500, 500), "1:1", "512"),
        ("gemini-2.5-flash-image", (1280, 720), "16:9", None),
        ("gemini-3-pro-image", (2560, 1080), "21:9", "2K"),
    ],
)
def test_ratio_and_tier_choice(model: str, size: tuple[int, int], ratio: str,
                               tier: str | None) -> None:
    spec = get_model_spec(model)
    assert nearest_ratio(spec, *size) == ratio
    assert choose_tier(spec, ratio, *size) == tier


def test_largest_tier_when_none_covers() -> None:
    spec = get_model_spec("gemini-3-pro-image")
    assert choose_tier(spec, "1:1", 8000, 8000) == "4K"


def test_unknown_model_gets_default_capabilities() -> None:
    spec = get_model_spec("gemini-9-image")
    assert spec.name == "gemini-9-image" and spec.grounding


def test_fit_exact_covers_and_crops_without_distortion() -> None:
    data, mime, source = fit_exact(png(1376, 768), 1280, 720)
    assert mime == "image/png" and source == (1376, 768)
    assert Image.open(io.BytesIO(data)).size == (1280, 720)


def test_fit_exact_keeps_bytes_when_size_already_matches() -> None:
    original = png(64, 32)
    assert fit_exact(original, 64, 32)[0] == original


def test_fit_exact_keeps_jpeg_as_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGB", (100, 100), (1, 2, 3)).save(out, "JPEG")
    data, mime, _ = fit_exact(out.getvalue(), 50, 20)
    assert mime == "image/jpeg" and Image.open(io.BytesIO(data)).format == "JPEG"


def test_undecodable_image_is_a_malformed_response() -> None:
    with pytest.raises(MalformedResponseError):
        fit_exact(b"not an image", 10, 10)
