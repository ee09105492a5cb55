"""Generations in the admin: a list that renders from columns alone, a read-only
detail, starting one for a user, and retry / cancel / delete (all through the services,
each leaving an admin log entry)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .. import services
from ..client import ModelNotFoundError, provider_of
from ..client.catalog import PROVIDER_LABELS
from ..image_responses import stored_image
from ..models import Generation, MediaAsset, provider_match
from ..services.lifecycle import CANCELABLE, RETRYABLE
from . import display
from .base import ReadOnlyAdmin
from .deletion import ServiceDeletion
from .exports import csv_response
from .forms import StartGenerationForm
from .reasons import ErrorCodeFilter, full_reason, short_reason
from .usage import usage_view

# The generation list's CSV columns: the row's own columns ("owner": the username).
EXPORT_FIELDS = ["id", "created_at", "owner", "status", "prompt", "width", "height",
                 "model", "seed", "prompt_tokens", "candidates_tokens", "thoughts_tokens",
                 "total_tokens", "error_code", "block_reason", "finish_reason",
                 "error_message", "conversation_id", "parent_id", "finished_at"]


class NonEmptyValuesFilter(admin.AllValuesFieldListFilter):
    """The distinct values of a text column, without the empty one most rows have."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lookup_choices = self.lookup_choices.exclude(**{self.lookup_kwarg: ""})


class ProviderFilter(admin.SimpleListFilter):
    """Generations by the provider of their model (the catalog's id prefixes)."""

    title = "provider"
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(PROVIDER_LABELS.items())

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset if value is None else queryset.filter(provider_match(value))


