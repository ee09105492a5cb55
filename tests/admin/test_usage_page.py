"""The usage page: per user and day, date and user filters, an estimated cost labelled
as such, a CSV whose figures are the page's; and the generation list's CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone

from aigen_app.models import Generation, GenerationStatus
from tests.test_usage import PRICES, generation

from .helpers import VIEW_ALL, admin_url, staff_client

pytestmark = pytest.mark.django_db


def read_csv(response: Any) -> list[dict[str, str]]:
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@override_settings(AIGEN={"PRICES": PRICES})
def test_the_usage_page_and_its_csv_show_the_same_figures(
        make_user: Callable[..., Any]) -> None:
    ada, bob = make_user("ada"), make_user("bob")
    generation(ada, tokens=(1000, 2000, 0))
    generation(ada, GenerationStatus.FAILED)
    generation(bob, GenerationStatus.BLOCKED, days_ago=2)
    generation(bob, days_ago=60)
    client = staff_client(make_user("mod"), *VIEW_ALL)
    today = timezone.localdate()

    assert 'class="aigen-usage-link"' in client.get(admin_url("generation")).content.decode()
    html = client.get(admin_url("generation", "usage")).content.decode()
    assert "Estimated cost" in html and "not a bill" in html
    assert html.count('class="aigen-usage-row"') == 2  # the last 30 days by default
    assert "~0.0210" in html  # 1000 x 1 + 2000 x 10 per million

    query = {"start": (today - timedelta(days=3)).isoformat(), "end": today.isoformat()}
    page = client.get(admin_url("generation", "usage"), query).content.decode()
    assert f'href="?start={query["start"]}&amp;end={query["end"]}&amp;format=csv"' in page
    rows = read_csv(client.get(admin_url("generation", "usage"), {**query, "format": "csv"}))
    assert rows == [
        {"day": (today - timedelta(days=2)).isoformat(), "user": "bob", "started": "1",
         "succeeded": "0", "failed": "0", "blocked": "1", "tokens_in": "0", "tokens_out": "0",
         "estimated_cost_usd": "0.0000", "unpriced_tokens": "0"},
        {"day": today.isoformat(), "user": "ada", "started": "2", "succeeded": "1",
         "failed": "1", "blocked": "0", "tokens_in": "1000", "tokens_out": "2000",
         "estimated_cost_usd": "0.0210", "unpriced_tokens": "0"},
    ]
    only_bob = read_csv(client.get(admin_url("generation", "usage"),
                                   {**query, "user": "bob", "format": "csv"}))
    assert [row["user"] for row in only_bob] == ["bob"]


def test_bad_filters_are_reported(make_user: Callable[..., Any]) -> None:
    client = staff_client(make_user("mod"), *VIEW_ALL)
    html = client.get(admin_url("generation", "usage"),
                      {"start": "2026-02-01", "end": "2026-01-01", "user": "nobody"}
                      ).content.decode()
    assert "The start date is after the end date." in html
    assert "No user named &#x27;nobody&#x27;." in html


def test_the_usage_page_needs_the_view_permission(make_user: Callable[..., Any]) -> None:
    client = staff_client(make_user("mod"), "view_conversation")
    assert client.get(admin_url("generation", "usage")).status_code == 403


def test_the_generation_list_exports_the_selection_as_csv(
        make_user: Callable[..., Any]) -> None:
    ada = make_user("ada")
    first = generation(ada, tokens=(5, 6, 7))
    risky = generation(ada, GenerationStatus.FAILED)
    Generation.objects.filter(pk=risky.pk).update(prompt="=HYPERLINK(\"x\")",
                                                  error_code="timeout")
    client = staff_client(make_user("mod"), *VIEW_ALL)

    rows = read_csv(client.post(admin_url("generation"), {
        "action": "export_csv", "_selected_action": [str(first.pk), str(risky.pk)]}))

    assert [row["id"] for row in rows] == [str(first.pk), str(risky.pk)]
    assert rows[0]["owner"] == "ada" and rows[0]["total_tokens"] == "0"
    assert (rows[0]["prompt_tokens"], rows[0]["candidates_tokens"]) == ("5", "6")
    assert rows[1]["prompt"] == "'=HYPERLINK(\"x\")"  # never run as a formula
    assert rows[1]["error_code"] == "timeout"
