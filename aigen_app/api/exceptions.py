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
    IdempotencyKeyReused,
    InvalidGenerationState,
    QuotaExceeded,
    ServiceError,
)

NON_FIELD = api_settings.NON_FIELD_ERRORS_KEY
INTERNAL_ERROR = {"code": "internal_error",
                  "message": "The server failed to handle this request; try again later."}

logger = logging.getLogger("aigen.api")


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The resource's state does not allow this operation."
    default_code = "invalid_state"


class AssetBusy(Conflict):
    default_detail = "A generation that has not finished uses this asset."
    default_code = "asset_in_use"


class KeyReused(exceptions.APIException):
    """The IETF idempotency-key draft's answer to a key reused with another payload."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This idempotency key was already used for a different request."
    default_code = "idempotency_key_reused"


class QuotaReached(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Daily generation limit reached."
    default_code = "quota_exceeded"

    def __init__(self, detail: str, wait: int) -> None:
        super().__init__(detail)
        self.wait = wait


class ServiceRefused(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The request was refused."
    default_code = "service_error"


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
    if isinstance(exc, QuotaExceeded):
        wait = max(1, math.ceil((exc.resets_at - timezone.now()).total_seconds()))
        return QuotaReached(exc.message, wait)
    if isinstance(exc, InvalidGenerationState):
        return Conflict(exc.message)
    if isinstance(exc, AssetInUse):
        return AssetBusy(exc.message)
    if isinstance(exc, IdempotencyKeyReused):
        return KeyReused(exc.message)
    if isinstance(exc, ServiceError):
        return ServiceRefused(exc.message, code=exc.code)
    return exc


def error_code(exc: exceptions.APIException) -> str:
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
    if hasattr(exc, "error_dict"):
        return {key: get_error_detail(DjangoValidationError(value))
                for key, value in exc.error_dict.items()}
    return {NON_FIELD: get_error_detail(exc)}


def _first_message(fields: dict[str, list[str]]) -> str:
    for name, messages in fields.items():
        if messages:
            return messages[0] if name == NON_FIELD else f"{name}: {messages[0]}"
    return ""
