"""Streaming stored images to staff, so the admin never needs public media URLs.

The admin's ``<img>`` tags point at these views (wrapped in ``admin_site.admin_view``
by the model admins), so a listing renders from columns alone and each image is read
from storage only when a browser asks for it. Files are never overwritten (every write
gets a fresh key), so the sha256 column is a strong ETag and browsers may cache.
"""

from __future__ import annotations

import io

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import get_conditional_response, patch_cache_control
from PIL import Image

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


def stream_thumbnail(request: HttpRequest, name: str, sha256: str,
                     box: int) -> HttpResponseBase:
    """The stored image ``name`` scaled down (never up) to fit a ``box`` square, so a
    long thread loads a few KB per image until staff open one. Made on request (a
    browser keeps it: the ETag is the source's sha256 and the box)."""
    if not name:
        raise Http404("No image stored.")
    etag = f'"{sha256}-{box}"' if sha256 else None
    if etag:
        not_modified = get_conditional_response(request, etag=etag)
        if not_modified is not None:
            return _private(not_modified)
    try:
        with get_storage().open(name, "rb") as handle, Image.open(handle) as image:
            image.draft("RGB", (box, box))  # JPEG: decode at a fraction of the size
            image.thumbnail((box, box))
            opaque = image.mode not in ("RGBA", "LA", "P")
            out = io.BytesIO()
            if opaque:
                image.convert("RGB").save(out, "JPEG", quality=85)
            else:
                image.save(out, "PNG", optimize=True)
    except FileNotFoundError:
        raise Http404("The stored image is missing.") from None
    except (OSError, ValueError, Image.DecompressionBombError):
        raise Http404("The stored file is not an image Pillow can read.") from None
    response = HttpResponse(out.getvalue(),
                            content_type="image/jpeg" if opaque else "image/png")
    response["X-Content-Type-Options"] = "nosniff"
    if etag:
        response["ETag"] = etag
    return _private(response)


def _private(response: HttpResponseBase) -> HttpResponseBase:
    # Staff-only content: browsers may keep it, shared caches must not.
    patch_cache_control(response, private=True, max_age=CACHE_SECONDS)
    return response
