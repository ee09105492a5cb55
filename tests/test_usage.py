"""Usage per user and day and its cost estimate (``aigen_app.usage``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import timezone

from aigen_app import usage
from aigen_app.models import Conversation, Generation, GenerationStatus

pytestmark = pytest.mark.django_db

PRICES = {"model-a": {"input": 1, "output": 10}, "model-a-long": {"input": 2, "output": 20}}


def generation(owner: Any, status: str = GenerationStatus.SUCCEEDED, *, model: str = "model-a",
               days_ago: int = 0, tokens: tuple[int, int, int] = (0, 0, 0)) -> Generation:
    created = timezone.now() - timedelta(days=days_ago)
    return Generation.objects.create(
        owner=owner, conversation=Conversation.objects.create(owner=owner), prompt="p",
        width=8, height=8, model=model, status=status, created_at=created,
        prompt_tokens=tokens[0], candidates_tokens=tokens[1], thoughts_tokens=tokens[2])


@override_settings(AIGEN={"PRICES": PRICES})
def test_a_model_is_priced_by_its_own_entry_else_the_longest_prefix() -> None:
    assert usage.price_for("model-a") == usage.Price(Decimal(1), Decimal(10))
    assert usage.price_for("model-a-long-002") == usage.Price(Decimal(2), Decimal(20))
    assert usage.price_for("model-a-001") == usage.Price(Decimal(1), Decimal(10))
    assert usage.price_for("other") is None
    assert usage.estimate_cost("model-a", 1_000_000, 500_000) == Decimal(6)


def test_a_malformed_price_names_the_setting() -> None:
    with override_settings(AIGEN={"PRICES": {"m": {"input": 1}}}), \
            pytest.raises(ImproperlyConfigured, match=r"AIGEN\[\"PRICES\"\]\['m'\]"):
        usage.price_for("m")


def test_the_default_prices_cover_the_catalogs_main_image_models() -> None:
    for model in ("gemini-nano-banana-2.1", "gemini-3-pro-image", "gemini-2.5-flash-image"):
        assert usage.price_for(model) is not None


@override_settings(AIGEN={"PRICES": PRICES})
def test_usage_counts_each_user_and_day_and_estimates_the_cost(
        make_user: Callable[..., Any]) -> None:
    ada, bob = make_user("ada"), make_user("bob")
    generation(ada, tokens=(1000, 2000, 500))
    generation(ada, model="model-a-long", tokens=(1000, 1000, 0))
    generation(ada, GenerationStatus.FAILED)
    generation(ada, GenerationStatus.BLOCKED, tokens=(300, 0, 0))
    generation(ada, model="unpriced", tokens=(10, 20, 0))
    generation(bob, days_ago=1, tokens=(100, 100, 0))
    generation(bob, days_ago=40)  # outside the range
    today = timezone.localdate()

    rows = usage.usage(today - timedelta(days=7), today)

    assert [(row.day, row.owner) for row in rows] == [
        (today - timedelta(days=1), "bob"), (today, "ada")]
    bob_row, ada_row = rows
    assert (ada_row.started, ada_row.succeeded, ada_row.failed, ada_row.blocked) == (5, 3, 1, 1)
    assert (ada_row.tokens_in, ada_row.tokens_out) == (2310, 3520)
    # model-a: 1300 in, 2500 out; model-a-long: 1000 in, 1000 out; "unpriced" left out.
    assert ada_row.cost == (Decimal(1300) * 1 + 2500 * 10 + 1000 * 2 + 1000 * 20) / 10**6
    assert ada_row.unpriced_tokens == 30
    assert bob_row.cost == Decimal(100 * 1 + 100 * 10) / 10**6
    total = usage.totals(rows)
    assert (total.started, total.cost) == (6, ada_row.cost + bob_row.cost)
    assert [row.owner for row in usage.usage(today - timedelta(days=7), today, owner=bob)] == [
        "bob"]
