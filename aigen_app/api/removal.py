"""Deleting a media asset on a user's request.

This writes rows, which is the services' job; it lives here until ``aigen_app.services``
grows a ``delete_media_asset`` (then this module should forward to it).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q

from ..models import Generation, MediaAsset, TurnPart
from ..storage import get_storage


def delete_media_asset(asset: MediaAsset) -> None:
    """Delete ``asset``, and its file once committed unless a conversation still holds
    it: turns sent with the asset name the same file and are replayed to the model when a
    generation is refined."""
    name = asset.image.name or ""
    with transaction.atomic():
        asset.delete()
        if name:
            transaction.on_commit(lambda: _delete_unreferenced(name))


def _delete_unreferenced(name: str) -> None:
    if (
        TurnPart.objects.filter(image=name).exists()
        or Generation.objects.filter(Q(image=name) | Q(reference_image=name)).exists()
        or MediaAsset.objects.filter(image=name).exists()
    ):
        return
    get_storage().delete(name)
