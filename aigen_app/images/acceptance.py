"""What an image handed in must be, decided by its content, never by its file name or
declared type: one complete PNG, JPEG, WebP or HEIC/HEIF image, within
``AIGEN["MAX_IMAGE_BYTES"]`` and ``AIGEN["MAX_IMAGE_PIXELS"]``, with nothing before or
after the image and no markup in it. HEIC/HEIF needs the optional ``pillow-heif`` package
(``pip install 'aigen[heif]'``); such images are converted to JPEG (PNG when they have
transparency), because the model APIs and the services take PNG, JPEG and WebP.

Refusals are ``refusals.refused`` errors: one message, one of ``refusals.CODES``.
"""

from __future__ import annotations

import io
import re
import struct
import warnings
from typing import Any

from django.core.exceptions import ValidationError
from PIL import Image

from ..conf import aigen_settings
from . import containers
from .refusals import IMAGE_TOO_LARGE, refused

try:
    import pillow_heif
except ImportError:  # optional: HEIC/HEIF images are refused without it
    pillow_heif = None  # type: ignore[assignment]

ACCEPTED = "PNG, JPEG, WebP or HEIC/HEIF"
# Browsers render these when a file is opened directly; no image needs them.
MARKUP = re.compile(
    rb"<(?:script|html|body|head|iframe|svg|object|embed|form|meta|\?php)\b|<!doctype"
    rb"|javascript:",
    re.IGNORECASE,
)
# A ZIP archive's end record: zip tools find an archive by it, wherever it sits.
ZIP_END = b"PK\x05\x06"
PILLOW_FORMATS = {"png": {"PNG"}, "jpeg": {"JPEG"}, "webp": {"WEBP"}}
DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError)
BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)
# Declared types a browser may send for an image it cannot name; anything else that is
# not image/* (text/html, application/javascript...) announces something that is no image.
NEUTRAL_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
CORRUPT = "The image could not be decoded: it is truncated or corrupt."


def check_declared_type(content_type: str) -> None:
    """Refuse an upload its sender declared as something other than an image."""
    declared = content_type.split(";")[0].strip().lower()
    if declared in NEUTRAL_TYPES or declared.startswith("image/"):
        return
    raise refused(f"The file was sent as {declared}; send an image ({ACCEPTED}).")


def check_byte_size(size: int) -> None:
    """Refuse a file of ``size`` bytes above ``AIGEN["MAX_IMAGE_BYTES"]``."""
    limit = int(aigen_settings.MAX_IMAGE_BYTES)
    if size > limit:
        raise refused(f"The file is larger than {limit} bytes (AIGEN['MAX_IMAGE_BYTES']).",
                      IMAGE_TOO_LARGE)


def accepted_bytes(data: bytes) -> bytes:
    """``data`` if it is one complete, acceptable image (HEIC converted), else raise."""
    if not data:
        raise refused("The file is empty.")
    check_byte_size(len(data))
    kind = containers.sniff(data)
    if kind is None:
        raise refused(f"The file is {containers.describe(data)}, not a {ACCEPTED} image, "
                      "whatever its name says.")
    _check_structure(kind, data)
    if kind == "heif":
        return _converted_heif(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=sorted(PILLOW_FORMATS[kind])) as image:
                _check_pixels(*image.size)
                image.load()
        except ValidationError:
            raise
        except BOMB_ERRORS:  # Pillow's own guard, for sizes far above any sane cap
            raise _too_many_pixels() from None
        except DECODE_ERRORS:
            raise refused(CORRUPT) from None
    return data


def _check_structure(kind: str, data: bytes) -> None:
    try:
        layout = containers.layout(kind, data)
    except containers.Truncated:
        raise refused("The image is truncated.") from None
    except (ValueError, struct.error):
        raise refused(CORRUPT) from None
    if data[layout.end:].strip(b"\x00"):
        raise refused("The file carries other data after the image (a polyglot file); "
                      "save the image again and upload that.")
    metadata = b"".join(layout.metadata)
    if MARKUP.search(metadata) or ZIP_END in metadata:
        raise refused("The file carries markup, script or an archive inside the image; "
                      "save the image again and upload that.")


def _check_pixels(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise refused("The image has no pixels.")
    cap = int(aigen_settings.MAX_IMAGE_PIXELS)
    if width * height > cap:
        raise _too_many_pixels(f"{width}x{height} pixels")


def _too_many_pixels(size: str = "too many pixels") -> ValidationError:
    cap = int(aigen_settings.MAX_IMAGE_PIXELS)
    return refused(f"The image declares {size}, more than {cap} "
                   "(AIGEN['MAX_IMAGE_PIXELS']).", IMAGE_TOO_LARGE)


def _converted_heif(data: bytes) -> bytes:
    if pillow_heif is None:
        raise refused("HEIC/HEIF images are not supported on this server (it needs the "
                      "pillow-heif package); upload a PNG, JPEG or WebP image.")
    try:
        heif: Any = pillow_heif.open_heif(io.BytesIO(data))
        _check_pixels(*heif.size)
        image = heif.to_pillow()
    except ValidationError:
        raise
    except BOMB_ERRORS:
        raise _too_many_pixels() from None
    except (*DECODE_ERRORS, RuntimeError):
        raise refused(CORRUPT) from None
    buffer = io.BytesIO()
    if image.mode in ("RGBA", "LA") or "transparency" in image.info:
        image.save(buffer, format="PNG")
    else:
        image.convert("RGB").save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()
