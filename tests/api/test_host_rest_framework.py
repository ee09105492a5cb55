"""The API as hosts configure DRF: whatever ``REST_FRAMEWORK`` says, the schema, Swagger
UI, authentication, errors and pagination stay as documented.

Each variant runs in a process of its own: DRF and drf-spectacular read
``REST_FRAMEWORK`` when the views are imported, so an ``override_settings`` in this
process (whose views were imported under the demo's settings) would prove nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]

VARIANTS = {
    "none": None,
    "empty": {},
    "drf-schema-class": {"DEFAULT_SCHEMA_CLASS": "rest_framework.schemas.openapi.AutoSchema"},
    "other-defaults": {
        "DEFAULT_SCHEMA_CLASS": "rest_framework.schemas.openapi.AutoSchema",
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.TemplateHTMLRenderer"],
        "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.FormParser"],
        "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
        "PAGE_SIZE": 1,
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework.authentication.BasicAuthentication"],
        "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.NamespaceVersioning",
        "DEFAULT_FILTER_BACKENDS": [],
    },
}

PROBE = textwrap.dedent("""
    import json, django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient
    import yaml

    user = get_user_model().objects.create_user("host")
    token = Token.objects.create(user=user)
    anonymous, client = APIClient(), APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    schema = anonymous.get("/api/schema/")
    docs = anonymous.get("/api/docs/")
    listing = client.get("/api/generations/")
    refused = anonymous.get("/api/generations/")
    invalid = client.post("/api/generations/", {"size": "big"}, format="json")
    print(json.dumps({
        "schema": schema.status_code,
        "paths": sorted(yaml.safe_load(schema.content)["paths"])
                 if schema.status_code == 200 else [],
        "docs": docs.status_code,
        "docs_html": docs.content.decode(),
        "listing": listing.status_code,
        "listing_keys": sorted(listing.json()) if listing.status_code == 200 else [],
        "refused": [refused.status_code, refused.json().get("code")],
        "invalid": [invalid.status_code, invalid.json().get("code"),
                    sorted(invalid.json().get("fields", {}))],
    }))
""")


@pytest.mark.processes
@pytest.mark.parametrize("variant", VARIANTS)
def test_the_api_keeps_its_contract_whatever_the_hosts_rest_framework(
        variant: str, tmp_path: Path) -> None:
    rest_framework = VARIANTS[variant]
    settings = ["from project.settings import *  # noqa: F403",
                f"DATABASES = {{'default': {{'ENGINE': 'django.db.backends.sqlite3', "
                f"'NAME': {str(tmp_path / 'db.sqlite3')!r}}}}}"]
    if rest_framework is None:
        settings.append("del REST_FRAMEWORK  # noqa: F821")
        settings.insert(0, "REST_FRAMEWORK = None")
    else:
        settings.append(f"REST_FRAMEWORK = {rest_framework!r}")
    (tmp_path / "host_settings.py").write_text("\n".join(settings) + "\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "host_settings",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPOSITORY)])}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE], env=env, cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    assert seen["schema"] == 200
    assert "/api/generations/" in seen["paths"]
    assert "/api/generations/{id}/refine/" in seen["paths"]
    assert not any("schema" in path or "docs" in path for path in seen["paths"])
    assert seen["docs"] == 200
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in seen["docs_html"]
    assert "/api/schema/" in seen["docs_html"]
    assert seen["listing"] == 200
    assert seen["listing_keys"] == ["count", "next", "previous", "results"]
    assert seen["refused"] == [401, "not_authenticated"]
    assert seen["invalid"][:2] == [400, "validation_error"]
    assert "size" in seen["invalid"][2]
