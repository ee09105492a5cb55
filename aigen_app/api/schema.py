"""OpenAPI descriptions shared by the viewsets (drf-spectacular)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers

from ..services.rules import MAX_IDEMPOTENCY_KEY
from .strict import StrictInput

F = TypeVar("F", bound=Callable[..., Any])


def operation(**kwargs: Any) -> Callable[[F], F]:
    """drf-spectacular's ``extend_schema`` for a view method, built on its ``AutoSchema``.

    ``extend_schema`` bases a method's schema on ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``
    when the method names none, and DRF's own default there breaks ``/api/schema/``
    (``get_operation() takes 3 positional arguments``). Naming the class on the method
    first keeps the API's schema whatever the host's ``REST_FRAMEWORK`` says.
    """
    decorate = extend_schema(**kwargs)

    def decorator(method: F) -> F:
        if not inspect.isclass(method):
            # @action keeps its view's init arguments in ``kwargs``; others have none.
            initkwargs = getattr(method, "kwargs", None)
            if initkwargs is None:
                initkwargs = method.kwargs = {}  # type: ignore[attr-defined]
            initkwargs.setdefault("schema", AutoSchema)
        return decorate(method)  # type: ignore[no-any-return]

    return decorator


class ErrorSerializer(serializers.Serializer[Any]):
    """Every error response: a stable ``code`` and a human ``message``."""

    code = serializers.CharField(help_text=(
        "Stable, machine-readable: validation_error, parse_error, not_authenticated, "
        "authentication_failed, permission_denied, not_found, method_not_allowed, "
        "not_acceptable, unsupported_media_type, invalid_state, asset_in_use, "
        "idempotency_key_reused, rate_limited, daily_limit_reached."))
    message = serializers.CharField(help_text="For people; may change between releases.")
    # The metaclass moves declared fields off the class, so this does not shadow
    # Serializer.fields at run time.
    fields = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="validation_error only: messages per input (nested inputs dotted, "
                  "whole-request errors under non_field_errors).")
    retry_after = serializers.IntegerField(
        required=False, help_text="429 only: seconds to wait before trying again.")


ERROR_DESCRIPTIONS = {
    400: "Invalid input (code validation_error or parse_error).",
    401: "Not signed in (code not_authenticated or authentication_failed).",
    403: "Not allowed (code permission_denied).",
    404: "No such object among yours, or no such page of a list (code not_found).",
    406: "The Accept header asks for a type this endpoint cannot send (not_acceptable).",
    409: "The generation's status does not allow this (code invalid_state).",
    415: "Unsupported request Content-Type (code unsupported_media_type).",
    422: "The Idempotency-Key already started a generation with other inputs "
         "(code idempotency_key_reused); use a new key for a new request.",
    429: "Too many creates (code rate_limited) or this site's daily generation limit per "
         "user is used up (code daily_limit_reached); see Retry-After.",
}
READ = (401, 403, 406)
LIST = (400, 404, *READ)
WRITE = (400, 401, 403, 406, 415, 429)


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer, ERROR_DESCRIPTIONS[code]) for code in codes}


ASSET_IN_USE = OpenApiResponse(
    ErrorSerializer, "A pending or running generation uses the asset (code asset_in_use).")

LOCATION = OpenApiParameter(
    "Location", OpenApiTypes.URI, OpenApiParameter.HEADER, response=[201, 202],
    description="The generation's URL, to poll while it runs.",
)
RETRY_AFTER = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[202, 429],
    description="Seconds to wait before polling (202) or trying again (429).",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description=f"Up to {MAX_IDEMPOTENCY_KEY} characters. Repeating a create with the "
                "same key and the same inputs returns the generation the first request "
                "made instead of starting another; the same key with different inputs answers 422 "
                "idempotency_key_reused.",
)
IMAGE_RESPONSES: dict[Any, Any] = {
    (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, "The image (local storage)."),
    (200, "image/jpeg"): OpenApiResponse(OpenApiTypes.BINARY, "The image (local storage)."),
    (200, "image/webp"): OpenApiResponse(OpenApiTypes.BINARY, "The image (local storage)."),
    302: OpenApiResponse(description="Redirect to a short-lived signed storage URL (remote "
                                     "storage such as S3)."),
    **errors(401, 403, 404),
}

# Turn positions and part indexes are database integers.
MAX_POSITION = 2**31 - 1
PART_PARAMETERS = [
    OpenApiParameter(name, {"type": "integer", "minimum": 0, "maximum": MAX_POSITION},
                     OpenApiParameter.PATH, description=text)
    for name, text in (("position", "The turn's position in the conversation (0 first)."),
                       ("index", "The part's index within the turn (0 first)."))
]


# Free text in a query: Django's form fields refuse the NUL character.
NO_NUL = "^[^\\u0000]*$"


class StrictInputSchema(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """Input serializers as ``strict.StrictInput`` enforces them: a request body takes no
    property it does not list (``additionalProperties: false``). An extension rather
    than an AutoSchema subclass, so a host's own DEFAULT_SCHEMA_CLASS keeps working."""

    target_class = StrictInput
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        mapped: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        if direction == "request":
            mapped["additionalProperties"] = False
        return mapped
