"""Sending a stored image to its owner: streamed through Django by the one image
responder (``aigen_app.image_responses``, the admin's too), or a redirect to the
storage's own short-lived URL (a signed S3 URL) when it is remote."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db.models.fields.files import FieldFile
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from rest_framework.exceptions import NotFound

from ..conf import DELIVERIES, aigen_settings
from ..image_responses import NO_IMAGE, stored_image
from ..storage import get_storage


def image_response(request: HttpRequest, file: FieldFile, mime_type: str,
                   sha256: str = "") -> HttpResponseBase:
    """The response that delivers ``file``; 404 when there is none."""
    name = file.name or ""
    if not name:
        raise NotFound(NO_IMAGE)
    if _redirects():
        redirect = HttpResponseRedirect(get_storage().url(name))
        redirect["Cache-Control"] = "private, no-store"
        return redirect
    try:
        return stored_image(request, name, mime_type, sha256)
    except Http404 as exc:
        raise NotFound(str(exc)) from None


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
