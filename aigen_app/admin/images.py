"""Streaming stored images to staff, so the admin never needs public media URLs.

The admin's ``<img>`` tags point at these views (wrapped in ``admin_site.admin_view``
by the model admins), so a listing renders from columns alone and each image is read
from storage only when a browser asks for it. Files are never overwritten (every write
gets a fresh key), so the sha256 column is a strong ETag and browsers may cache.
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import get_conditional_response, patch_cache_control

from ..storage import get_storage

# Types served inline; anything else is offered as a download so a browser never
# renders stored bytes as a page.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
CACHE_SECONDS = 24 * 3600


def stream_image(request: HttpRequest, name: str, mime_type: str,
                 sha256: str = "") -> HttpResponseBase:
    """The stored file ``name`` as a response, 404 when there is none."""
    if not name:
        raise Http404("No image stored.")
    etag = f'"{sha256}"' if sha256 else None
    if etag:
        not_modified = get_conditional_response(request, etag=etag)
        if not_modified is not None:
            return _private(not_modified)
    try:
        handle = get_storage().open(name, "rb")
    except FileNotFoundError:
        raise Http404("The stored image is missing.") from None
    inline = mime_type in INLINE_TYPES
    response = FileResponse(
        handle, content_type=mime_type if inline else "application/octet-stream",
        as_attachment=not inline, filename=name.rsplit("/", 1)[-1],
    )
    response["X-Content-Type-Options"] = "nosniff"
    if etag:
        response["ETag"] = etag
    return _private(response)


def _private(response: HttpResponseBase) -> HttpResponseBase:
    # Staff-only content: browsers may keep it, shared caches must not.
    patch_cache_control(response, private=True, max_age=CACHE_SECONDS)
    return response