@admin.register(Generation)
class GenerationAdmin(ServiceDeletion[Generation], ReadOnlyAdmin[Generation]):
    list_display = ["thumbnail", "status_badge", "prompt_excerpt", "reason", "owner",
                    "provider_model", "size", "tokens", "created"]
    list_display_links = ["thumbnail", "prompt_excerpt"]
    list_filter = ["status", ErrorCodeFilter, ProviderFilter, ("model", NonEmptyValuesFilter),
                   ("finish_reason", NonEmptyValuesFilter),
                   ("block_reason", NonEmptyValuesFilter), "created_at"]
    # "id" searches by the whole id or any part of it (hyphens optional).
    search_fields = ["prompt", "id", "owner__username"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]
    list_per_page = 50
    actions = ["delete_selected", "retry_generations", "cancel_generations", "export_csv"]
    fieldsets = [
        (None, {"fields": ["preview", "status_badge", "why", "owner", "conversation_link",
                           "parent_link", "refinements_links"]}),
        ("Request", {"fields": ["prompt", "size", "model_display", "seed", "options",
                                "enable_grounding", "reference_preview", "assets_preview",
                                "idempotency_key"]}),
        ("Result", {"fields": ["model_version", "image_details", "text", "response_id",
                               "request_id", "finish_reason"]}),
        ("Usage", {"fields": ["prompt_tokens", "candidates_tokens", "thoughts_tokens",
                              "total_tokens"]}),
        ("Timings", {"fields": ["created_at", "queued_at", "run_after", "started_at",
                                "deadline_at", "finished_at", "queue_wait", "run_time",
                                "inference_time"]}),
        ("Attempts", {"fields": ["task_runs", "http_attempts"]}),
        ("Error or block", {"fields": ["error_code", "error_message", "block_reason"]}),
    ]

    start_template = "admin/aigen_app/generation/start.html"
    # Newest first: a refinement goes before the generation it continues from.
    deletion_order = ("-created_at",)

    # -- urls -------------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view
        return [
            path("usage/", view(self.usage_view), name=f"{info}_usage"),
            path("<path:object_id>/image/", view(self.image_view), name=f"{info}_image"),
            path("<path:object_id>/reference/", view(self.reference_view),
                 name=f"{info}_reference"),
            path("<path:object_id>/retry/", view(self.retry_view), name=f"{info}_retry"),
            path("<path:object_id>/cancel/", view(self.cancel_view), name=f"{info}_cancel"),
            *super().get_urls(),
        ]

    # -- usage and exports ------------------------------------------------------------

    def usage_view(self, request: HttpRequest) -> HttpResponseBase:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return usage_view(self, request)

    @admin.action(description=_("Export selected generations as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest,
                   queryset: QuerySet[Generation]) -> HttpResponseBase:
        owner = f"owner__{get_user_model().USERNAME_FIELD}"
        columns = [owner if name == "owner" else name for name in EXPORT_FIELDS]
        rows = queryset.order_by("created_at").values_list(*columns).iterator(chunk_size=2000)
        return csv_response("aigen-generations.csv", EXPORT_FIELDS, rows)

    # -- starting one -----------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Starting a generation (here or by refining) needs Django's add permission."""
        return admin.ModelAdmin.has_add_permission(self, request)

    def add_view(self, request: HttpRequest, form_url: str = "",
                 extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        override = bool(getattr(request.user, "is_superuser", False))
        if request.method == "POST":
            form = StartGenerationForm(request.POST, request.FILES, allow_override=override)
            generation = form.save() if form.is_valid() else None
            if generation is not None:
                self.log_addition(request, generation, [{"added": {}}])
                generation.refresh_from_db(fields=["status"])
                self.message_user(
                    request, _("Generation %(id)s started for %(owner)s (%(status)s).") % {
                        "id": generation.pk, "owner": generation.owner,
                        "status": generation.status}, messages.SUCCESS)
                return HttpResponseRedirect(display.admin_url(generation,
                                                              self.admin_site.name))
        else:
            form = StartGenerationForm(allow_override=override)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Start a generation"),
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "media": self.media + form.media,
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.start_template, context)

    # -- images -----------------------------------------------------------------------

    def image_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        generation = self.viewable(request, object_id)
        return stored_image(request, generation.image.name or "", generation.mime_type,
                            generation.sha256)

    def reference_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        generation = self.viewable(request, object_id)
        return stored_image(request, generation.reference_image.name or "",
                            generation.reference_mime_type)

    # -- list columns -----------------------------------------------------------------

    @admin.display(description=_("Image"))
    def thumbnail(self, obj: Generation) -> SafeString | str:
        if not obj.image:
            return "—"
        return display.image_tag(self.image_url(obj), obj.image_width, obj.image_height,
                                 box=display.THUMBNAIL_BOX,
                                 alt=_("Generation %(id)s") % {"id": obj.pk},
                                 link=False)

    @admin.display(description=_("Status"), ordering="status")
    def status_badge(self, obj: Generation) -> SafeString:
        return display.status_badge(obj.status)

    @admin.display(description=_("Prompt"), ordering="prompt")
    def prompt_excerpt(self, obj: Generation) -> str:
        return display.excerpt(obj.prompt)

    @admin.display(description=_("Model"), ordering="model")
    def provider_model(self, obj: Generation) -> SafeString:
        # One column for both: at 1280 px a provider column of its own clipped the list.
        try:
            provider = PROVIDER_LABELS[provider_of(obj.model)]
        except ModelNotFoundError:
            provider = "—"
        return format_html('<span class="aigen-provider">{}</span><br>{}', provider, obj.model)

    @admin.display(description=_("Why"))
    def reason(self, obj: Generation) -> SafeString | str:
        text = short_reason(obj)
        return format_html('<span class="aigen-reason">{}</span>', text) if text else ""

    @admin.display(description=_("Size"))
    def size(self, obj: Generation) -> str:
        return f"{obj.width}x{obj.height}"

    @admin.display(description=_("Created"), ordering="created_at")
    def created(self, obj: Generation) -> str:
        # Compact (the list must fit 1280 px); local time, to the minute.
        return date_format(timezone.localtime(obj.created_at), "Y-m-d H:i")

    @admin.display(description=_("Tokens"), ordering="total_tokens")
    def tokens(self, obj: Generation) -> int:
        return obj.total_tokens

    # -- detail -----------------------------------------------------------------------

    @admin.display(description=_("Image"))
    def preview(self, obj: Generation) -> SafeString | str:
        if not obj.image:
            return gettext("No image (the generation has not succeeded).")
        return display.image_tag(self.image_url(obj), obj.image_width, obj.image_height,
                                 box=display.PREVIEW_BOX, alt=obj.prompt,
                                 css_class="aigen-preview")

    @admin.display(description=_("Why"))
    def why(self, obj: Generation) -> SafeString | str:
        return full_reason(obj)

    @admin.display(description=_("Conversation"))
    def conversation_link(self, obj: Generation) -> SafeString:
        return self.link(obj.conversation, obj.conversation)

    @admin.display(description=_("Refines"))
    def parent_link(self, obj: Generation) -> SafeString | str:
        return self.link(obj.parent, obj.parent) if obj.parent else "—"

    @admin.display(description=_("Refined by"))
    def refinements_links(self, obj: Generation) -> SafeString | str:
        children = obj.refinements.order_by("created_at")
        if not children:
            return "—"
        return format_html_join(mark_safe("<br>"), "{}",
                                ((self.link(child, child),) for child in children))

    @admin.display(description=_("Model"))
    def model_display(self, obj: Generation) -> str:
        # ``model`` holds the request until the answer replaces it with the model used.
        return obj.model or gettext("(the configured default)")

    @admin.display(description=_("Task runs"))
    def task_runs(self, obj: Generation) -> int:
        return obj.attempts

    @admin.display(description=_("HTTP attempts of the last run"))
    def http_attempts(self, obj: Generation) -> int:
        return obj.api_attempts

    @admin.display(description=_("Reference image"))
    def reference_preview(self, obj: Generation) -> SafeString | str:
        if not obj.reference_image:
            return "—"
        return display.image_tag(self.image_url(obj, "reference"), None, None,
                                 box=display.THREAD_BOX, alt="Reference image")

    @admin.display(description=_("Media assets"))
    def assets_preview(self, obj: Generation) -> SafeString | str:
        links = obj.asset_links.select_related("asset").order_by("position")
        if not links:
            return "—"
        return format_html_join(" ", "{}", ((self._asset_chip(link.asset),) for link in links))

    def _asset_chip(self, asset: MediaAsset) -> SafeString:
        url = reverse(f"{self.admin_site.name}:aigen_app_mediaasset_image",
                      kwargs={"object_id": asset.pk})
        thumbnail = display.image_tag(url, asset.width, asset.height,
                                      box=display.THUMBNAIL_BOX, alt=str(asset), link=False)
        return self.link(asset, format_html("{} {}", thumbnail, asset))

    @admin.display(description=_("Image file"))
    def image_details(self, obj: Generation) -> str:
        if not obj.image:
            return "—"
        return (f"{obj.image_width}x{obj.image_height} {obj.mime_type}, "
                f"{filesizeformat(obj.byte_size or 0)}, sha256 {obj.sha256}")

    @admin.display(description=_("Waited in queue"))
    def queue_wait(self, obj: Generation) -> str:
        start = obj.queued_at or obj.created_at
        return _seconds(obj.started_at - start) if obj.started_at else "—"

    @admin.display(description=_("Last run took"))
    def run_time(self, obj: Generation) -> str:
        if obj.started_at and obj.finished_at:
            return _seconds(obj.finished_at - obj.started_at)
        return "—"

    @admin.display(description=_("API inference time"))
    def inference_time(self, obj: Generation) -> str:
        if obj.inference_time_ms is None:
            return "—"
        return f"{obj.inference_time_ms / 1000:.2f} s"

    # -- actions ----------------------------------------------------------------------

    def delete_object(self, obj: Generation) -> None:
        services.delete_generation(obj)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = dict(extra_context or {})
        if self.has_operate_permission(request):
            obj = self.get_object(request, unquote(object_id))
            status = obj.status if obj is not None else None
            context["can_retry"] = status in RETRYABLE
            context["can_cancel"] = status in CANCELABLE
        return super().change_view(request, object_id, form_url, context)

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._operate_view(request, object_id, services.retry_generation, "retry")

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._operate_view(request, object_id, services.cancel_generation, "cancel")

    def _operate_view(self, request: HttpRequest, object_id: str,
                      operation: Callable[[Generation], Generation], done: str) -> HttpResponse:
        """A button of the generation's page: POST only, change permission."""
        if request.method != "POST" or not self.has_operate_permission(request):
            raise PermissionDenied
        generation = self.viewable(request, object_id)
        self._apply(request, Generation.objects.filter(pk=generation.pk), operation, done)
        return HttpResponseRedirect(display.admin_url(generation, self.admin_site.name))

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Retry and cancel need Django's change permission on generations, although
        the rows themselves are never edited by hand."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description=_("Retry selected failed, blocked or canceled generations"),
                  permissions=["operate"])
    def retry_generations(self, request: HttpRequest, queryset: QuerySet[Generation]) -> None:
        self._apply(request, queryset, services.retry_generation, "retry")

    @admin.action(description=_("Cancel selected pending or running generations"),
                  permissions=["operate"])
    def cancel_generations(self, request: HttpRequest,
                           queryset: QuerySet[Generation]) -> None:
        self._apply(request, queryset, services.cancel_generation, "cancel")

    def _apply(self, request: HttpRequest, queryset: QuerySet[Generation],
               operation: Callable[[Generation], Generation], done: str) -> None:
        count = 0
        for generation in queryset.order_by("created_at"):
            try:
                operation(generation)
            except services.ServiceError as exc:
                self.message_user(request, f"{generation.pk}: {exc.message}", messages.ERROR)
            else:
                self.log_change(request, generation, str(_done(done, 1)[0]))
                count += 1
        if count:
            self.message_user(request, _done(done, count)[1], messages.SUCCESS)


def _done(operation: str, count: int) -> tuple[str, str]:
    """What ``operation`` ("retry" or "cancel") did: for the log, and for the message
    about ``count`` generations."""
    values = {"count": count}
    if operation == "retry":
        return (gettext("Queued again."), ngettext("%(count)d generation queued again.",
                                             "%(count)d generations queued again.",
                                             count) % values)
    return (gettext("Canceled."), ngettext("%(count)d generation canceled.",
                                     "%(count)d generations canceled.", count) % values)


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():.2f} s"
