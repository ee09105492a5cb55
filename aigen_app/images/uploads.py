"""From an image someone hands in to the bytes the site stores: the one path every way
in takes (REST API, admin, ``manage.py generate``, a direct service call).

Read at most ``AIGEN["MAX_IMAGE_BYTES"]`` (an uploaded file's declared size is checked
first), accept the content (``acceptance``: HEIC/HEIF converted), remove
what a camera or editor wrote about it (``metadata``), and measure the result
(``inspection``): the measurements describe the bytes stored, not the bytes received.
"""

from __future__ import annotations

from typing import Any

from django.core.files import File
from PIL import Image

from ..conf import aigen_settings
from .acceptance import accepted_bytes, check_byte_size
from .inspection import ImageInfo, inspect_image
from .metadata import without_metadata
from .refusals import refused

ImageInput = bytes | File[Any]


def read_upload(value: ImageInput) -> bytes:
    """The bytes of ``value``, refused before reading when its declared size is over
    the limit; at most one byte over the limit is read, so an oversized stream is
    refused without reading it whole."""
    if isinstance(value, bytes):
        return value
    if value.size is not None:
        check_byte_size(value.size)
    value.seek(0)
    raw = value.read(int(aigen_settings.MAX_IMAGE_BYTES) + 1)
    return raw if isinstance(raw, bytes) else raw.encode()


def prepared_image(value: ImageInput) -> tuple[bytes, ImageInfo]:
    """The bytes to store for ``value`` and their measurements, or a refusal."""
    data = accepted_bytes(read_upload(value))
    try:
        data = without_metadata(data)
        return data, inspect_image(data)
    except (ValueError, OSError, SyntaxError, EOFError, Image.DecompressionBombError):
        # Accepted above, so Pillow read it once already: a failure now is a Pillow
        # limit the acceptance did not foresee, still the image's fault.
        raise refused("The image could not be read.") from None
