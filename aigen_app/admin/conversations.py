"""Conversations in the admin: the thread in order, and a form to refine it.

The conversation page replaces the change form (conversations are read-only) with the
thread: every turn's role, text and images, and whether each part holds a thought
signature. Each generation's model turn follows its user turn; until the generation
succeeds it has no parts, and the page shows the generation's status there instead.
Signatures are deferred in the query, so their bytes (often hundreds of KB, and opaque
to staff) are never even loaded, let alone rendered.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import ADDITION, DELETION
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import (
    Prefetch,
    QuerySet,
)
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

from .. import services
from ..image_responses import stored_image, thumbnail
from ..models import (
    Conversation,
    Generation,
    GenerationStatus,
    MediaAsset,
    Turn,
    TurnPart,
    TurnRole,
    count_per_conversation,
)
from . import display
from .base import ReadOnlyAdmin, log_actions
from .deletion import ServiceDeletion
from .forms import RefineForm


@admin.register(Conversation)
class ConversationAdmin(ServiceDeletion[Conversation], ReadOnlyAdmin[Conversation]):
    list_display = ["__str__", "owner", "turn_count", "generation_count", "created_at",
                    "updated_at"]
    list_filter = ["created_at", "updated_at"]
    search_fields = ["title", "id", "owner__username"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    actions = ["delete_selected"]
    thread_template = "admin/aigen_app/conversation/thread.html"
    erase_template = "admin/aigen_app/conversation/erase.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        # Subqueries, not Count() over two joins: those would multiply a long
        # conversation's turns by its generations before grouping.
        return super().get_queryset(request).annotate(
            turn_total=count_per_conversation(Turn),
            generation_total=count_per_conversation(Generation),
        )

    @admin.display(description=_("Turns"), ordering="turn_total")
    def turn_count(self, obj: Conversation) -> int:
        return int(getattr(obj, "turn_total", 0))

    @admin.display(description=_("Generations"), ordering="generation_total")
    def generation_count(self, obj: Conversation) -> int:
        return int(getattr(obj, "generation_total", 0))

    # -- images -----------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("erase/<str:user_id>/", self.admin_site.admin_view(self.erase_view),
                 name=f"{info}_erase"),
            path("<path:object_id>/parts/<int:part_id>/image/",
                 self.admin_site.admin_view(self.part_image_view), name=f"{info}_part_image"),
            path("<path:object_id>/parts/<int:part_id>/thumbnail/",
                 self.admin_site.admin_view(self.part_thumbnail_view),
                 name=f"{info}_part_thumbnail"),
            *super().get_urls(),
        ]

    def part_image_view(self, request: HttpRequest, object_id: str,
                        part_id: int) -> HttpResponseBase:
        part = self._image_part(request, object_id, part_id)
        return stored_image(request, part.image.name or "", part.mime_type, part.sha256)

    def part_thumbnail_view(self, request: HttpRequest, object_id: str,
                            part_id: int) -> HttpResponseBase:
        part = self._image_part(request, object_id, part_id)
        return thumbnail(request, part.image.name or "", part.sha256,
                                display.THREAD_BOX)

    def _image_part(self, request: HttpRequest, object_id: str, part_id: int) -> TurnPart:
        conversation = self.viewable(request, object_id)
        return get_object_or_404(
            TurnPart.objects.only("id", "image", "mime_type", "sha256"),
            pk=part_id, turn__conversation=conversation, kind=TurnPart.Kind.IMAGE,
        )

    # -- deleting and erasing ---------------------------------------------------------

    def delete_object(self, obj: Conversation) -> None:
        services.delete_conversation(obj)

    def has_erase_permission(self, request: HttpRequest) -> bool:
        """Erasing a user's content deletes their conversations, generations and media
        assets: Django's delete permission on all three."""
        label = self.opts.app_label
        return request.user.has_perms([f"{label}.delete_conversation",
                                       f"{label}.delete_generation",
                                       f"{label}.delete_mediaasset"])

    def erase_view(self, request: HttpRequest, user_id: str) -> HttpResponse:
        """Confirm, then ``services.erase_user_content``: every conversation and media
        asset of the user, with their files; a log entry for each row deleted."""
        if not self.has_erase_permission(request):
            raise PermissionDenied
        try:
            user = get_object_or_404(get_user_model()._default_manager, pk=user_id)
        except (ValueError, ValidationError):
            raise Http404(f"No user with id {user_id!r}.") from None
        conversations = Conversation.objects.filter(owner=user)
        assets = MediaAsset.objects.filter(owner=user)
        if request.method == "POST":
            with transaction.atomic():
                for queryset in (conversations, assets):
                    log_actions(request, queryset, DELETION)
                erased = services.erase_user_content(user)
            self.message_user(
                request, _("Erased %(user)s's content: %(conversations)d conversations, "
                           "%(generations)d generations and %(assets)d media assets.") % {
                    "user": user, "conversations": erased.conversations,
                    "generations": erased.generations, "assets": erased.assets},
                messages.SUCCESS)
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:"
                                                f"{self.opts.app_label}_conversation_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Erase everything %(user)s generated") % {"user": user},
            "subtitle": None,
            "opts": self.opts,
            "erased_user": user,
            "conversation_count": conversations.count(),
            "generation_count": Generation.objects.filter(conversation__owner=user).count(),
            "asset_count": assets.count(),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.erase_template, context)

    # -- the thread -------------------------------------------------------------------

    def has_refine_permission(self, request: HttpRequest) -> bool:
        """Refining creates a generation: Django's add permission on generations."""
        return request.user.has_perm(f"{self.opts.app_label}.add_generation")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        conversation = self.viewable(request, object_id)
        parents = Generation.objects.filter(conversation=conversation,
                                            status=GenerationStatus.SUCCEEDED)
        latest = parents.order_by("-created_at").first()
        can_refine = latest is not None and self.has_refine_permission(request)
        override = bool(getattr(request.user, "is_superuser", False))
        form = None
        if can_refine:
            if request.method == "POST":
                form = RefineForm(request.POST, parents=parents, allow_override=override)
                generation = form.save() if form.is_valid() else None
                if generation is not None:
                    log_actions(request, [generation], ADDITION,
                                _("Refined generation %(id)s.") % {"id": generation.parent_id})
                    # With an immediate task backend it has already run.
                    generation.refresh_from_db(fields=["status"])
                    self.message_user(
                        request, _("Refinement %(id)s created (%(status)s).") % {
                            "id": generation.pk, "status": generation.status},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(request.path)
            else:
                form = RefineForm(parents=parents, initial={"parent": latest},
                                  allow_override=override)
        elif request.method == "POST":
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": _("Conversation: %(conversation)s") % {"conversation": conversation},
            "subtitle": None,
            "opts": self.opts,
            "original": conversation,
            "has_view_permission": True,
            "media": self.media,
            "turns": self.thread(conversation),
            "refine_form": form,
            "refine_target": latest,
            "has_delete_permission": self.has_delete_permission(request, conversation),
            "can_erase": conversation.owner_id is not None and self.has_erase_permission(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.thread_template, context)

    def thread(self, conversation: Conversation) -> list[dict[str, Any]]:
        """The turns in position order, with what the template shows of each (a
        constant number of queries, however long the thread)."""
        parts = TurnPart.objects.without_signatures()
        turns = (Turn.objects.filter(conversation=conversation).order_by("position")
                 .select_related("generation__owner")
                 .prefetch_related(Prefetch("parts", queryset=parts)))
        return [self._turn(conversation, turn) for turn in turns]

    def _turn(self, conversation: Conversation, turn: Turn) -> dict[str, Any]:
        generation = turn.generation
        parts = []
        for part in turn.parts.all():
            entry: dict[str, Any] = {"part": part,
                                     "signed": bool(getattr(part, "has_thought_signature", False))}
            if part.is_image:
                # A small thumbnail, loaded lazily, links to the full image. No
                # dimension columns on parts (the model's raw image may differ in size
                # from the generation's fitted one): the browser fits it to a box.
                entry["image"] = display.image_tag(
                    self.image_url(conversation, "part_thumbnail", part_id=part.pk), None,
                    None, box=display.THREAD_BOX, alt=f"{turn.role} image {part.index}",
                    css_class="aigen-thread-image",
                    href=self.image_url(conversation, "part_image", part_id=part.pk),
                )
            parts.append(entry)
        return {
            "turn": turn,
            "generation": generation,
            "generation_link": self.link(generation, generation.pk),
            "status": display.status_badge(generation.status),
            "speaker": ((generation.owner or _("Anonymous")) if turn.role == TurnRole.USER
                        else _("Model")),
            "parts": parts,
            "signed_parts": sum(1 for entry in parts if entry["signed"]),
            # A model turn is stored empty with its generation and filled when it
            # succeeds: an empty one says why there is no reply (yet).
            "unanswered": turn.role == TurnRole.MODEL and not parts,
            "waiting": generation.status in (GenerationStatus.PENDING,
                                             GenerationStatus.RUNNING),
        }
