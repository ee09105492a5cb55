"""Sending a stored image to its owner: streamed from local storage, or a redirect to the
storage's own short-lived URL (a signed S3 URL) when it is remote."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from rest_framework.exceptions import NotFound

from ..conf import DELIVERIES, aigen_settings
from ..storage import get_storage

# The file under a name never changes (every write gets a fresh key), but access can be
# revoked (a deleted asset), so browsers may keep it briefly and shared caches never.
STREAM_CACHE = "private, max-age=3600"


def image_response(file: FieldFile, mime_type: str) -> HttpResponseBase:
    """The response that delivers ``file``; 404 when there is none."""
    name = file.name or ""
    if not name:
        raise NotFound("There is no image here.")
    storage = get_storage()
    if _redirects():
        redirect = HttpResponseRedirect(storage.url(name))
        redirect["Cache-Control"] = "private, no-store"
        return redirect
    try:
        handle = storage.open(name, "rb")
    except (FileNotFoundError, OSError):
        raise NotFound("The image file is missing from storage.") from None
    response = FileResponse(handle, content_type=mime_type or "application/octet-stream",
                            filename=name.rsplit("/", 1)[-1])
    response["Cache-Control"] = STREAM_CACHE
    response["X-Content-Type-Options"] = "nosniff"
    # Opened directly, the file can run nothing and reach nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _redirects() -> bool:
    delivery = aigen_settings.API_IMAGE_DELIVERY
    if delivery not in DELIVERIES:
        raise ImproperlyConfigured(
            f"AIGEN['API_IMAGE_DELIVERY'] must be one of {', '.join(DELIVERIES)}.")
    if delivery != "auto":
        return bool(delivery == "redirect")
    try:
        get_storage().path("probe")
    except NotImplementedError:
        return True
    return False
