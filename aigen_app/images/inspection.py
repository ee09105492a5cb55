"""What listings show about a stored image (type, size, digest), measured once when it
is stored so pages render from columns without opening a file."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError


@dataclass(frozen=True)
class ImageInfo:
    """What listings show about an image, measured once when it is stored."""

    mime_type: str
    width: int
    height: int
    byte_size: int
    sha256: str


def inspect_image(data: bytes) -> ImageInfo:
    """Measure ``data``; ValueError when it is not an image Pillow can read."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            mime = Image.MIME.get(img.format or "", "")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError("not a readable image") from exc
    return ImageInfo(mime or "application/octet-stream", width, height, len(data),
                     hashlib.sha256(data).hexdigest())
