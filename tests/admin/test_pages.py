"""The app's own admin pages (start, usage, a conversation's thread, erasure) sit in the
admin like its stock pages: the model's breadcrumbs, ending in the page's own crumb,
and the model's body classes beside the page's own."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from aigen_app.models import Generation

from .helpers import admin_url

pytestmark = pytest.mark.django_db


def breadcrumbs(page: str) -> list[str]:
    """The breadcrumbs' texts, in order."""
    match = re.search(r'<div class="breadcrumbs">(.*?)</div>', page, re.S)
    assert match, "no breadcrumbs"
    return [html.unescape(re.sub(r"<[^>]+>", "", crumb)).strip()
            for crumb in match.group(1).split("&rsaquo;")]


def body_classes(page: str) -> set[str]:
    match = re.search(r'<body class="([^"]*)"', page)
    assert match, "no body class"
    return set(match.group(1).split())


def test_each_page_has_the_models_breadcrumbs_and_its_own_crumb(
        admin_client: Client, make_user: Callable[..., Any],
        make_generation: Callable[..., Generation]) -> None:
    ada = make_user("ada")
    generation = make_generation("A lighthouse at dusk", owner=ada)
    pages = {
        admin_url("generation", "add"):
            (["Generations", "Start a generation"], "generation", "aigen-start-page"),
        admin_url("generation", "usage"):
            (["Generations", "Usage and estimated cost"], "generation", "aigen-usage-page"),
        admin_url("conversation", "change", generation.conversation_id):
            (["Conversations", "A lighthouse at dusk"], "conversation", "aigen-thread-page"),
        admin_url("conversation", "erase", user_id=ada.pk):
            (["Conversations", "Erase everything ada generated"], "conversation",
             "delete-confirmation"),
    }
    for url, (crumbs, model, own_class) in pages.items():
        page = admin_client.get(url).content.decode()
        assert breadcrumbs(page)[0] == "Home", url
        assert breadcrumbs(page)[2:] == crumbs, url
        assert {"app-aigen_app", f"model-{model}", own_class} <= body_classes(page), url
