"""Mount with ``path("api/", include("aigen_app.api.urls"))``; names live in the
``aigen_api`` namespace. The OpenAPI document is at ``schema/`` and Swagger UI at
``docs/`` under the same prefix."""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import SimpleRouter

from .documentation import SCHEMA_ROUTE, APIDocsView, APISchemaView
from .views import ConversationViewSet, GenerationViewSet, MediaAssetViewSet

app_name = "aigen_api"

router = SimpleRouter()
router.register("generations", GenerationViewSet, basename="generation")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("assets", MediaAssetViewSet, basename="asset")

urlpatterns = [
    *router.urls,
    path(SCHEMA_ROUTE, APISchemaView.as_view(), name="schema"),
    path("docs/", APIDocsView.as_view(), name="docs"),
]
