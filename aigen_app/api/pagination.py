"""Page-numbered listings, sized by ``AIGEN["API_PAGE_SIZE"]``, whose cost does not grow
with the rows behind them.

An exact ``COUNT(*)`` reads every matching row (or index entry): on a user with 100,000
generations it cost more than the rest of the page. So the count stops at
``AIGEN["API_COUNT_LIMIT"]``: up to it ``count`` is exact, past it ``count`` is ``null``
and each page fetches one row more than it shows, to know whether ``next`` exists.
``next`` and ``previous`` are always right; ``?page=last`` counts exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from math import ceil
from typing import TYPE_CHECKING, Any, cast

from django.core.paginator import EmptyPage, InvalidPage, Page, PageNotAnInteger, Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from ..conf import aigen_settings

if TYPE_CHECKING:
    from rest_framework.pagination import HtmlContextWithPageLinks

COUNT_DESCRIPTION = ("How many results there are in all; null when there are more than "
                     "the server counts (10,000 by default). `next` is always exact: "
                     "follow it until it is null. `?page=last` counts exactly.")

# Largest OFFSET asked of the database when the length is unknown (a signed 64-bit bind).
MAX_OFFSET = 2**62


class OpenPage(Page[Any]):
    """A page of a listing whose length is unknown: it knows whether another follows."""

    def __init__(self, object_list: Sequence[Any], number: int,
                 paginator: Paginator[Any], more: bool) -> None:
        super().__init__(object_list, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more


class CappedCountPaginator(Paginator[Any]):
    """Django's paginator counting at most ``count_limit`` rows (None: all of them).

    Past the limit ``count`` and ``num_pages`` are None: any page number is accepted and
    a page past the end is empty (``EmptyPage``), found by fetching it.
    """

    def __init__(self, object_list: Any, per_page: int, count_limit: int | None,
                 count_by: str | None = None) -> None:
        super().__init__(object_list, per_page)
        self.count_limit = count_limit
        self.count_by = count_by

    @cached_property
    def count(self) -> int | None:  # type: ignore[override]
        """The number of rows if it is at most ``count_limit``, else None."""
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return len(rows)
        if self.count_limit is None:
            return int(rows.count())
        # SELECT COUNT(*) FROM (SELECT ... LIMIT n + 1): stops after n + 1 rows. Unordered,
        # and selecting only ``count_by`` (the column the listing filters on) rather than
        # the primary key, the subquery is read from an index alone.
        counted = rows.order_by()
        if self.count_by and not counted.query.distinct and counted.query.group_by is None:
            counted = counted.values(self.count_by)
        total = int(counted[:self.count_limit + 1].count())
        return total if total <= self.count_limit else None

    @cached_property
    def num_pages(self) -> int | None:  # type: ignore[override]
        if self.count is None:
            return None
        return max(1, ceil(self.count / self.per_page))

    def validate_number(self, number: Any) -> int:
        if self.count is not None:
            return int(super().validate_number(number))
        # Unknown length: Django's checks but the upper bound.
        try:
            if isinstance(number, float) and not number.is_integer():
                raise ValueError
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger(self.error_messages["invalid_page"]) from None
        if number < 1:
            raise EmptyPage(self.error_messages["min_page"])
        return int(number)

    def page(self, number: Any) -> Page[Any]:
        if self.count is not None:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if bottom > MAX_OFFSET:  # past any table, and past what the database can bind
            raise EmptyPage(self.error_messages["no_results"])
        rows = list(self.object_list[bottom:bottom + self.per_page + 1])
        if not rows:
            raise EmptyPage(self.error_messages["no_results"])
        return OpenPage(rows[:self.per_page], number, self, more=len(rows) > self.per_page)


class PagePagination(PageNumberPagination):
    """``?page=N&page_size=M``; ``page_size`` is capped at ``AIGEN["API_MAX_PAGE_SIZE"]``,
    the count at ``AIGEN["API_COUNT_LIMIT"]``. A view's ``count_by`` names the column the
    count selects (one its filter's index holds); by default the primary key."""

    page_size_query_param = "page_size"

    def paginate_queryset(
        self, queryset: QuerySet[Any, Any] | Sequence[Any], request: Request,
        view: APIView | None = None,
    ) -> list[Any] | None:
        # Read per request: the class attributes would freeze the settings at import.
        self.page_size = int(aigen_settings.API_PAGE_SIZE)
        self.max_page_size = int(aigen_settings.API_MAX_PAGE_SIZE)
        limit = aigen_settings.API_COUNT_LIMIT
        self.request = request
        page_size = self.get_page_size(request)
        if not page_size:
            return None
        paginator = CappedCountPaginator(queryset, page_size,
                                         None if limit is None else int(limit),
                                         getattr(view, "count_by", None))
        number = self.get_page_number(request, paginator)
        try:
            self.page = paginator.page(number)
        except InvalidPage as exc:
            raise NotFound(self.invalid_page_message.format(
                page_number=number, message=str(exc))) from exc
        # The browsable API shows page controls when there is more than one page.
        self.display_page_controls = self.template is not None and (
            self.page.has_next() or self.page.has_previous())
        return list(self.page)

    def get_page_size(self, request: Request) -> int:
        """``?page_size=`` (capped at the maximum), or the default; anything but a
        positive integer is refused rather than quietly replaced by the default."""
        given = request.query_params.get(self.page_size_query_param)
        if given is None or self.max_page_size is None:
            return int(self.page_size or 0)
        if not given.isascii() or not given.isdigit() or int(given) < 1:
            raise ValidationError({self.page_size_query_param: [
                f"A positive integer is required (at most {self.max_page_size} are used)."]})
        return min(int(given), self.max_page_size)

    def get_page_number(self, request: Request, paginator: Paginator[Any]) -> Any:
        number: Any = request.query_params.get(self.page_query_param) or 1
        if number in self.last_page_strings and isinstance(paginator, CappedCountPaginator):
            paginator.count_limit = None  # the last page needs the exact count
            return paginator.num_pages
        if number != 1 and (not number.isascii() or not number.isdigit()):
            raise ValidationError({self.page_query_param: [
                "A page number (1 or more) or 'last' is required."]})
        return number

    def get_html_context(self) -> HtmlContextWithPageLinks:
        if self.page is None or self.page.paginator.num_pages is not None:
            return super().get_html_context()
        # No last page to link to: previous and next only (the stubs say str; DRF gives
        # None for a missing link, as its own method does).
        return cast(HtmlContextWithPageLinks, {
            "previous_url": self.get_previous_link(), "next_url": self.get_next_link(),
            "page_links": []})

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """DRF's parameters, saying what ``get_page_size`` and ``get_page_number``
        refuse: both are positive integers (``page`` may also be ``last``)."""
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
        return parameters

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        response = dict(super().get_paginated_response_schema(schema))
        response["properties"]["count"] = {"type": "integer", "nullable": True,
                                           "example": 123, "description": COUNT_DESCRIPTION}
        return response
