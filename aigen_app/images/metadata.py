"""Keeping an uploaded image private: what a camera or editor wrote about it stays out.

A photo carries EXIF (GPS position, camera and its serial number, the time it was
taken), XMP and IPTC (author, place, captions), comments and PNG text chunks. None of
that is needed to draw the image, and all of it would be stored, served back and sent to
the model. ``without_metadata`` re-encodes an image that carries any of it with Pillow,
keeping only what the pixels need:

- the EXIF orientation is applied to the pixels first (the image looks as it did);
- the ICC colour profile, PNG transparency and gamma/chromaticity/sRGB stay;
- JPEG keeps its quantisation tables and subsampling (``quality="keep"``) unless the
  orientation turned the pixels; WebP stays lossless when it was.

An image with nothing to remove is returned byte for byte, so uploading a clean image
twice stores it once (the services deduplicate assets by the stored bytes' sha256).
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageOps

# What Pillow reports in ``Image.info`` that only says how to draw the pixels. Any other
# key (exif, xmp, photoshop (IPTC), comment, PNG text chunks...) is metadata to remove.
DRAWING_KEYS = frozenset({
    "jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "icc_profile", "adobe",
    "adobe_transform", "progressive", "progression", "gamma", "srgb", "chromaticity",
    "transparency", "aspect", "interlace", "loop", "duration", "background", "timestamp",
    "default_image", "disposal", "blend", "bbox",
})
# JPEG application segments that only say how to draw: JFIF (APP0), ICC profile (APP2),
# Adobe colour transform (APP14).
DRAWING_SEGMENTS = frozenset({"APP0", "APP2", "APP14"})
ORIENTATION = 0x0112
SAVE_FORMATS = {"JPEG", "PNG", "WEBP"}


def without_metadata(data: bytes) -> bytes:
    """``data`` without EXIF, XMP, IPTC, comments or text chunks (orientation applied to
    the pixels, colour profile kept); unchanged when it carries none or is no PNG, JPEG
    or WebP image. Pillow's errors (``OSError``, ``ValueError``...) propagate."""
    with Image.open(io.BytesIO(data)) as image:
        if image.format not in SAVE_FORMATS or not carries_metadata(image):
            return data
        image.load()
        return _reencoded(image, lossless=image.format == "WEBP" and webp_lossless(data))


def carries_metadata(image: Image.Image) -> bool:
    """Whether ``image`` (opened, not necessarily loaded) holds anything to remove."""
    if set(image.info) - DRAWING_KEYS:
        return True
    applist = getattr(image, "applist", [])
    return any(marker not in DRAWING_SEGMENTS for marker, _ in applist)


def _reencoded(image: Image.Image, *, lossless: bool) -> bytes:
    fmt = image.format or "PNG"
    frames = getattr(image, "n_frames", 1)
    upright = ImageOps.exif_transpose(image) if frames == 1 else None
    turned = upright is not None and image.getexif().get(ORIENTATION, 1) != 1
    pixels = upright if turned and upright is not None else image
    options: dict[str, Any] = {}
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]
    if fmt == "JPEG":
        options.update(quality=95 if turned else "keep", subsampling="keep" if not turned
                       else _sampling(image), progressive=bool(image.info.get("progressive")),
                       comment=b"")
    elif fmt == "PNG":
        if "transparency" in image.info:
            options["transparency"] = image.info["transparency"]
        for key in ("gamma", "dpi"):
            if key in image.info:
                options[key] = image.info[key]
    elif fmt == "WEBP":
        options.update(lossless=lossless, quality=100 if lossless else 90)
    if frames > 1:
        options.update(save_all=True, duration=image.info.get("duration"),
                       loop=image.info.get("loop", 0))
    buffer = io.BytesIO()
    # An explicit empty EXIF block: Pillow would otherwise copy the source's into WebP.
    pixels.save(buffer, format=fmt, exif=b"", **options)
    return buffer.getvalue()


def webp_lossless(data: bytes) -> bool:
    """Whether a WebP file's image chunk is lossless (VP8L), read from its RIFF chunks."""
    pos = 12
    while pos + 8 <= len(data):
        kind, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if kind in (b"VP8 ", b"VP8L", b"ANMF"):
            return kind == b"VP8L"
        pos += 8 + size + (size & 1)
    return False


def _sampling(image: Image.Image) -> int:
    from PIL import JpegImagePlugin

    sampling = JpegImagePlugin.get_sampling(image)
    return sampling if sampling >= 0 else 2
