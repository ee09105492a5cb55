"""Mount with ``path("api/", include("aigen_app.api.urls"))``; names live in the
``aigen_api`` namespace."""

from __future__ import annotations

from rest_framework.routers import SimpleRouter

from .views import ConversationViewSet, GenerationViewSet, MediaAssetViewSet

app_name = "aigen_api"

router = SimpleRouter()
router.register("generations", GenerationViewSet, basename="generation")
router.register("conversations", ConversationViewSet, basename="conversation")
router.register("assets", MediaAssetViewSet, basename="asset")

urlpatterns = router.urls
