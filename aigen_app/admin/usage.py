"""The admin's usage page: generations started, succeeded, failed and blocked, tokens
and the estimated cost per user and day, for a date range; also as CSV.

Figures come from ``aigen_app.usage``; the cost is labelled an estimate wherever it
appears (``AIGEN["PRICES"]``, see docs/admin.md).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .. import usage
from .exports import csv_response

DEFAULT_DAYS = 30
CSV_HEADER = ["day", "user", "started", "succeeded", "failed", "blocked", "tokens_in",
              "tokens_out", "estimated_cost_usd", "unpriced_tokens"]


class UsageFilterForm(forms.Form):
    start = forms.DateField(label=_("Start"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("End"), required=False,
                          widget=forms.DateInput(attrs={"type": "date"}))
    user = forms.CharField(label=_("User"), required=False,
                           help_text=_("A username; empty: every user."))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        today = timezone.localdate()
        data["end"] = data.get("end") or today
        data["start"] = data.get("start") or data["end"] - timedelta(days=DEFAULT_DAYS - 1)
        if data["start"] > data["end"]:
            self.add_error(None, _("The start date is after the end date."))
        name = (data.get("user") or "").strip()
        data["owner"] = None
        if name:
            user_model = get_user_model()
            data["owner"] = user_model._default_manager.filter(
                **{user_model.USERNAME_FIELD: name}).first()
            if data["owner"] is None:
                self.add_error("user", _("No user named %(name)r.") % {"name": name})
        return data


def usage_view(model_admin: Any, request: HttpRequest) -> HttpResponseBase:
    """The page (or, with ``?format=csv``, the CSV) for the filters in the query."""
    form = UsageFilterForm(request.GET or None)
    rows: list[usage.UsageRow] = []
    start = end = None
    if form.is_valid() or not request.GET:
        data = form.cleaned_data if request.GET else _defaults()
        start, end = data["start"], data["end"]
        rows = usage.usage(start, end, owner=data["owner"])
        if request.GET.get("format") == "csv":
            return csv_response(f"aigen-usage-{start}-{end}.csv", CSV_HEADER,
                                [_csv_row(row) for row in rows])
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Usage and estimated cost"),
        "subtitle": None,
        "opts": model_admin.opts,
        "form": form,
        "rows": rows,
        "total": usage.totals(rows),
        "start": start,
        "end": end,
        "csv_query": _csv_query(request),
        "time_zone": timezone.get_current_timezone_name(),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/aigen_app/generation/usage.html", context)


def _defaults() -> dict[str, Any]:
    end = timezone.localdate()
    return {"start": end - timedelta(days=DEFAULT_DAYS - 1), "end": end, "owner": None}


def _csv_query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    return query.urlencode()


def _csv_row(row: usage.UsageRow) -> list[Any]:
    day: date | None = row.day
    return [day.isoformat() if day else "", row.owner, row.started, row.succeeded,
            row.failed, row.blocked, row.tokens_in, row.tokens_out,
            row.cost_text, row.unpriced_tokens]
