"""Listing filters (django-filter), and DRF's search made safe for PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field
from rest_framework import filters
from rest_framework.exceptions import ValidationError as RequestError
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
from .schema import NO_NUL


@extend_schema_field({"type": "string", "pattern": NO_NUL})
class TextFilter(django_filters.CharFilter):  # type: ignore[misc]
    """A text filter; the schema says what Django's form field refuses (NUL)."""


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
    model = TextFilter()
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
    """DRF's search; a NUL character (which PostgreSQL refuses in a query) is a 400
    naming ``search``, as the schema's pattern says."""

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["pattern"] = NO_NUL
        return parameters

    def get_search_terms(self, request: Request) -> list[str]:
        """The terms DRF finds; empty ones dropped."""
        try:
            terms = super().get_search_terms(request)
        except RequestError as exc:  # DRF's refusal names no parameter
            raise RequestError({self.search_param: exc.detail}) from None
        return [str(term) for term in terms if term]


class OrderingFilter(filters.OrderingFilter):
    """DRF's ordering with the primary key appended in the direction of the last term,
    so rows with equal values (created in the same instant) keep one order from page
    to page. The listings' ``(owner, created_at, id)`` indexes hold that order either
    way, so ``created_at`` still needs no sort."""

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> list[str]:
        given = request.query_params.get(self.ordering_param)
        if given:  # DRF drops unknown terms silently; a typo must not reorder quietly
            fields = {name for name, _ in self.get_valid_fields(queryset, view,
                                                                {"request": request})}
            unknown = [term for term in given.split(",")
                       if term.strip().lstrip("-") not in fields]
            if unknown:
                raise RequestError({self.ordering_param: [
                    f"Unknown ordering {', '.join(unknown)}; order by "
                    f"{', '.join(sorted(fields))}, each optionally prefixed with '-'."]})
        ordering = list(super().get_ordering(request, queryset, view) or [])
        if not ordering or {term.lstrip("-") for term in ordering} & {"pk", "id"}:
            return ordering
        return [*ordering, "-pk" if ordering[-1].startswith("-") else "pk"]

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """DRF's parameter, with the terms it accepts as a pattern."""
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        terms = "|".join(getattr(view, "ordering_fields", ()))
        for parameter in parameters:
            parameter["schema"]["pattern"] = f"^-?(?:{terms})(?:,-?(?:{terms}))*$"
            parameter["description"] = (f"Comma-separated: {', '.join(view.ordering_fields)}"
                                        ", each optionally prefixed with '-'.")
        return parameters

