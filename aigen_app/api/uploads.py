"""Checking an uploaded image before anything is stored or sent: the declared type and
the size here, the content with the checks ``manage.py generate`` uses too
(``aigen_app.image_checks``), their refusals turned into the REST framework's."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files import File
from rest_framework.exceptions import ValidationError

from .. import image_checks
from ..conf import aigen_settings

ACCEPTED = image_checks.ACCEPTED
# Declared types a browser may send for an image it cannot name; anything else that is
# not image/* (text/html, application/javascript...) announces something that is no image.
NEUTRAL_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})


def invalid(message: str, code: str = "invalid_image") -> ValidationError:
    return ValidationError(message, code=code)


def validated_image(upload: File[Any]) -> bytes:
    """The bytes to store for ``upload`` (HEIC converted), or a ``ValidationError``."""
    _check_declared_type(getattr(upload, "content_type", "") or "")
    limit = int(aigen_settings.MAX_IMAGE_BYTES)
    try:
        if upload.size is not None:
            image_checks.check_byte_size(upload.size)
        upload.seek(0)
        return image_checks.check_image_bytes(upload.read(limit + 1))
    except DjangoValidationError as exc:
        raise invalid(exc.messages[0], code=exc.code or "invalid_image") from None



def _check_declared_type(content_type: str) -> None:
    declared = content_type.split(";")[0].strip().lower()
    if declared in NEUTRAL_TYPES or declared.startswith("image/"):
        return
    raise invalid(f"The file was sent as {declared}; send an image ({ACCEPTED}).",
                  code="unsupported_format")
