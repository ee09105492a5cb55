"""argparse ``type=`` validators shared by the app's commands: each turns a bad value into
one readable line (``ArgumentTypeError``) before anything is stored or sent."""

from __future__ import annotations

import argparse
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.core.exceptions import ValidationError

from ..images import accepted_bytes, check_byte_size
from ..models import AssetType
from ..services import rules

_SIZE = re.compile(r"^\s*(\d+)\s*[xX\u00d7]\s*(\d+)\s*$")


def image_size(value: str) -> tuple[int, int]:
    """``1280x720`` -> (1280, 720), within the services' limits (``services.rules``)."""
    match = _SIZE.match(value)
    if not match:
        raise argparse.ArgumentTypeError(f"size must look like 1280x720, not {value!r}")
    with _refusal():
        return rules.check_size(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class ImageArgument:
    path: Path
    # What to send: the file's bytes, or the JPEG/PNG a HEIC/HEIF file was converted to.
    data: bytes


def image_file(value: str) -> ImageArgument:
    """An existing file holding an image the REST API would accept for upload: checked
    by content with the checks every surface shares (``aigen_app.images``)."""
    path = Path(value)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    try:
        check_byte_size(path.stat().st_size)
        data = accepted_bytes(path.read_bytes())
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
    """An integer within the services' seed range (``services.rules``)."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer, not {value!r}") from None
    with _refusal():
        return int(rules.check("seed", number))


@contextmanager
def _refusal() -> Iterator[None]:
    """The services' refusal of a value as argparse's (one readable line)."""
    try:
        yield
    except ValidationError as exc:
        raise argparse.ArgumentTypeError(exc.messages[0]) from None
