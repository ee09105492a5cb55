"""Listings: pagination, filters, search, ordering, and a constant number of SQL queries
per page whatever its size or the data behind it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Conversation, Generation, GenerationStatus, MediaAsset, Turn, TurnPart
from tests.api.helpers import finished_generation, make_asset, pending_generation
from tests.support import DUMMY

URL = "/api/generations/"


def queries(call: Callable[[], Any]) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200
    return len(captured)


@pytest.mark.django_db
def test_pagination_and_page_size_cap(api: APIClient, alice: Any) -> None:
    for index in range(5):
        pending_generation(alice, f"prompt {index}")

    first = api.get(URL, {"page_size": 2}).json()
    last = api.get(URL, {"page_size": 2, "page": 3}).json()

    assert first["count"] == 5 and len(first["results"]) == 2
    assert first["next"].startswith("http://testserver/api/generations/?")
    assert first["previous"] is None
    assert [g["prompt"] for g in first["results"]] == ["prompt 4", "prompt 3"]
    assert len(last["results"]) == 1 and last["next"] is None
    with override_settings(AIGEN={"API_MAX_PAGE_SIZE": 3, "API_PAGE_SIZE": 1}):
        assert len(api.get(URL, {"page_size": 50}).json()["results"]) == 3
        assert len(api.get(URL).json()["results"]) == 1
    response = api.get(URL, {"page": 99})
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_count_stops_at_the_limit_and_next_stays_exact(api: APIClient, alice: Any) -> None:
    for index in range(5):
        pending_generation(alice, f"prompt {index}")

    with override_settings(AIGEN={"API_COUNT_LIMIT": 3}):
        first = api.get(URL, {"page_size": 2}).json()
        third = api.get(URL, {"page_size": "2", "page": "3"}).json()
        past = api.get(URL, {"page_size": "2", "page": "4"})
        far = api.get(URL, {"page_size": "2", "page": str(10**20)})
        last = api.get(URL, {"page_size": "2", "page": "last"}).json()
        within = api.get(URL, {"page_size": "2", "status": "pending",
                               "search": "prompt 1"}).json()

    assert first["count"] is None and first["previous"] is None
    assert [g["prompt"] for g in first["results"]] == ["prompt 4", "prompt 3"]
    assert first["next"] == "http://testserver/api/generations/?page=2&page_size=2"
    assert third["count"] is None and third["next"] is None
    assert [g["prompt"] for g in third["results"]] == ["prompt 0"]
    assert third["previous"] == "http://testserver/api/generations/?page=2&page_size=2"
    assert past.status_code == 404 and past.json()["code"] == "not_found"
    assert far.status_code == 404
    assert last["count"] == 5 and [g["prompt"] for g in last["results"]] == ["prompt 0"]
    assert within["count"] == 1 and within["next"] is None  # at most the limit: exact
    with override_settings(AIGEN={"API_COUNT_LIMIT": None}):
        assert api.get(URL, {"page_size": 2}).json()["count"] == 5


@pytest.mark.django_db
def test_filters_search_and_ordering(api: APIClient, alice: Any) -> None:
    old = pending_generation(alice, "An old lighthouse")
    Generation.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3),
                                                model="gemini-old")
    failed = finished_generation(alice, "A failed castle")
    pending = pending_generation(alice, "A pending lighthouse")

    def ids(**params: Any) -> list[str]:
        response = api.get(URL, params)
        assert response.status_code == 200, response.json()
        return [g["id"] for g in response.json()["results"]]

    assert ids(status="failed") == [str(failed.pk)]
    assert set(ids(status=["failed", "pending"])) == {str(failed.pk), str(pending.pk),
                                                      str(old.pk)}
    assert ids(model="gemini-old") == [str(old.pk)]
    assert ids(conversation=str(failed.conversation_id)) == [str(failed.pk)]
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert str(old.pk) not in ids(created_after=since)
    assert ids(created_before=since) == [str(old.pk)]
    assert set(ids(search="lighthouse")) == {str(old.pk), str(pending.pk)}
    assert ids(ordering="created_at")[0] == str(old.pk)
    assert ids(ordering="-created_at")[-1] == str(old.pk)
    # Offsets PostgreSQL refuses (beyond ±15:59) are converted, not a server error.
    assert str(old.pk) in ids(created_after="1409-05-11T03:24:04-20:38")
    overflow = api.get(URL, {"created_before": "0001-01-01T00:00:00+05:00"})
    assert overflow.status_code == 400
    bad = api.get(URL, {"status": "exploded", "created_after": "yesterday"})
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"status", "created_after"}


@pytest.mark.django_db
def test_generation_pages_cost_the_same_queries_whatever_their_size(
    api: APIClient, alice: Any
) -> None:
    assets = [make_asset(alice, (i, i, i)) for i in range(3)]
    with override_settings(TASKS={"default": DUMMY}):
        services.create_generation("x", owner=alice, media_assets=assets[:1])

    small = queries(lambda: api.get(URL, {"page_size": 1}))
    for index in range(12):
        with override_settings(TASKS={"default": DUMMY}):
            services.create_generation(f"p{index}", owner=alice, media_assets=assets)
    large = queries(lambda: api.get(URL, {"page_size": 10}))

    assert small == large <= 5  # auth, count, page, asset links (+ savepoints none)


@pytest.mark.django_db
def test_generation_pages_cost_the_same_queries_past_the_count_limit(
    api: APIClient, alice: Any
) -> None:
    def listing() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            response = api.get(URL, {"page_size": 2})
        assert response.status_code == 200
        return [query["sql"] for query in captured.captured_queries]

    counted = []
    with override_settings(AIGEN={"API_COUNT_LIMIT": 3}):
        for rows in (3, 4, 12):  # at the limit, just past it, far past it
            while Generation.objects.count() < rows:
                pending_generation(alice)
            counted.append(listing())

    assert len({len(sql) for sql in counted}) == 1
    # The count reads at most limit + 1 rows, whatever the rows behind it.
    for sql in counted:
        count = next(q for q in sql if q.startswith("SELECT COUNT(*)"))
        assert "LIMIT 4" in count, count


@pytest.mark.django_db
def test_status_and_type_filters_need_no_distinct(api: APIClient, alice: Any) -> None:
    # DISTINCT over every column made a filtered count read all the owner's rows.
    pending_generation(alice)
    make_asset(alice)
    for url, params in ((URL, {"status": ["pending", "failed"]}),
                        ("/api/assets/", {"asset_type": ["other", "logo"]})):
        with CaptureQueriesContext(connection) as captured:
            response = api.get(url, params)
        assert response.status_code == 200 and len(response.json()["results"]) == 1
        assert not [q for q in captured.captured_queries if "DISTINCT" in q["sql"]]


def plan(sql: str) -> str:
    """SQLite's EXPLAIN QUERY PLAN of ``sql``, its steps joined by " / "."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return " / ".join(str(row[-1]) for row in cursor.fetchall())


