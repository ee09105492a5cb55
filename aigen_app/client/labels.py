"""How input images are introduced to the model, the same words for every provider."""

from __future__ import annotations

from .types import MediaAssetInput


def asset_intro(number: int, asset: MediaAssetInput) -> str:
    """The text that names media asset ``number`` (1-based) and says how to use it."""
    label = asset.display_name or asset.asset_type
    return (
        f"Media asset {number} — {label} ({asset.asset_type}): "
        f"use this {asset.asset_type} exactly as provided."
    )
