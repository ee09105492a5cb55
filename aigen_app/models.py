"""What the app persists: generations, their conversations and turns, uploaded assets.

Image metadata (mime type, dimensions, byte size, sha256) lives in columns so listings
never touch storage. Only ``aigen_app.services`` writes these rows.

Turn positions number a conversation's turns 0, 1, 2... gap-free, two per generation:
its user turn at an even position ``p`` and its model turn at ``p + 1``, both stored
when the generation is created (in creation order, with the conversation row locked).
The model turn has no parts until the generation succeeds and its reply fills it; a
pending, running, failed, blocked or canceled generation's model turn is empty. So
concurrent refinements never interleave: by position a conversation reads u1 m1 u2 m2
u3 m3 at every moment, whichever finishes first. What a refinement sends as history is
not "every earlier position" but its lineage: the user and model turns of each ancestor
from the root to its parent (see ``services.turns.history_for``), which is why a
refinement requires a succeeded parent.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Count, ExpressionWrapper, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, Mod, TruncDate
from django.db.models.lookups import Exact
from django.utils import timezone

from .client.catalog import PROVIDER_PREFIXES
from .storage import aigen_storage


class GenerationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    BLOCKED = "blocked", "Blocked"
    CANCELED = "canceled", "Canceled"


TERMINAL_STATUSES = frozenset(
    {GenerationStatus.SUCCEEDED, GenerationStatus.FAILED, GenerationStatus.BLOCKED,
     GenerationStatus.CANCELED}
)


class AssetType(models.TextChoices):
    LOGO = "logo", "Logo"
    FACE = "face", "Face"
    CHARACTER = "character", "Character"
    PRODUCT = "product", "Product"
    STYLE = "style", "Style"
    OTHER = "other", "Other"


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="aigen_conversations",
    )
    title = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The listing's order, the primary key breaking ties: a page walks it to its
            # rows with no sort of all the owner's conversations.
            models.Index(fields=["owner", "created_at", "id"], name="aigen_conv_owner_created"),
        ]

    def __str__(self) -> str:
        return self.title or str(self.id)


class MediaAsset(models.Model):
    """An uploaded image sent with prompts (a logo, a face...); one per image per owner."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="aigen_media_assets",
    )
    image = models.FileField(storage=aigen_storage, max_length=255)
    mime_type = models.CharField(max_length=100)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    byte_size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    asset_type = models.CharField(max_length=16, choices=AssetType.choices,
                                  default=AssetType.OTHER)
    display_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "sha256"], condition=Q(owner__isnull=False),
                name="aigen_asset_unique_image_per_owner",
            ),
        ]
        # The API's listing: one owner's assets newest first, ties broken by id.
        indexes = [
            models.Index(fields=["owner", "created_at", "id"], name="aigen_asset_owner_created"),
        ]

    def __str__(self) -> str:
        return self.display_name or f"{self.asset_type} {self.sha256[:12]}"


def provider_match(provider: str) -> Q:
    """Rows whose ``model`` is ``provider``'s, told apart by the catalog's id prefixes
    (every known id has its family's prefix); an unknown provider matches nothing."""
    match = Q(pk__in=[])
    for prefix in PROVIDER_PREFIXES.get(provider, ()):
        match |= Q(model__startswith=prefix)
    return match


class GenerationQuerySet(models.QuerySet["Generation"]):
    def started_today_by(self, owner: Any) -> GenerationQuerySet:
        """Generations ``owner`` created since local midnight (settings.TIME_ZONE)."""
        midnight = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
        return self.filter(owner=owner, created_at__gte=midnight)

    def usage_by_user_and_day(self) -> models.QuerySet[Any, Any]:
        """One row per (owner, local day): generation counts and token sums."""
        return (
            self.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
            .values("owner", "day")
            .annotate(
                generations=Count("id"),
                succeeded=Count("id", filter=Q(status=GenerationStatus.SUCCEEDED)),
                prompt_tokens=Sum("prompt_tokens"),
                candidates_tokens=Sum("candidates_tokens"),
                thoughts_tokens=Sum("thoughts_tokens"),
                total_tokens=Sum("total_tokens"),
            )
            .order_by("day", "owner")
        )