def listing_sql(api: APIClient, url: str, table: str, **params: Any) -> tuple[str, str]:
    """The count and the page query ``GET url`` runs on ``table`` (SQLite's captured SQL
    has its parameters inlined, so it can be explained as is)."""
    with CaptureQueriesContext(connection) as captured:
        assert api.get(url, params).status_code == 200
    queries = [q["sql"] for q in captured.captured_queries
               if f'"{table}"' in q["sql"].split(" WHERE ")[0]]
    count = next(q for q in queries if q.startswith("SELECT COUNT(*)"))
    page = next(q for q in queries if not q.startswith("SELECT COUNT(*)"))
    return count, page


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="EXPLAIN QUERY PLAN is SQLite's")
def test_generation_page_reads_the_owner_index_in_order(api: APIClient, alice: Any,
                                                         make_user: Callable[..., Any]) -> None:
    """The page query walks (owner, created_at, id) to its 50 rows, with no sort of all
    the owner's rows; the count reads that index alone. Drop the index and this fails."""
    for owner in (alice, make_user("bob")):
        for _ in range(3):
            pending_generation(owner)
    for ordering in ("-created_at", "created_at"):
        count, page = listing_sql(api, URL, "aigen_app_generation", page_size=2,
                                  ordering=ordering)

        assert "USING INDEX aigen_gen_owner_created (owner_id=?)" in plan(page), plan(page)
        assert "TEMP B-TREE" not in plan(page), plan(page)
        assert "USING COVERING INDEX" in plan(count), plan(count)


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="EXPLAIN QUERY PLAN is SQLite's")
def test_asset_page_reads_the_owner_index_in_order(api: APIClient, alice: Any,
                                                   make_user: Callable[..., Any]) -> None:
    for index, owner in enumerate((alice, make_user("bob"))):
        for shade in range(3):
            make_asset(owner, (index, shade, 7))
    for ordering in ("-created_at", "created_at"):
        _, page = listing_sql(api, "/api/assets/", "aigen_app_mediaasset", page_size=2,
                              ordering=ordering)

        assert "USING INDEX aigen_asset_owner_created (owner_id=?)" in plan(page), plan(page)
        assert "TEMP B-TREE" not in plan(page), plan(page)


