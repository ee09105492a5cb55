"""The admin in another language: every page renders with it active, and its strings
are marked for translation (``makemessages`` finds them)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import translation

from aigen_app import services
from aigen_app.models import Generation
from tests.support import png_bytes

from .helpers import admin_url

pytestmark = pytest.mark.django_db

APP = Path(__file__).resolve().parents[2] / "aigen_app"


def test_every_admin_page_renders_in_french(
        admin_client: Client, make_generation: Callable[..., Generation],
        make_user: Callable[..., Any]) -> None:
    ada = make_user("ada")
    asset = services.add_media_asset(png_bytes(), owner=ada)
    first = make_generation("A fox", owner=ada)
    make_generation("In the snow", refine=first, fault="block_prompt")
    pages = [
        admin_url("generation"), admin_url("generation", "change", first.pk),
        admin_url("generation", "add"), admin_url("generation", "usage"),
        admin_url("conversation"), admin_url("conversation", "change", first.conversation_id),
        admin_url("conversation", "erase", user_id=ada.pk),
        admin_url("mediaasset"), admin_url("mediaasset", "change", asset.pk),
    ]
    with translation.override("fr"):
        for url in pages:
            response = admin_client.get(url, HTTP_ACCEPT_LANGUAGE="fr")
            assert response.status_code == 200, url
            html = response.content.decode()
            assert "Accueil" in html, url  # Django's own French: the language is active
            assert 'lang="fr"' in html, url


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_makemessages_finds_the_admins_strings(tmp_path: Path, monkeypatch: Any) -> None:
    app = tmp_path / "aigen_app"
    shutil.copytree(APP, app, ignore=shutil.ignore_patterns("__pycache__", "static"))
    (app / "locale").mkdir(exist_ok=True)
    monkeypatch.chdir(app)
    call_command("makemessages", locale=["fr"], verbosity=0)
    catalog = (app / "locale" / "fr" / "LC_MESSAGES" / "django.po").read_text()
    for msgid in ("Usage and cost", "Why", "Start a generation", "Ignore the daily limit",
                  "Erase everything of %(owner)s", "%(count)d generation queued again.",
                  "Export selected generations as CSV", "Delete conversation",
                  "thought signature held on %(signed)s of %(parts)s part"):
        assert f'msgid "{msgid}"' in catalog, msgid