class Generation(models.Model):
    """One image generation: the request, its progress, and its result."""

    Status = GenerationStatus

    # Also the generation id the client logs and sends along.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="aigen_generations",
    )
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE,
                                     related_name="generations")
    # RESTRICT: a generation that others refine cannot be deleted on its own (their
    # history would lose turns); deleting the whole conversation still works.
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.RESTRICT,
                               related_name="refinements")
    status = models.CharField(max_length=16, choices=GenerationStatus.choices,
                              default=GenerationStatus.PENDING)

    # The request.
    prompt = models.TextField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # Requested model ("" = the configured default), replaced by the one that answered.
    model = models.CharField(max_length=100, blank=True)
    # Requested seed (None = random), replaced by the seed actually used.
    seed = models.BigIntegerField(null=True, blank=True)
    enable_grounding = models.BooleanField(default=False)
    # Provider-specific image options, e.g. OpenAI's {"quality": "high"}; checked against
    # the model when the generation is created (docs/providers.md).
    options = models.JSONField(default=dict, blank=True)
    reference_image = models.FileField(storage=aigen_storage, max_length=255, blank=True)
    reference_mime_type = models.CharField(max_length=100, blank=True)
    media_assets = models.ManyToManyField(MediaAsset, through="GenerationAsset",
                                          related_name="generations", blank=True)
    # "" = none. Unique per owner (anonymous generations are deduplicated best-effort).
    idempotency_key = models.CharField(max_length=255, blank=True, default="")

    # The result.
    image = models.FileField(storage=aigen_storage, max_length=255, blank=True)
    mime_type = models.CharField(max_length=100, blank=True)
    image_width = models.PositiveIntegerField(null=True, blank=True)
    image_height = models.PositiveIntegerField(null=True, blank=True)
    byte_size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    text = models.TextField(blank=True)
    model_version = models.CharField(max_length=100, blank=True)
    response_id = models.CharField(max_length=200, blank=True)
    # The provider's request id header (OpenAI's x-request-id) of the last reply, success
    # or failure: what the provider's support asks for.
    request_id = models.CharField(max_length=200, blank=True, default="")
    finish_reason = models.CharField(max_length=64, blank=True)
    prompt_tokens = models.PositiveIntegerField(default=0)
    candidates_tokens = models.PositiveIntegerField(default=0)
    thoughts_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    inference_time_ms = models.PositiveIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    block_reason = models.CharField(max_length=200, blank=True)

    # Background work. ``attempts``: task runs that claimed the row (the app's budget,
    # AIGEN["TASK_MAX_ATTEMPTS"]); ``api_attempts``: HTTP attempts of the last run.
    attempts = models.PositiveIntegerField(default=0)
    api_attempts = models.PositiveIntegerField(default=0)
    # A fresh value per claim: a run may only record its outcome while it still holds it,
    # so a run that outlived its deadline cannot overwrite its successor's result.
    run_token = models.UUIDField(null=True, blank=True, editable=False)
    queued_at = models.DateTimeField(null=True, blank=True)
    run_after = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=Q(owner__isnull=False) & ~Q(idempotency_key=""),
                name="aigen_generation_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "deadline_at"], name="aigen_gen_status_deadline"),
            # The listing's order, the primary key breaking ties (see Conversation).
            models.Index(fields=["owner", "created_at", "id"], name="aigen_gen_owner_created"),
        ]

    def __str__(self) -> str:
        return f"{self.prompt[:50]} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


class GenerationAsset(models.Model):
    """A media asset sent with a generation, in the order it was sent."""

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE,
                                   related_name="asset_links")
    asset = models.ForeignKey(MediaAsset, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["generation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["generation", "position"],
                                    name="aigen_generation_asset_position"),
        ]

    def __str__(self) -> str:
        return f"asset {self.position} of {self.generation_id}"


class TurnRole(models.TextChoices):
    USER = "user", "User"
    MODEL = "model", "Model"


class Turn(models.Model):
    """One turn of a conversation; each generation has one user and one model turn, at
    adjacent positions. A model turn without parts: the generation has no reply (yet)."""

    Role = TurnRole

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE,
                                     related_name="turns")
    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="turns")
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=8, choices=TurnRole.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["conversation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "position"],
                                    name="aigen_turn_unique_position"),
            models.UniqueConstraint(fields=["generation", "role"],
                                    name="aigen_turn_one_per_role"),
            # User turns at even positions, model turns at odd ones: with the two
            # constraints above, a prompt and a reply of different generations can
            # no longer share a pair (the old interleaving u1 m1 u2 u3 breaks it).
            models.CheckConstraint(
                condition=(Q(Exact(Mod("position", 2), 0), role=TurnRole.USER)
                           | Q(Exact(Mod("position", 2), 1), role=TurnRole.MODEL)),
                name="aigen_turn_role_matches_position",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} turn {self.position}"


class PartKind(models.TextChoices):
    TEXT = "text", "Text"
    IMAGE = "image", "Image"


class TurnPartQuerySet(models.QuerySet["TurnPart"]):
    def without_signatures(self) -> TurnPartQuerySet:
        """Parts in index order for showing, without their thought signatures (one can
        be half a megabyte, and none is ever shown): ``has_thought_signature`` says
        whether the part holds one."""
        held = ExpressionWrapper(Q(thought_signature__isnull=False),
                                 output_field=models.BooleanField())
        return self.defer("thought_signature").annotate(
            has_thought_signature=held).order_by("index")


class TurnPart(models.Model):
    """Text or an image, with the thought signature the model attached to it."""

    Kind = PartKind

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="parts")
    index = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8, choices=PartKind.choices)
    text = models.TextField(blank=True)
    image = models.FileField(storage=aigen_storage, max_length=255, blank=True)
    mime_type = models.CharField(max_length=100, blank=True)
    byte_size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    # Opaque base64 exactly as received; can exceed 500 KB (TEXT on every backend).
    # None = the part carried no signature, which replay must preserve.
    thought_signature = models.TextField(null=True, blank=True)  # noqa: DJ001

    objects = TurnPartQuerySet.as_manager()

    class Meta:
        ordering = ["turn", "index"]
        constraints = [
            models.UniqueConstraint(fields=["turn", "index"], name="aigen_turn_part_index"),
            models.CheckConstraint(
                condition=Q(kind=PartKind.TEXT) | (Q(kind=PartKind.IMAGE) & ~Q(image="")),
                name="aigen_turn_part_image_has_file",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} part {self.index}"

    @property
    def is_image(self) -> bool:
        return self.kind == PartKind.IMAGE


def count_per_conversation(model: type[Generation] | type[Turn]) -> Coalesce:
    """The outer conversation's ``model`` rows, counted by a correlated subquery: an
    annotation evaluated for each row the query returns, where ``Count()`` over the join
    would group every matching conversation first (and, over two joins, multiply one
    relation's rows by the other's)."""
    rows = (model._default_manager.filter(conversation=OuterRef("pk")).order_by()
            .values("conversation").annotate(total=Count("*")).values("total"))
    return Coalesce(Subquery(rows), Value(0))