@pytest.mark.django_db
def test_asset_and_conversation_pages_cost_the_same_queries(api: APIClient,
                                                            alice: Any) -> None:
    make_asset(alice, (1, 1, 1))
    pending_generation(alice)
    small = [queries(lambda u=u: api.get(u, {"page_size": 1}))  # type: ignore[misc]
             for u in ("/api/assets/", "/api/conversations/")]
    for index in range(8):
        make_asset(alice, (index + 2, 0, 0))
        pending_generation(alice)
    large = [queries(lambda u=u: api.get(u, {"page_size": 10}))  # type: ignore[misc]
             for u in ("/api/assets/", "/api/conversations/")]

    assert small == large


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("immediate_tasks")
def test_conversation_detail_costs_the_same_queries_whatever_its_length(
    api: APIClient, alice: Any, aigen_emulator: EmulatorServer
) -> None:
    first = api.post(URL, {"prompt": "start"}, format="json").json()
    detail = f"/api/conversations/{first['conversation']}/"
    short = queries(lambda: api.get(detail))
    parent = first
    for index in range(3):
        parent = api.post(f"{URL}{parent['id']}/refine/", {"prompt": f"again {index}"},
                          format="json").json()
    assert parent["status"] == GenerationStatus.SUCCEEDED
    long = queries(lambda: api.get(detail))

    assert len(api.get(detail).json()["turns"]) == 8
    assert short == long


def succeeded(generation: Generation) -> Generation:
    """``generation`` marked succeeded with a text reply, so it can be refined (no call)."""
    Generation.objects.filter(pk=generation.pk).update(status=GenerationStatus.SUCCEEDED)
    TurnPart.objects.create(turn=Turn.objects.get(generation=generation, role="model"),
                            index=0, kind="text", text="Here it is")
    return Generation.objects.get(pk=generation.pk)


def refined(parent: Generation, prompt: str = "more") -> Generation:
    with override_settings(TASKS={"default": DUMMY}):
        return services.refine(parent, prompt)


CONVERSATIONS = "/api/conversations/"


@pytest.mark.django_db
def test_conversation_pages_count_each_conversations_generations(
    api: APIClient, alice: Any, make_user: Callable[..., Any]
) -> None:
    """Counted for the page's conversations alone, and right: refinements (two of the
    root, one of a refinement) count in their conversation, no one else's."""
    root = succeeded(pending_generation(alice, "root"))
    refined(root, "first")
    refined(succeeded(refined(root, "second")), "third")
    lone = pending_generation(alice, "lone")
    empty = Conversation.objects.create(owner=alice, title="empty")
    bobs = pending_generation(make_user("bob"), "bob's")
    refined(succeeded(bobs))
    expected = {str(root.conversation_id): 4, str(lone.conversation_id): 1,
                str(empty.pk): 0}

    whole = api.get(CONVERSATIONS).json()["results"]
    paged = [c for n in (1, 2, 3)
             for c in api.get(CONVERSATIONS, {"page_size": 1, "page": n}).json()["results"]]
    detail = api.get(f"{CONVERSATIONS}{root.conversation_id}/").json()

    assert {c["id"]: c["generation_count"] for c in whole} == expected
    assert {c["id"]: c["generation_count"] for c in paged} == expected
    assert detail["generation_count"] == 4


