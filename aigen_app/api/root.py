"""The API's mount itself: a root listing the collections, and JSON for every path under
the mount that names nothing (the host's HTML "Page not found", with its URL list when
DEBUG is on, never answers an API client)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .exceptions import error_body, exception_handler
from .serializers import absolute

# The collections the root lists: (name, URL name in the ``aigen_api`` namespace).
COLLECTIONS = (("generations", "generation-list"), ("conversations", "conversation-list"),
               ("assets", "asset-list"))


class APIRoot(APIView):
    """The API: a link to each collection (each needs a signed-in user)."""

    permission_classes = [AllowAny]
    # Whatever the host's REST_FRAMEWORK defaults: JSON (and the browsable API), no versioning.
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]
    versioning_class = None
    schema = None  # not an operation of the OpenAPI document

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get(self, request: Request) -> Response:
        return Response({name: absolute(request, view) for name, view in COLLECTIONS})


@csrf_exempt
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any method on any path under the mount that no endpoint serves."""
    body = error_body(NotFound())
    body["message"] = ("No API endpoint at this path. Paths end with '/'; ids are UUIDs; "
                       f"the endpoints are listed at {absolute(request, 'root')}.")
    return JsonResponse(body, status=404)
