"""Mount with ``path("api/", include("aigen_app.api.urls"))``; names live in the
``aigen_api`` namespace. The OpenAPI document is at ``schema/`` and Swagger UI at
``docs/`` under the same prefix. Every path under the mount answers JSON: the root lists
the collections, and a path no endpoint serves gets the API's 404 body (``root``)."""

from __future__ import annotations

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from .documentation import SCHEMA_ROUTE, APIDocsView, APISchemaView
from .root import APIRoot, not_found
from .views import ConversationViewSet, GenerationViewSet, MediaAssetViewSet

app_name = "aigen_api"

router = SimpleRouter()
router.register("generations", GenerationViewSet, basename="generation")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("assets", MediaAssetViewSet, basename="asset")

urlpatterns = [
    path("", APIRoot.as_view(), name="root"),
    *router.urls,
    path(SCHEMA_ROUTE, APISchemaView.as_view(), name="schema"),
    path("docs/", APIDocsView.as_view(), name="docs"),
    re_path(r"", not_found, name="not-found"),  # last: whatever nothing above matched
]