@pytest.mark.django_db
def test_conversation_pages_cost_the_same_queries_whatever_their_size(
    api: APIClient, alice: Any
) -> None:
    """Auth, count, page, and one query counting the page's generations: at the count
    limit, past it and far past it, with conversations of one or several generations."""
    counted = []
    with override_settings(AIGEN={"API_COUNT_LIMIT": 3}):
        for size in (3, 4, 12):
            while Conversation.objects.count() < size:
                refined(succeeded(pending_generation(alice)))
            counted.append(queries(lambda: api.get(CONVERSATIONS, {"page_size": 2})))
            counted.append(queries(lambda: api.get(CONVERSATIONS, {"page_size": 10})))

    assert set(counted) == {4}


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="EXPLAIN QUERY PLAN is SQLite's")
def test_conversation_page_reads_the_owner_index_in_order(
    api: APIClient, alice: Any, make_user: Callable[..., Any]
) -> None:
    """The page walks (owner, created_at, id) to its rows in either direction, with no
    sort of all the owner's conversations, and its generations are counted from the
    conversation index alone. Drop the index, or count by a join, and this fails."""
    for owner in (alice, make_user("bob")):
        for _ in range(3):
            refined(succeeded(pending_generation(owner)))
    for ordering in ("-created_at", "created_at"):
        with CaptureQueriesContext(connection) as captured:
            count, page = listing_sql(api, CONVERSATIONS, "aigen_app_conversation",
                                      page_size=2, ordering=ordering)
        assert "USING INDEX aigen_conv_owner_created (owner_id=?)" in plan(page), plan(page)
        assert "TEMP B-TREE" not in plan(page), plan(page)
        assert "USING COVERING INDEX" in plan(count), plan(count)
        assert "generation" not in page.split(" FROM ")[1]  # no join, no subquery
        generations = next(q["sql"] for q in captured.captured_queries
                           if q["sql"].split(" WHERE ")[0].endswith('"aigen_app_generation"'))
        assert "USING COVERING INDEX" in plan(generations), plan(generations)
        assert "TEMP B-TREE" not in plan(generations), plan(generations)


@pytest.mark.django_db
def test_rows_created_in_the_same_instant_keep_one_order_across_pages(
    api: APIClient, alice: Any
) -> None:
    """Equal timestamps are ordered by id, in the direction of the ordering asked for,
    so paging never repeats or skips a row."""
    for index in range(5):
        pending_generation(alice)
        make_asset(alice, (index, 0, 0))
    now = timezone.now()
    for model in (Generation, Conversation, MediaAsset):
        model.objects.update(created_at=now)  # type: ignore[attr-defined]
    Conversation.objects.update(updated_at=now)

    def paged(url: str, ordering: str | None) -> list[str]:
        params: dict[str, Any] = {"page_size": 2}
        if ordering is not None:
            params["ordering"] = ordering
        return [row["id"] for n in (1, 2, 3)
                for row in api.get(url, {**params, "page": n}).json()["results"]]

    for url, model in ((URL, Generation), (CONVERSATIONS, Conversation),
                       ("/api/assets/", MediaAsset)):
        ids = sorted(model.objects.values_list("pk", flat=True))  # type: ignore[attr-defined]
        newest_first, oldest_first = [str(pk) for pk in reversed(ids)], [str(pk) for pk in ids]
        assert paged(url, None) == newest_first, url
        assert paged(url, "-created_at") == newest_first, url
        assert paged(url, "created_at") == oldest_first, url
    assert paged(CONVERSATIONS, "updated_at") == paged(CONVERSATIONS, "created_at")
