"""One JSON error shape for every API failure, and nothing internal in it.

Every error body is ``{"code": ..., "message": ..., "fields": {...}?, "retry_after": ...?}``:
``code`` is stable and machine-readable, ``message`` is for people, ``fields`` maps each
invalid input (dotted for nested ones, ``non_field_errors`` for the request as a whole)
to its messages, and ``retry_after`` (seconds) accompanies 429 answers. A generation
that the model refused is *not* an error: it is a resource whose status is ``blocked``.

An unexpected exception answers 500 ``{"code": "internal_error", ...}`` with a message of
ours: its text (file paths, SQL, a traceback) goes to the ``aigen.api`` log only.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.fields import get_error_detail
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from ..services import (
    AssetInUse,
    DailyLimitReached,
    IdempotencyKeyReused,
    InvalidGenerationState,
    ServiceError,
)

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY
INTERNAL_ERROR = {"code": "internal_error",
                  "message": "The server failed to handle this request; try again later."}

logger = logging.getLogger("aigen.api")


# The HTTP status of each service refusal, by class (the first match wins, so subclasses
# first); its ``code`` and message are the service error's own.
SERVICE_STATUS: tuple[tuple[type[ServiceError], int], ...] = (
    (DailyLimitReached, status.HTTP_429_TOO_MANY_REQUESTS),
    (InvalidGenerationState, status.HTTP_409_CONFLICT),
    (AssetInUse, status.HTTP_409_CONFLICT),
    # The IETF idempotency-key draft's answer to a key reused with another payload.
    (IdempotencyKeyReused, status.HTTP_422_UNPROCESSABLE_ENTITY),
    (ServiceError, status.HTTP_400_BAD_REQUEST),
)


class ServiceRefused(exceptions.APIException):
    """A service's refusal (``ServiceError``) as an API error: its status from
    ``SERVICE_STATUS``, its code and message the service's; ``wait`` (seconds) for a
    limit that resets."""

    def __init__(self, error: ServiceError, wait: float | None = None) -> None:
        super().__init__(error.message, code=error.code)
        self.code = error.code
        self.status_code = next(code for cls, code in SERVICE_STATUS
                                if isinstance(error, cls))
        self.wait = wait


# Codes of DRF's own exceptions, by class (the first match wins, so subclasses first).
CODES: tuple[tuple[type[exceptions.APIException], str], ...] = (
    (exceptions.ValidationError, "validation_error"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
)

MESSAGES = {
    "validation_error": "The request has invalid fields.",
    "not_found": "Not found.",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with the services' errors translated and one body shape."""
    exc = translate(exc)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        request = context.get("request")
        logger.error("%s %s failed", getattr(request, "method", ""),
                     getattr(request, "path", ""), exc_info=exc)
        return Response(dict(INTERNAL_ERROR), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    response.data = error_body(exc)
    wait = getattr(exc, "wait", None)
    if wait is not None:
        response["Retry-After"] = str(math.ceil(wait))
    return response


def translate(exc: Exception) -> Exception:
    """The API exception for a Django or service exception (others unchanged)."""
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(_django_detail(exc))
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DailyLimitReached):
        return ServiceRefused(exc, wait=max(1, math.ceil(
            (exc.resets_at - timezone.now()).total_seconds())))
    if isinstance(exc, ServiceError):
        return ServiceRefused(exc)
    return exc


def error_code(exc: exceptions.APIException) -> str:
    if isinstance(exc, ServiceRefused):
        return exc.code
    for cls, code in CODES:
        if isinstance(exc, cls):
            return code
    return str(exc.default_code)


def error_body(exc: exceptions.APIException) -> dict[str, Any]:
    code = error_code(exc)
    body: dict[str, Any] = {"code": code}
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten(exc.detail)
        body["message"] = _first_message(fields) or MESSAGES[code]
        body["fields"] = fields
    else:
        body["message"] = str(exc.detail) if not isinstance(exc.detail, dict | list) else (
            MESSAGES.get(code, code))
    wait = getattr(exc, "wait", None)
    if wait is not None:
        body["retry_after"] = math.ceil(wait)
    return body


def flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """``{"field": [...], "items.0": [...]}`` from DRF's nested error detail."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = str(key) if not prefix else f"{prefix}.{key}"
            for path, messages in flatten(value, name).items():
                out.setdefault(path, []).extend(messages)
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            return {prefix or NON_FIELD: [str(item) for item in detail]} if detail else {}
        out = {}
        for index, item in enumerate(detail):
            name = str(index) if not prefix else f"{prefix}.{index}"
            for path, messages in flatten(item, name).items():
                out.setdefault(path, []).extend(messages)
        return out
    return {prefix or NON_FIELD: [str(detail)]}


def _django_detail(exc: DjangoValidationError) -> Any:
    """Field errors: each refusal under the input it names (a service's
    ``InvalidInput.field``, whatever its code), else under ``non_field_errors``."""
    if hasattr(exc, "error_dict"):
        return {key: get_error_detail(DjangoValidationError(value))
                for key, value in exc.error_dict.items()}
    detail: dict[str, list[Any]] = {}
    for error in exc.error_list:
        field = getattr(error, "field", None) or NON_FIELD
        detail.setdefault(field, []).extend(get_error_detail(error))
    return detail


def _first_message(fields: dict[str, list[str]]) -> str:
    for name, messages in fields.items():
        if messages:
            return messages[0] if name == NON_FIELD else f"{name}: {messages[0]}"
    return ""
