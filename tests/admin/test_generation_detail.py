"""A generation's page: everything about it, read-only, with links along its lineage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from aigen_app import services
from aigen_app.models import Generation
from tests.support import png_bytes

from .helpers import admin_url, field

pytestmark = pytest.mark.django_db


def test_detail_shows_preview_request_usage_timings_attempts_and_lineage(
        admin_client: Client, make_generation: Callable[..., Generation],
        make_user: Callable[..., Any]) -> None:
    ada = make_user("ada")
    logo = services.add_media_asset(png_bytes(40, 20), owner=ada, asset_type="logo",
                                    display_name="ACME logo")
    parent = make_generation("A poster", owner=ada, width=1536, height=1024, seed=42,
                             reference_image=png_bytes(40, 30), media_assets=[logo])
    child = make_generation("Bigger letters", refine=parent)

    html = admin_client.get(admin_url("generation", "change", parent.pk)).content.decode()
    # A large preview from the admin-only view, sized from the columns (fit in 768).
    assert (f'<img src="{admin_url("generation", "image", object_id=parent.pk)}" alt="A poster" '
            'class="aigen-preview" width="768" height="512"') in html
    assert "aigen-status--succeeded" in field(html, "status_badge")
    assert "ada" in field(html, "owner")
    # Every request parameter.
    assert field(html, "prompt") == "A poster"
    assert field(html, "size") == "1536x1024"
    assert field(html, "model_display") == parent.model
    assert field(html, "seed") == "42"
    assert "icon-no.svg" in field(html, "enable_grounding")
    assert admin_url("generation", "reference", object_id=parent.pk) in field(
        html, "reference_preview")
    assert "ACME logo" in field(html, "assets_preview")
    assert admin_url("mediaasset", "image", object_id=logo.pk) in field(html, "assets_preview")
    # The result, usage, timings and attempts.
    assert parent.sha256 in field(html, "image_details")
    assert field(html, "finish_reason") == parent.finish_reason
    assert field(html, "total_tokens") == str(parent.total_tokens)
    assert field(html, "prompt_tokens") == str(parent.prompt_tokens)
    assert field(html, "thoughts_tokens") == str(parent.thoughts_tokens)
    assert field(html, "run_time").endswith(" s")
    assert field(html, "inference_time").endswith(" s")
    assert field(html, "task_runs") == "1"
    assert field(html, "http_attempts") == "1"
    # Links along the lineage and to the conversation.
    assert admin_url("conversation", "change", parent.conversation_id) in field(
        html, "conversation_link")
    assert field(html, "parent_link") == "—"
    assert admin_url("generation", "change", child.pk) in field(html, "refinements_links")

    child_html = admin_client.get(admin_url("generation", "change", child.pk)).content.decode()
    assert admin_url("generation", "change", parent.pk) in field(child_html, "parent_link")


def test_detail_of_a_blocked_generation_says_why(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    blocked = make_generation("Something forbidden", fault="block_prompt")
    html = admin_client.get(admin_url("generation", "change", blocked.pk)).content.decode()
    assert field(html, "block_reason") == "SAFETY"
    assert field(html, "error_code") == "content_policy"
    assert "blocked by content policy" in field(html, "error_message")
    assert "aigen-status--blocked" in field(html, "status_badge")
    assert field(html, "preview").startswith("No image")


@pytest.mark.parametrize("model", ["generation", "conversation", "mediaasset"])
def test_rows_are_never_edited_by_hand(
        admin_client: Client, make_generation: Callable[..., Generation],
        make_user: Callable[..., Any], model: str) -> None:
    owner = make_user()
    asset = services.add_media_asset(png_bytes(), owner=owner)
    generation = make_generation("A poster", owner=owner, media_assets=[asset])
    pk = {"generation": generation.pk, "conversation": generation.conversation_id,
          "mediaasset": asset.pk}[model]

    if model != "generation":  # a generation is added by the start form (test_acting)
        assert admin_client.get(admin_url(model, "add")).status_code == 403
    if model != "conversation":  # its page is the thread, with the refine form
        html = admin_client.get(admin_url(model, "change", pk)).content.decode()
        assert 'name="_save"' not in html
        assert admin_client.post(admin_url(model, "change", pk),
                                 {"prompt": "edited"}).status_code == 403
    generation.refresh_from_db()
    assert generation.prompt == "A poster"
