"""Sending a stored image to someone allowed to see it: the one responder of the admin
(staff) and the REST API (the owner), with one set of headers.

The headers are the stricter of the two sets the admin and the API used to send apart,
each for a reason that holds on both surfaces:

- ``Cache-Control: private, max-age=3600``: the browser of the person who may see it
  may keep it, shared caches never; an hour, not a day, because access can be revoked
  (an asset deleted, a user's content erased, staff rights withdrawn) and the ETag
  makes revalidating after that cheap (304, no bytes).
- ``ETag`` (the sha256 column): files are never overwritten (every write gets a fresh
  key), so it is a strong validator.
- ``X-Content-Type-Options: nosniff`` and, for a type not in ``INLINE_TYPES``, a
  download (``application/octet-stream``, attachment): a browser never renders stored
  bytes as a page.
- ``Content-Security-Policy: default-src 'none'; sandbox``: opened directly, the file
  can run nothing and reach nothing (an image format that carries script, such as SVG,
  stays inert).
"""

from __future__ import annotations

import io

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import get_conditional_response, patch_cache_control
from PIL import Image

from .storage import get_storage

# Types served inline; anything else is offered as a download.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})
CACHE_SECONDS = 3600
SANDBOX = "default-src 'none'; sandbox"
NO_IMAGE = "There is no image here."
MISSING = "The image file is missing from storage."


def stored_image(request: HttpRequest, name: str, mime_type: str,
                 sha256: str = "") -> HttpResponseBase:
    """The stored file ``name`` as a response; ``Http404`` when there is none."""
    etag = f'"{sha256}"' if sha256 else None
    cached = _not_modified(request, name, etag)
    if cached is not None:
        return cached
    try:
        handle = get_storage().open(name, "rb")
    except (FileNotFoundError, OSError):
        raise Http404(MISSING) from None
    inline = mime_type in INLINE_TYPES
    response = FileResponse(
        handle, content_type=mime_type if inline else "application/octet-stream",
        as_attachment=not inline, filename=name.rsplit("/", 1)[-1],
    )
    return _headers(response, etag)


def thumbnail(request: HttpRequest, name: str, sha256: str, box: int) -> HttpResponseBase:
    """The stored image ``name`` scaled down (never up) to fit a ``box`` square, so a
    long thread loads a few KB per image until someone opens one. Made on request (a
    browser keeps it: the ETag is the source's sha256 and the box)."""
    etag = f'"{sha256}-{box}"' if sha256 else None
    cached = _not_modified(request, name, etag)
    if cached is not None:
        return cached
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
        raise Http404(MISSING) from None
    except (OSError, ValueError, Image.DecompressionBombError):
        raise Http404("The stored file is not an image Pillow can read.") from None
    response = HttpResponse(out.getvalue(),
                            content_type="image/jpeg" if opaque else "image/png")
    return _headers(response, etag)


def _not_modified(request: HttpRequest, name: str,
                  etag: str | None) -> HttpResponseBase | None:
    """``304`` when the browser holds this version already; ``Http404`` for no file."""
    if not name:
        raise Http404(NO_IMAGE)
    if etag is None:
        return None
    response = get_conditional_response(request, etag=etag)
    return None if response is None else _headers(response, etag)


def _headers(response: HttpResponseBase, etag: str | None) -> HttpResponseBase:
    patch_cache_control(response, private=True, max_age=CACHE_SECONDS)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX
    if etag:
        response["ETag"] = etag
    return response
