"""What every model admin of the app shares: read-only rows and image URLs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, cast

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.safestring import SafeString

from . import display

_M = TypeVar("_M", bound=models.Model)


def log_actions(request: HttpRequest, objects: Iterable[models.Model], action_flag: int,
                message: str = "") -> None:
    """Admin log entries (the object's History, the admin's "Recent actions") for
    ``objects``, by the request's user; for any model, whichever admin acts on it."""
    LogEntry.objects.log_actions(user_id=cast(int, request.user.pk), queryset=list(objects),
                                 action_flag=action_flag, change_message=message)


class ReadOnlyAdmin(admin.ModelAdmin[_M]):
    """Rows are written by the services only: staff view them, never edit them by hand
    (a hand edit would bypass the rules the services keep). Admins that add or delete
    do it through the services (``GenerationAdmin.add_view``, ``ServiceDeletion``)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: _M | None = None) -> bool:
        return False

    def image_url(self, obj: models.Model, view: str = "image", **kwargs: Any) -> str:
        """The URL of one of this admin's staff-only image views for ``obj``."""
        opts = self.opts
        return reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_{view}",
                       kwargs={"object_id": obj.pk, **kwargs})

    def viewable(self, request: HttpRequest, object_id: str) -> _M:
        """The object an image view serves: 404 when there is none (or the id is
        malformed), 403 when the user may not view it."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with id {object_id!r}.")
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        return obj

    def link(self, obj: models.Model, text: Any) -> SafeString:
        return display.admin_link(obj, text, self.admin_site.name)

    class Media:
        css = {"all": ["aigen_app/admin.css"]}
