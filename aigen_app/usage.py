"""Usage per user and day, with a cost estimated from the recorded token counts and the
price table in ``AIGEN["PRICES"]``: what the admin's usage page and its CSV show.

Reads only. Not ``Generation.objects.usage_by_user_and_day()``: a cost needs each
model's tokens apart, so this groups by model too and folds the models of a day here.
An estimate, never a bill: the provider's invoice also knows free tiers, batch
discounts, grounding fees and prices that changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from .conf import aigen_settings
from .models import Generation, GenerationStatus

MILLION = Decimal(1_000_000)
COST_STEP = Decimal("0.0001")


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: Decimal
    output: Decimal


def price_for(model: str) -> Price | None:
    """``model``'s price from ``AIGEN["PRICES"]``: its own entry, else the longest id it
    starts with (a dated or versioned name of a listed model); None when unpriced."""
    table = aigen_settings.PRICES or {}
    if not isinstance(table, dict):
        raise ImproperlyConfigured('AIGEN["PRICES"] must map model ids to '
                                   '{"input": ..., "output": ...}.')
    key = model if model in table else max(
        (name for name in table if model.startswith(name)), key=len, default=None)
    if key is None:
        return None
    entry = table[key]
    try:
        return Price(Decimal(str(entry["input"])), Decimal(str(entry["output"])))
    except (TypeError, KeyError, ArithmeticError, ValueError):
        raise ImproperlyConfigured(
            f'AIGEN["PRICES"][{key!r}] must be {{"input": USD per 1M tokens, '
            f'"output": USD per 1M tokens}}.') from None


def estimate_cost(model: str, tokens_in: int, tokens_out: int) -> Decimal | None:
    price = price_for(model)
    if price is None:
        return None
    return (price.input * tokens_in + price.output * tokens_out) / MILLION


@dataclass
class UsageRow:
    """One user's generations of one day (or, as totals, of the whole range)."""

    day: date | None
    owner_id: Any
    owner: str
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    blocked: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = Decimal(0)
    # Tokens of models with no price: the cost leaves them out.
    unpriced_tokens: int = 0
    models: set[str] = field(default_factory=set)

    @property
    def cost_text(self) -> str:
        """The cost to a hundredth of a cent, as the page and the CSV both show it."""
        return str(self.cost.quantize(COST_STEP, rounding=ROUND_HALF_UP))

    def add(self, other: UsageRow) -> None:
        for name in ("started", "succeeded", "failed", "blocked", "tokens_in",
                     "tokens_out", "cost", "unpriced_tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.models |= other.models


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """From ``start``'s local midnight to the one after ``end`` (settings.TIME_ZONE)."""
    return (timezone.make_aware(datetime.combine(start, time.min)),
            timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min)))


def usage(start: date, end: date, owner: Any = None) -> list[UsageRow]:
    """One row per (local day, owner) with generations created from ``start`` to
    ``end`` (both included), ordered by day then owner; only ``owner``'s if given."""
    lower, upper = day_bounds(start, end)
    generations = Generation.objects.filter(created_at__gte=lower, created_at__lt=upper)
    if owner is not None:
        generations = generations.filter(owner=owner)
    username = f"owner__{get_user_model().USERNAME_FIELD}"
    groups = (
        generations.annotate(day=TruncDate("created_at",
                                           tzinfo=timezone.get_current_timezone()))
        .values("day", "owner", username, "model")
        .annotate(
            started=Count("id"),
            succeeded=Count("id", filter=Q(status=GenerationStatus.SUCCEEDED)),
            failed=Count("id", filter=Q(status=GenerationStatus.FAILED)),
            blocked=Count("id", filter=Q(status=GenerationStatus.BLOCKED)),
            tokens_in=Sum("prompt_tokens"),
            tokens_out=Sum("candidates_tokens") + Sum("thoughts_tokens"),
        )
        .order_by("day", username, "owner", "model")
    )
    rows: dict[tuple[date, Any], UsageRow] = {}
    for group in groups:
        key = (group["day"], group["owner"])
        row = rows.get(key)
        if row is None:
            row = rows[key] = UsageRow(day=group["day"], owner_id=group["owner"],
                                       owner=group[username] or "(no owner)")
        row.add(_group_row(group))
    return list(rows.values())


def _group_row(group: dict[str, Any]) -> UsageRow:
    tokens_in, tokens_out = int(group["tokens_in"] or 0), int(group["tokens_out"] or 0)
    cost = estimate_cost(group["model"], tokens_in, tokens_out)
    return UsageRow(
        day=group["day"], owner_id=group["owner"], owner="", started=group["started"],
        succeeded=group["succeeded"], failed=group["failed"], blocked=group["blocked"],
        tokens_in=tokens_in, tokens_out=tokens_out, cost=cost or Decimal(0),
        unpriced_tokens=0 if cost is not None else tokens_in + tokens_out,
        models={group["model"]} if group["model"] else set(),
    )


def totals(rows: Iterable[UsageRow]) -> UsageRow:
    total = UsageRow(day=None, owner_id=None, owner="Total")
    for row in rows:
        total.add(row)
    return total
