from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # The API, its OpenAPI document (api/schema/) and Swagger UI (api/docs/).
    path("api/", include("aigen_app.api.urls")),
]
