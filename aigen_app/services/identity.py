"""What a provider may learn about who asked: a stable, opaque id of the owner."""

from __future__ import annotations

from typing import Any

from django.utils.crypto import salted_hmac


def safety_identifier(owner_id: Any) -> str | None:
    """A stable hash of the owner (None without one), sent as OpenAI's
    ``safety_identifier`` so its abuse checks can tell users apart without learning who
    they are. Keyed with SECRET_KEY: a bare hash of a numeric id would be reversed by
    hashing every id."""
    if owner_id is None:
        return None
    return salted_hmac("aigen.safety_identifier", str(owner_id), algorithm="sha256").hexdigest()
