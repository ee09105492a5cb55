"""The OpenAPI document and the Swagger UI, served without any CDN."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from django.contrib.staticfiles import finders
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("/api/generations/", "get"), ("/api/generations/", "post"),
    ("/api/generations/{id}/", "get"), ("/api/generations/{id}/image/", "get"),
    ("/api/generations/{id}/refine/", "post"), ("/api/generations/{id}/retry/", "post"),
    ("/api/generations/{id}/cancel/", "post"), ("/api/conversations/", "get"),
    ("/api/conversations/{id}/", "get"),
    ("/api/conversations/{id}/turns/{position}/parts/{index}/image/", "get"),
    ("/api/assets/", "get"), ("/api/assets/", "post"), ("/api/assets/{id}/", "get"),
    ("/api/assets/{id}/", "delete"), ("/api/assets/{id}/image/", "get"),
}


@pytest.fixture
def openapi() -> dict[str, Any]:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    return dict(response.json())


def test_schema_lists_every_operation(openapi: dict[str, Any]) -> None:
    assert openapi["openapi"].startswith("3.")
    found = {(path, method) for path, item in openapi["paths"].items() for method in item}
    assert found == OPERATIONS
    schemes = openapi["components"]["securitySchemes"]
    assert {"tokenAuth", "cookieAuth"} <= set(schemes)


def test_uploads_are_multipart_binary(openapi: dict[str, Any]) -> None:
    components = openapi["components"]["schemas"]
    asset_body = openapi["paths"]["/api/assets/"]["post"]["requestBody"]["content"]
    assert set(asset_body) == {"multipart/form-data"}
    upload = components["MediaAssetUploadRequest"]["properties"]["image"]
    assert (upload["type"], upload["format"]) == ("string", "binary")
    create = openapi["paths"]["/api/generations/"]["post"]["requestBody"]["content"]
    assert set(create) == {"application/json", "multipart/form-data"}
    json_ref = create["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    form_ref = create["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "reference_image" not in components[json_ref]["properties"]
    assert components[form_ref]["properties"]["reference_image"]["format"] == "binary"


def test_started_and_error_responses_are_documented(openapi: dict[str, Any]) -> None:
    create = openapi["paths"]["/api/generations/"]["post"]
    assert {"201", "202", "400", "401", "429"} <= set(create["responses"])
    assert {"Location", "Retry-After"} <= set(create["responses"]["202"]["headers"])
    assert "blocked" in openapi["components"]["schemas"]["Generation"]["description"]
    refine = openapi["paths"]["/api/generations/{id}/refine/"]["post"]
    assert "409" in refine["responses"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    error = openapi["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message"}


def test_listings_say_the_count_may_be_null(openapi: dict[str, Any]) -> None:
    for name in ("PaginatedGenerationList", "PaginatedConversationList",
                 "PaginatedMediaAssetList"):
        count = openapi["components"]["schemas"][name]["properties"]["count"]
        assert count["type"] == "integer" and count["nullable"] is True
        assert "next" in count["description"]


def test_schema_is_also_served_as_yaml() -> None:
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    assert yaml.safe_load(response.content)["info"]["title"] == "aigen API"


def test_swagger_ui_is_served_from_local_static_files() -> None:
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
    assert any("drf_spectacular_sidecar/swagger-ui-dist" in s for s in sources)
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert "/api/schema/" in html


def test_a_host_with_plain_drf_settings_gets_the_documented_api(make_user: Any) -> None:
    """A project that sets neither REST_FRAMEWORK nor SPECTACULAR_SETTINGS (DRF's default
    session + basic authentication, its own error handler, the plain schema class):
    tokens still work, errors keep the one shape, uploads are still binary."""
    from django.test import override_settings
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=make_user("host"))
    with override_settings(REST_FRAMEWORK={}, SPECTACULAR_SETTINGS={}):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        assert client.get("/api/generations/").status_code == 200
        refused = APIClient().get("/api/generations/")
        assert refused.status_code == 401
        assert refused.json()["code"] == "not_authenticated"
        document = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    schemas = document["components"]["schemas"]
    upload = next(schemas[name]["properties"]["image"] for name in schemas
                  if name.startswith("MediaAssetUpload"))
    assert (upload["type"], upload["format"]) == ("string", "binary")
