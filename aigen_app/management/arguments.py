"""argparse ``type=`` validators shared by the app's commands: each turns a bad value into
one readable line (``ArgumentTypeError``) before anything is stored or sent."""

from __future__ import annotations

import argparse
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError

from ..client.catalog import MAX_EDGE
from ..image_checks import check_byte_size, check_image_bytes
from ..models import AssetType

_SIZE = re.compile(r"^\s*(\d+)\s*[xX\u00d7]\s*(\d+)\s*$")


def image_size(value: str) -> tuple[int, int]:
    """``1280x720`` -> (1280, 720), within the API's limits."""
    match = _SIZE.match(value)
    if not match:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, not {value!r}")
    width, height = int(match.group(1)), int(match.group(2))
    if not (1 <= width <= MAX_EDGE and 1 <= height <= MAX_EDGE):
        raise argparse.ArgumentTypeError(
            f"size {width}x{height} is outside the limits: 1 to {MAX_EDGE} pixels per side"
        )
    return width, height


@dataclass(frozen=True)
class ImageArgument:
    path: Path
    # What to send: the file's bytes, or the JPEG/PNG a HEIC/HEIF file was converted to.
    data: bytes


def image_file(value: str) -> ImageArgument:
    """An existing file holding an image the REST API would accept for upload: checked
    by content with the API's own checks (``aigen_app.image_checks``)."""
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    try:
        check_byte_size(path.stat().st_size)
        data = check_image_bytes(path.read_bytes())
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(f"{value}: {exc.messages[0]}") from None
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {value}: {exc.strerror}") from None
    return ImageArgument(path, data)


@dataclass(frozen=True)
class AssetArgument:
    image: ImageArgument
    asset_type: str
    display_name: str


def asset(value: str) -> AssetArgument:
    """``PATH[:TYPE[:NAME]]``, e.g. ``logo.png:logo:ACME logo``."""
    path, _, rest = value.partition(":")
    asset_type, _, name = rest.partition(":")
    asset_type = asset_type or AssetType.OTHER
    if asset_type not in AssetType.values:
        raise argparse.ArgumentTypeError(
            f"asset type {asset_type!r} is not one of {', '.join(AssetType.values)}"
        )
    return AssetArgument(image_file(path), asset_type, name)


def generation_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a generation id: {value!r}") from None


def seed(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer, not {value!r}") from None
    if not -(2**31) <= number < 2**31:
        raise argparse.ArgumentTypeError("seed must fit in 32 bits")
    return number
