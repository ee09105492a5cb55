"""Listing filters (django-filter), and DRF's search made safe for PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField
from rest_framework import filters
from rest_framework.request import Request

from ..client.catalog import PROVIDER_LABELS
from ..models import (
    AssetType,
    Conversation,
    Generation,
    GenerationStatus,
    MediaAsset,
    provider_match,
)


class UTCDateTimeField(IsoDateTimeField):  # type: ignore[misc]
    """An ISO 8601 date-time, converted to UTC: PostgreSQL refuses offsets beyond
    ±15:59, which the ISO format allows."""

    def to_python(self, value: Any) -> datetime | None:
        parsed: datetime | None = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError("Enter a date and time between the years 1 and 9999.",
                                  code="invalid") from None


class UTCDateTimeFilter(django_filters.IsoDateTimeFilter):  # type: ignore[misc]
    field_class = UTCDateTimeField


class CreatedRange(django_filters.FilterSet):  # type: ignore[misc]
    """``created_after`` (inclusive) and ``created_before`` (exclusive), ISO 8601."""

    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt")


class GenerationFilter(CreatedRange):
    # A column of the row itself: no join, so no duplicates for DISTINCT to remove (it
    # would also make the capped page count select every column).
    status = django_filters.MultipleChoiceFilter(choices=GenerationStatus.choices,
                                                 distinct=False)
    model = django_filters.CharFilter()
    provider = django_filters.ChoiceFilter(choices=list(PROVIDER_LABELS.items()),
                                           method="filter_provider",
                                           label="Provider of the model")
    conversation = django_filters.UUIDFilter(field_name="conversation_id")
    parent = django_filters.UUIDFilter(field_name="parent_id")

    class Meta:
        model = Generation
        fields = ["status", "model", "provider", "conversation", "parent", "created_after",
                  "created_before"]

    def filter_provider(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.filter(provider_match(value))


class ConversationFilter(CreatedRange):
    class Meta:
        model = Conversation
        fields = ["created_after", "created_before"]


class MediaAssetFilter(CreatedRange):
    asset_type = django_filters.MultipleChoiceFilter(choices=AssetType.choices,
                                                     distinct=False)

    class Meta:
        model = MediaAsset
        fields = ["asset_type", "created_after", "created_before"]


class SearchFilter(filters.SearchFilter):
    """DRF's search, minus NUL characters: PostgreSQL refuses them in a query and the
    database error would surface as a 500."""

    def get_search_terms(self, request: Request) -> list[str]:
        """The terms DRF finds, each without NUL characters; empty ones dropped."""
        terms = (str(term).replace("\x00", "") for term in super().get_search_terms(request))
        return [term for term in terms if term]


class OrderingFilter(filters.OrderingFilter):
    """DRF's ordering with the primary key appended in the direction of the last term,
    so rows with equal values (created in the same instant) keep one order from page
    to page. The listings' ``(owner, created_at, id)`` indexes hold that order either
    way, so ``created_at`` still needs no sort."""

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> list[str]:
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if not ordering or {term.lstrip("-") for term in ordering} & {"pk", "id"}:
            return ordering
        return [*ordering, "-pk" if ordering[-1].startswith("-") else "pk"]
