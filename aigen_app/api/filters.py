"""Listing filters (django-filter), and DRF's search made safe for PostgreSQL."""

from __future__ import annotations

import django_filters
from rest_framework import filters
from rest_framework.request import Request

from ..models import AssetType, Conversation, Generation, GenerationStatus, MediaAsset


class GenerationFilter(django_filters.FilterSet):  # type: ignore[misc]
    status = django_filters.MultipleChoiceFilter(choices=GenerationStatus.choices)
    model = django_filters.CharFilter()
    conversation = django_filters.UUIDFilter(field_name="conversation_id")
    parent = django_filters.UUIDFilter(field_name="parent_id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at",
                                                     lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at",
                                                      lookup_expr="lt")

    class Meta:
        model = Generation
        fields = ["status", "model", "conversation", "parent", "created_after",
                  "created_before"]


class ConversationFilter(django_filters.FilterSet):  # type: ignore[misc]
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at",
                                                     lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at",
                                                      lookup_expr="lt")

    class Meta:
        model = Conversation
        fields = ["created_after", "created_before"]


class MediaAssetFilter(django_filters.FilterSet):  # type: ignore[misc]
    asset_type = django_filters.MultipleChoiceFilter(choices=AssetType.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at",
                                                     lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at",
                                                      lookup_expr="lt")

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
