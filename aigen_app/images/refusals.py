"""The one vocabulary of image refusals, used by the services, the REST API, the admin
and ``manage.py generate`` alike.

Two codes, because callers act on two things: the content is not an image this site
takes (``INVALID_IMAGE``: empty, not PNG/JPEG/WebP/HEIC, truncated or corrupt, a polyglot,
sent as a type that is no image), or it is one but larger than the site allows
(``IMAGE_TOO_LARGE``: bytes over ``AIGEN["MAX_IMAGE_BYTES"]`` or pixels over
``AIGEN["MAX_IMAGE_PIXELS"]``). The message says which rule refused it, for people.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

INVALID_IMAGE = "invalid_image"
IMAGE_TOO_LARGE = "image_too_large"
CODES = frozenset({INVALID_IMAGE, IMAGE_TOO_LARGE})


def refused(message: str, code: str = INVALID_IMAGE) -> ValidationError:
    """A refusal of an image: a Django ``ValidationError`` with one of ``CODES``."""
    if code not in CODES:
        raise ValueError(f"{code!r} is not an image refusal code ({', '.join(sorted(CODES))})")
    return ValidationError(message, code=code)
