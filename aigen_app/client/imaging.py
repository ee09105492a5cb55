"""Exact output size: the API only offers ratio and size tiers, so the client scales
and centre-crops the result to cover width x height precisely."""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import MalformedResponseError

_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


def fit_exact(data: bytes, width: int, height: int) -> tuple[bytes, str, tuple[int, int]]:
    """Return ``(image_bytes, mime_type, (source_w, source_h))`` at exactly width x height.

    An image already at the right size is returned byte-for-byte. Others are resized to
    cover the box and centre-cropped (no letterboxing, no distortion), then re-encoded in
    their own format (PNG, JPEG or WebP; anything else becomes PNG).
    """
    try:
        image: Image.Image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
        raise MalformedResponseError(f"the API returned an image that cannot be decoded: {exc}"
                                     ) from exc
    fmt = image.format if image.format in _FORMATS else "PNG"
    source = image.size
    if source == (width, height):
        return data, _FORMATS[fmt], source
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    fitted = ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    out = io.BytesIO()
    if fmt == "JPEG":
        fitted.save(out, "JPEG", quality=92)
    elif fmt == "WEBP":
        fitted.save(out, "WEBP", quality=92)
    else:
        fitted.save(out, "PNG", compress_level=3)
    return out.getvalue(), _FORMATS[fmt], source
