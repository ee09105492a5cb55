"""Page-numbered listings, sized by ``AIGEN["API_PAGE_SIZE"]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from ..conf import aigen_settings


class PagePagination(PageNumberPagination):
    """``?page=N&page_size=M``; ``page_size`` is capped at ``AIGEN["API_MAX_PAGE_SIZE"]``."""

    page_size_query_param = "page_size"

    def paginate_queryset(
        self, queryset: QuerySet[Any, Any] | Sequence[Any], request: Request,
        view: APIView | None = None,
    ) -> list[Any] | None:
        # Read per request: the class attributes would freeze the settings at import.
        self.page_size = int(aigen_settings.API_PAGE_SIZE)
        self.max_page_size = int(aigen_settings.API_MAX_PAGE_SIZE)
        return super().paginate_queryset(queryset, request, view)
