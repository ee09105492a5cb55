"""What every model admin of the app shares: read-only rows and image URLs."""

from __future__ import annotations

from typing import Any, TypeVar

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.safestring import SafeString

from . import display

_M = TypeVar("_M", bound=models.Model)


class ReadOnlyAdmin(admin.ModelAdmin[_M]):
    """Rows are written by the services only: staff view them, never add, edit or
    delete them by hand (a hand edit would bypass the rules the services keep)."""

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
