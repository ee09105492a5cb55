"""Listing filters (django-filter); search and ordering use DRF's own filters."""

from __future__ import annotations

import django_filters

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
