"""Media assets: images a user uploads once and sends with many prompts."""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from ..images import ImageInput, prepared_image
from ..models import AssetType, GenerationAsset, GenerationStatus, MediaAsset
from ..storage import written_files
from .errors import AssetInUse, InvalidInput, refusing

logger = logging.getLogger("aigen.services")


def add_media_asset(
    image: ImageInput,
    *,
    owner: Any = None,
    asset_type: str = AssetType.OTHER,
    display_name: str = "",
) -> MediaAsset:
    """Store an asset, or return the owner's existing asset with the same image (sha256
    of the stored bytes: the image without its metadata, see ``images.prepared_image``).

    Raises ``ValidationError`` for an unknown ``asset_type`` or an unreadable, oversized
    or unsupported image.
    """
    return get_or_add_media_asset(image, owner=owner, asset_type=asset_type,
                                  display_name=display_name)[0]


def get_or_add_media_asset(
    image: ImageInput,
    *,
    owner: Any = None,
    asset_type: str = AssetType.OTHER,
    display_name: str = "",
) -> tuple[MediaAsset, bool]:
    """``add_media_asset``, also saying (like ``get_or_create``) whether it stored a new
    asset (True) or found the owner's existing one (False)."""
    if asset_type not in AssetType.values:
        raise InvalidInput(
            "asset_type", f"asset_type must be one of {', '.join(AssetType.values)}.",
            code="invalid_asset")
    with refusing("image"):
        data, info = prepared_image(image)
    existing = _owned(owner, info.sha256)
    if existing is not None:
        return existing, False
    try:
        with written_files() as files, transaction.atomic():
            name = files.save("assets", data, info.mime_type)
            return MediaAsset.objects.create(
                owner=owner, image=name, mime_type=info.mime_type, width=info.width,
                height=info.height, byte_size=info.byte_size, sha256=info.sha256,
                asset_type=asset_type, display_name=display_name[:200],
            ), True
    except IntegrityError:
        # The same image was stored by a concurrent request; its file was deleted above.
        existing = _owned(owner, info.sha256)
        if existing is None:
            raise
        return existing, False


def _owned(owner: Any, sha256: str) -> MediaAsset | None:
    if owner is None:
        return None
    return MediaAsset.objects.filter(owner=owner, sha256=sha256).first()


def delete_media_asset(asset: MediaAsset) -> None:
    """Delete ``asset`` and, once the outermost transaction commits, its file.

    Generations that were sent with the asset lose their link to it but keep their user
    turn, which names the same file and is replayed to the model when a generation is
    refined: while any row still names the file, the file stays. If the transaction
    rolls back, row and file both stay. The caller checks that the user may delete the
    asset; deleting one that is already gone is harmless.

    Raises ``AssetInUse`` while a pending or running generation uses the asset: it
    would be sent without it (a finished generation keeps what it was sent in its
    turn; retrying one whose asset is gone is refused by ``retry_generation``).
    """
    with transaction.atomic():
        # Locked first: a generation linking the asset that commits while this waits is
        # then seen below. One that commits after this deletion fails its own commit
        # (the link's foreign key), and creation reports that as a deleted asset
        # (``creation._check_assets_exist``).
        list(MediaAsset.objects.select_for_update().filter(pk=asset.pk).values_list("pk"))
        waiting = list(
            GenerationAsset.objects.filter(
                asset_id=asset.pk,
                generation__status__in=[GenerationStatus.PENDING, GenerationStatus.RUNNING],
            ).order_by("generation__created_at").values_list("generation_id", flat=True)
        )
        if waiting:
            raise AssetInUse(waiting)
        # Its file goes after the commit, unless a row still names it
        # (``files.delete_after_commit``, through the post_delete receiver).
        asset.delete()
