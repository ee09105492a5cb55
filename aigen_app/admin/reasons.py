"""Why a generation failed or was blocked, as the admin shows it: a short line in the
list, the whole story on the page, and a filter by error code.

The filter offers the codes that can be recorded (the client's error classes and the
services' own) rather than ``SELECT DISTINCT error_code`` over the whole table, which
costs a full scan on every changelist render.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..client.errors import GenerationError, RateLimitError
from ..models import Generation, GenerationStatus
from ..services.errors import RUN_ERROR_CODES
from . import display

WHY_STATUSES = (GenerationStatus.FAILED, GenerationStatus.BLOCKED)
SHORT_REASON = 60


def _subclasses(cls: type[GenerationError]) -> list[type[GenerationError]]:
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_subclasses(sub))
    return found


def known_error_codes() -> list[str]:
    """Every ``error_code`` a generation can carry, sorted."""
    codes = {GenerationError.code, *(cls.code for cls in _subclasses(GenerationError))}
    # A per-day 429 sets its instance's code (``RateLimitError(per_day=True)``).
    codes.add(RateLimitError(None, per_day=True).code)
    return sorted(codes | set(RUN_ERROR_CODES))


def short_reason(generation: Generation) -> str:
    """One line for the list: the block reason, or the error code and the message's
    start; empty for a generation that did not fail."""
    if generation.status not in WHY_STATUSES:
        return ""
    if generation.status == GenerationStatus.BLOCKED and generation.block_reason:
        return _("Blocked: %(reason)s") % {"reason": generation.block_reason}
    head = generation.error_code or generation.finish_reason or "unknown"
    if generation.error_message:
        return f"{head}: {display.excerpt(generation.error_message, SHORT_REASON)}"
    return head


def full_reason(generation: Generation) -> SafeString | str:
    """Everything recorded about why: block reason, finish reason, error code and the
    message (the client-safe text the API returns too)."""
    rows = [(label, value) for label, value in (
        (_("Block reason"), generation.block_reason),
        (_("Finish reason"), generation.finish_reason),
        (_("Error code"), generation.error_code),
        (_("Message"), generation.error_message),
    ) if value]
    if not rows:
        if generation.status in WHY_STATUSES:
            return gettext("No reason was recorded.")
        return "—"
    return format_html('<dl class="aigen-why">{}</dl>', format_html_join(
        "", "<dt>{}</dt><dd>{}</dd>", rows))


class ErrorCodeFilter(admin.SimpleListFilter):
    title = _("error code")
    parameter_name = "error_code"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(code, code) for code in known_error_codes()]

    def queryset(self, request: HttpRequest,
                 queryset: QuerySet[Generation]) -> QuerySet[Generation]:
        value = self.value()
        return queryset.filter(error_code=value) if value else queryset
