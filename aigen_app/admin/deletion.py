"""Deleting from the admin through the services, so a deletion follows the same rules as
everywhere else (refusals, files after the commit) and leaves a log entry only when it
happened.

Django's own deletion logs first and deletes with ``QuerySet.delete()``; here each
object is logged and deleted in one transaction, so a refusal rolls its log entry back
and is reported instead of a success.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.models import DELETION
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from .. import services
from . import display
from .base import log_actions

_M = TypeVar("_M", bound=models.Model)


class ServiceDeletion(admin.ModelAdmin[_M]):
    """Delete permission as Django grants it; the deleting itself by ``delete_object``.

    Subclasses list ``"delete_selected"`` in their ``actions``: Django then uses this
    class's action instead of the site-wide one of the same name."""

    # The order a selection is deleted in (e.g. refinements before what they refine).
    deletion_order: tuple[str, ...] = ("pk",)

    def delete_object(self, obj: _M) -> None:
        """Delete ``obj`` through the services; raise ``ServiceError`` to refuse."""
        raise NotImplementedError

    def has_delete_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return admin.ModelAdmin.has_delete_permission(self, request, obj)

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        # Logged by ``delete_logged`` with the deletion itself, not ahead of it.
        return []

    def delete_logged(self, request: HttpRequest, obj: _M) -> None:
        with transaction.atomic():
            log_actions(request, [obj], DELETION)
            self.delete_object(obj)

    def delete_model(self, request: HttpRequest, obj: _M) -> None:
        self.delete_logged(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[_M]) -> None:
        for obj in queryset.order_by(*self.deletion_order):
            self.delete_logged(request, obj)

    def delete_view(self, request: HttpRequest, object_id: str,
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except services.ServiceError as exc:
            # delete_view's transaction rolled the log entry back with the deletion.
            self.message_user(request, exc.message, messages.ERROR)
            obj = self.get_object(request, unquote(object_id))
            target = display.admin_url(obj, self.admin_site.name) if obj else request.path
            return HttpResponseRedirect(target)

    @admin.action(description=_("Delete selected %(verbose_name_plural)s"),
                  permissions=["delete"])
    def delete_selected(self, request: HttpRequest,
                        queryset: QuerySet[_M]) -> HttpResponse | None:
        """Django's confirmation page; once confirmed, each object through the services,
        each refusal reported."""
        if not request.POST.get("post"):
            return django_delete_selected(self, request, queryset)
        _objects, _counts, perms_needed, protected = self.get_deleted_objects(queryset,
                                                                              request)
        if protected:
            return django_delete_selected(self, request, queryset)
        if perms_needed:
            raise PermissionDenied
        deleted = 0
        for obj in queryset.order_by(*self.deletion_order):
            try:
                self.delete_logged(request, obj)
            except services.ServiceError as exc:
                self.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
            else:
                deleted += 1
        if deleted:
            self.message_user(request, _("Deleted %(count)d %(noun)s.") % {
                "count": deleted, "noun": self._noun(deleted)}, messages.SUCCESS)
        return None

    def _noun(self, count: int) -> str:
        opts = self.opts
        return str(opts.verbose_name if count == 1 else opts.verbose_name_plural)


__all__ = ["ServiceDeletion"]
