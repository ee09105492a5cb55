"""The generation list: what each row shows, its filters and search, a constant number
of queries, and no storage access while it renders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from aigen_app import services
from aigen_app.models import Generation
from aigen_app.storage import AigenStorage, get_storage
from tests.support import png_bytes

from .helpers import admin_url, image_sources, result_rows

pytestmark = pytest.mark.django_db


def listed(client: Client, query: str = "") -> dict[str, str]:
    response = client.get(admin_url("generation") + query)
    assert response.status_code == 200
    return result_rows(response.content.decode())


def test_each_row_shows_thumbnail_status_prompt_owner_model_size_tokens_created(
        admin_client: Client, make_generation: Callable[..., Generation],
        make_user: Callable[..., Any]) -> None:
    ada = make_user("ada")
    prompt = "A red lighthouse on a cliff at dusk, waves crashing below, " * 3
    done = make_generation(prompt, owner=ada, width=256, height=128)
    blocked = make_generation("Something forbidden", fault="block_prompt")

    rows = listed(admin_client)
    row = rows[str(done.pk)]
    # Thumbnail: an admin-only image view, sized from the stored columns (256x128 -> 64x32).
    assert (f'<img src="{admin_url("generation", "image", object_id=done.pk)}" '
            'alt="Generation') in row
    assert 'width="64" height="32"' in row
    assert '<span class="aigen-status aigen-status--succeeded">Succeeded</span>' in row
    assert "A red lighthouse on a cliff at dusk" in row
    assert prompt.strip() not in row  # an excerpt, not the whole prompt
    assert "…" in row
    assert ">ada<" in row
    assert done.model and f">{done.model}<" in row
    assert ">256x128<" in row
    assert done.total_tokens > 0 and f">{done.total_tokens}<" in row
    local = timezone.localtime(done.created_at)
    assert f'<td class="field-created">{local:%Y-%m-%d %H:%M}</td>' in row

    blocked_row = rows[str(blocked.pk)]
    assert "aigen-status--blocked" in blocked_row
    assert "<img" not in blocked_row  # nothing to show, and nothing requested


def test_filters_status_model_reasons_and_date(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    done = make_generation("A lighthouse", model="gemini-3-pro-image")
    blocked = make_generation("Forbidden", fault="block_prompt")
    no_image = make_generation("Only words", fault="no_image")

    assert set(listed(admin_client, "?status__exact=blocked")) == {str(blocked.pk)}
    assert set(listed(admin_client, "?model=gemini-3-pro-image")) == {str(done.pk)}
    # The others record the default model they were sent with, blocked or not.
    assert set(listed(admin_client, f"?model={blocked.model}")) == {
        str(blocked.pk), str(no_image.pk)}
    assert set(listed(admin_client, "?block_reason=SAFETY")) == {str(blocked.pk)}
    assert set(listed(admin_client, "?finish_reason=NO_IMAGE")) == {str(no_image.pk)}
    # The date filter's "Today" link, and a day with nothing in it.
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    tomorrow = today + timedelta(days=1)
    assert len(listed(admin_client, "?" + urlencode(
        {"created_at__gte": str(today), "created_at__lt": str(tomorrow)}))) == 3
    assert listed(admin_client, "?" + urlencode({"created_at__gte": str(tomorrow)})) == {}

    # The reason filters offer the values that occur, not the empty one most rows have.
    html = admin_client.get(admin_url("generation")).content.decode()
    assert "?block_reason=SAFETY" in html
    assert "?finish_reason=NO_IMAGE" in html
    assert "?block_reason=&" not in html and '?block_reason="' not in html


def test_search_by_prompt_id_and_owner(
        admin_client: Client, make_generation: Callable[..., Generation],
        make_user: Callable[..., Any]) -> None:
    ada, bob = make_user("ada"), make_user("bob")
    lighthouse = make_generation("A lighthouse", owner=ada)
    castle = make_generation("A castle", owner=bob)

    assert set(listed(admin_client, "?q=lighthouse")) == {str(lighthouse.pk)}
    assert set(listed(admin_client, "?q=bob")) == {str(castle.pk)}
    assert set(listed(admin_client, f"?q={castle.pk}")) == {str(castle.pk)}
    # Part of an id, as staff paste it from a log line.
    assert set(listed(admin_client, f"?q={str(lighthouse.pk)[:13]}")) == {str(lighthouse.pk)}


def add_rows(make_generation: Callable[..., Generation], make_user: Callable[..., Any],
             count: int) -> None:
    """``count`` owners, each with an asset, a generation using it and a refinement,
    so every list has rows whose related objects differ."""
    for _ in range(count):
        owner = make_user()
        asset = services.add_media_asset(png_bytes(20, 20, (owner.pk * 40 % 255, 0, 0)),
                                         owner=owner, asset_type="logo")
        first = make_generation(f"A poster for {owner.username}", owner=owner,
                                media_assets=[asset])
        make_generation("Bigger letters", refine=first)


@pytest.mark.parametrize("model", ["generation", "conversation", "mediaasset"])
def test_lists_make_the_same_number_of_queries_for_more_rows(
        admin_client: Client, make_generation: Callable[..., Generation],
        make_user: Callable[..., Any], model: str) -> None:
    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(admin_url(model))
        assert response.status_code == 200
        return len(captured.captured_queries), len(result_rows(response.content.decode()))

    add_rows(make_generation, make_user, 1)
    queries()  # warm the caches that do not depend on rows (content types, session)
    few, few_rows = queries()
    add_rows(make_generation, make_user, 3)
    many, many_rows = queries()
    assert many_rows > few_rows
    assert many == few


def test_pages_render_without_touching_storage(
        admin_client: Client, make_generation: Callable[..., Generation],
        make_user: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    ada = make_user("ada")
    asset = services.add_media_asset(png_bytes(), owner=ada, asset_type="logo")
    first = make_generation("A poster", owner=ada, media_assets=[asset],
                            reference_image=png_bytes(40, 30))
    second = make_generation("Bigger letters", refine=first)
    make_generation("Forbidden", fault="block_prompt")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the admin touched storage while rendering a page")

    # The app's forwarding storage and the storage it forwards to (the static files
    # storage is another object and stays usable).
    for storage in (AigenStorage, get_storage()):
        for method in ("open", "exists", "size", "url"):
            monkeypatch.setattr(storage, method, refuse)

    pages = [admin_url("generation"), admin_url("conversation"), admin_url("mediaasset"),
             admin_url("generation", "change", second.pk),
             admin_url("conversation", "change", second.conversation_id),
             admin_url("mediaasset", "change", asset.pk)]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
    listing = admin_client.get(admin_url("generation")).content.decode()
    assert len(image_sources(listing)) == 2  # the two succeeded generations' thumbnails

    # The patch is real: the image views themselves do read storage.
    with pytest.raises(AssertionError, match="touched storage"):
        admin_client.get(image_sources(listing)[0])


def test_rows_name_the_provider_and_the_list_filters_by_it(
        admin_client: Client, make_generation: Callable[..., Generation]) -> None:
    gemini = make_generation("A fox")
    openai = make_generation("A kite", model="gpt-image-2")
    assert openai.status == "succeeded" and openai.request_id

    rows = listed(admin_client)
    assert ">Gemini<" in rows[str(gemini.pk)]
    assert ">OpenAI<" in rows[str(openai.pk)]
    assert set(listed(admin_client, "?provider=openai")) == {str(openai.pk)}
    assert set(listed(admin_client, "?provider=gemini")) == {str(gemini.pk)}
