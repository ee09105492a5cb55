"""Media assets: images a user uploads once and sends with many prompts."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ..models import AssetType, MediaAsset
from ..storage import written_files
from . import inputs


def add_media_asset(
    image: inputs.ImageInput,
    *,
    owner: Any = None,
    asset_type: str = AssetType.OTHER,
    display_name: str = "",
) -> MediaAsset:
    """Store an asset, or return the owner's existing asset with the same image (sha256).

    Raises ``ValidationError`` for an unknown ``asset_type`` or an unreadable, oversized
    or unsupported image.
    """
    if asset_type not in AssetType.values:
        raise ValidationError(
            f"asset_type must be one of {', '.join(AssetType.values)}.", code="invalid_asset"
        )
    data, info = inputs.read_image(image, "media asset")
    existing = _owned(owner, info.sha256)
    if existing is not None:
        return existing
    try:
        with written_files() as files, transaction.atomic():
            name = files.save("assets", data, info.mime_type)
            return MediaAsset.objects.create(
                owner=owner, image=name, mime_type=info.mime_type, width=info.width,
                height=info.height, byte_size=info.byte_size, sha256=info.sha256,
                asset_type=asset_type, display_name=display_name[:200],
            )
    except IntegrityError:
        # The same image was stored by a concurrent request; its file was deleted above.
        existing = _owned(owner, info.sha256)
        if existing is None:
            raise
        return existing


def _owned(owner: Any, sha256: str) -> MediaAsset | None:
    if owner is None:
        return None
    return MediaAsset.objects.filter(owner=owner, sha256=sha256).first()
