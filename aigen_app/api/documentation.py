"""The API's OpenAPI document and its Swagger UI, served by the app itself.

Both describe the app's endpoints only, under the prefix the host mounted them at, and
need nothing in the host's settings: a host's ``REST_FRAMEWORK`` without drf-spectacular's
schema class (DRF's default) would make a project-wide ``SpectacularAPIView`` fail on
every view that is not drf-spectacular's, and Swagger UI would load from a CDN unless
``SPECTACULAR_SETTINGS`` names the sidecar. The host's ``SPECTACULAR_SETTINGS`` still
applies to whatever these views do not set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.apps import apps
from django.urls import include, re_path
from drf_spectacular.settings import patched_settings
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

TITLE = "aigen API"
SCHEMA_SETTINGS: dict[str, object] = {
    "TITLE": TITLE,
    "DESCRIPTION": "AI image generation: generations, refinements, conversations and "
                   "media assets. Every object is visible to its owner only.",
    "VERSION": "1.0.0",
    # Request and response shapes differ (uploads, read-only fields).
    "COMPONENT_SPLIT_REQUEST": True,
}
SIDECAR = {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR"}
SCHEMA_ROUTE = "schema/"


class APISchemaView(SpectacularAPIView):
    """The OpenAPI 3 document of the viewsets mounted beside this view."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]
    versioning_class = None
    custom_settings = SCHEMA_SETTINGS

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from .urls import router  # the routes this view sits beside

        # Described at the prefix the host chose: where this view is, less its own route.
        mount = request.path_info.lstrip("/").removesuffix(SCHEMA_ROUTE)
        self.patterns = [re_path(f"^{re.escape(mount)}", include(router.urls))]
        return super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call,no-any-return]


@contextmanager
def swagger_files() -> Iterator[None]:
    """Swagger UI's files from drf-spectacular-sidecar when it is installed (no CDN)."""
    if not apps.is_installed("drf_spectacular_sidecar"):
        yield  # the host's SWAGGER_UI_DIST (a CDN by default; aigen.W007 says so)
        return
    with patched_settings(SIDECAR):
        yield


class APIDocsView(SpectacularSwaggerView):
    """Swagger UI for the document ``APISchemaView`` serves."""

    url_name = "aigen_api:schema"
    title = TITLE
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [AllowAny]
    versioning_class = None

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        with swagger_files():
            return super().get(request, *args, **kwargs)  # type: ignore[no-untyped-call,no-any-return]
