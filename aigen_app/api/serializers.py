"""What the API reads and writes. Input serializers validate and hand over to the
services; output serializers link images to the API's owner-only endpoints."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .. import images, services
from ..models import AssetType, Conversation, Generation, MediaAsset, Turn, TurnPart
from ..services import rules
from .strict import ObjectField, StrictInput

# Where the viewsets' queryset puts a generation's asset links, in order.
PREFETCHED_ASSET_LINKS = "prefetched_asset_links"


def absolute(request: Any, view: str, **kwargs: Any) -> str:
    url = reverse(f"aigen_api:{view}", kwargs=kwargs)
    return str(request.build_absolute_uri(url)) if request is not None else url


# Output ---------------------------------------------------------------------------------

class StoredImageSerializer(serializers.Serializer[Any]):
    url = serializers.URLField(help_text="Owner-only; a signed redirect on remote storage.")
    mime_type = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    byte_size = serializers.IntegerField(allow_null=True)
    sha256 = serializers.CharField()


class ErrorInfoSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable: content_policy, rate_limited, "
                                 "quota_exceeded, timeout, server_error, no_image...")
    message = serializers.CharField()


class UsageSerializer(serializers.Serializer[Any]):
    prompt_tokens = serializers.IntegerField()
    candidates_tokens = serializers.IntegerField()
    thoughts_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class GenerationSerializer(serializers.ModelSerializer[Generation]):
    """A generation. ``status`` ``blocked`` (with ``block_reason``) is a normal outcome,
    not an HTTP error: the model refused the prompt or its image."""

    url = serializers.SerializerMethodField()
    conversation = serializers.UUIDField(source="conversation_id", read_only=True)
    # Declared fields leave the class (metaclass), so this does not shadow Field.parent.
    parent = serializers.UUIDField(  # type: ignore[assignment]
        source="parent_id", read_only=True, allow_null=True)
    media_assets = serializers.SerializerMethodField()
    image = serializers.SerializerMethodField()
    error = serializers.SerializerMethodField()
    usage = UsageSerializer(source="*", read_only=True)

    class Meta:
        model = Generation
        fields = ["id", "url", "status", "prompt", "width", "height", "model", "seed",
                  "enable_grounding", "conversation", "parent", "media_assets", "image",
                  "text", "model_version", "finish_reason", "block_reason", "error", "usage",
                  "options", "request_id", "attempts", "created_at", "started_at",
                  "finished_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, generation: Generation) -> str:
        return absolute(self.context.get("request"), "generation-detail", pk=generation.pk)

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_media_assets(self, generation: Generation) -> list[str]:
        links = getattr(generation, PREFETCHED_ASSET_LINKS, None)
        if links is None:  # not fetched through the viewsets' queryset
            links = generation.asset_links.order_by("position")
        return [str(link.asset_id) for link in links]

    @extend_schema_field(StoredImageSerializer(allow_null=True))
    def get_image(self, generation: Generation) -> dict[str, Any] | None:
        if not generation.image:
            return None
        return {"url": absolute(self.context.get("request"), "generation-image",
                                pk=generation.pk),
                "mime_type": generation.mime_type, "width": generation.image_width,
                "height": generation.image_height, "byte_size": generation.byte_size,
                "sha256": generation.sha256}

    @extend_schema_field(ErrorInfoSerializer(allow_null=True))
    def get_error(self, generation: Generation) -> dict[str, str] | None:
        if not (generation.error_code or generation.error_message):
            return None
        return {"code": generation.error_code, "message": generation.error_message}


class MediaAssetSerializer(serializers.ModelSerializer[MediaAsset]):
    url = serializers.SerializerMethodField()
    image = serializers.SerializerMethodField()

    class Meta:
        model = MediaAsset
        fields = ["id", "url", "image", "asset_type", "display_name", "created_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, asset: MediaAsset) -> str:
        return absolute(self.context.get("request"), "asset-detail", pk=asset.pk)

    @extend_schema_field(StoredImageSerializer)
    def get_image(self, asset: MediaAsset) -> dict[str, Any]:
        return {"url": absolute(self.context.get("request"), "asset-image", pk=asset.pk),
                "mime_type": asset.mime_type, "width": asset.width, "height": asset.height,
                "byte_size": asset.byte_size, "sha256": asset.sha256}


class PartImageSerializer(serializers.Serializer[Any]):
    url = serializers.URLField()
    mime_type = serializers.CharField()
    byte_size = serializers.IntegerField(allow_null=True)


class TurnPartSerializer(serializers.ModelSerializer[TurnPart]):
    """A part of a turn. The thought signature itself is never sent, only whether the
    conversation holds one (refinements replay it to the model)."""

    text = serializers.SerializerMethodField()
    image = serializers.SerializerMethodField()
    has_thought_signature = serializers.BooleanField(read_only=True)

    class Meta:
        model = TurnPart
        fields = ["index", "kind", "text", "image", "has_thought_signature"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_text(self, part: TurnPart) -> str | None:
        return None if part.is_image else part.text

    @extend_schema_field(PartImageSerializer(allow_null=True))
    def get_image(self, part: TurnPart) -> dict[str, Any] | None:
        if not part.is_image:
            return None
        turn = part.turn
        url = absolute(self.context.get("request"), "conversation-part-image",
                       pk=turn.conversation_id, position=turn.position, index=part.index)
        return {"url": url, "mime_type": part.mime_type, "byte_size": part.byte_size}


class TurnSerializer(serializers.ModelSerializer[Turn]):
    """A turn. Each generation has two, side by side: its user turn at an even position,
    then its model turn, which has no parts until the generation succeeds."""

    generation = serializers.UUIDField(source="generation_id", read_only=True)
    parts = TurnPartSerializer(
        many=True, read_only=True,
        help_text="In order. Empty for a model turn whose generation has not succeeded "
                  "(pending, running, failed, blocked or canceled): see the generation's "
                  "status.",
    )

    class Meta:
        model = Turn
        fields = ["position", "role", "generation", "created_at", "parts"]
        read_only_fields = fields


class ConversationSerializer(serializers.ModelSerializer[Conversation]):
    url = serializers.SerializerMethodField()
    generation_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Conversation
        fields = ["id", "url", "title", "generation_count", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, conversation: Conversation) -> str:
        return absolute(self.context.get("request"), "conversation-detail",
                        pk=conversation.pk)


class ConversationDetailSerializer(ConversationSerializer):
    """A conversation with every turn by position: per generation, in the order they
    were created, its user turn then its model turn."""

    turns = TurnSerializer(many=True, read_only=True)

    class Meta(ConversationSerializer.Meta):
        fields = [*ConversationSerializer.Meta.fields, "turns"]
        read_only_fields = fields


# Input ----------------------------------------------------------------------------------

@extend_schema_field(OpenApiTypes.BINARY)  # a file part, with or without the host's
class ImageUploadField(serializers.FileField):  # COMPONENT_SPLIT_REQUEST
    """A PNG, JPEG, WebP or HEIC/HEIF upload. A part declared as another type is
    refused here; the service it is handed to checks the content
    (``aigen_app.images``), and its refusal comes back as this field's error."""

    def to_internal_value(self, data: Any) -> Any:
        upload = super().to_internal_value(data)
        try:
            images.check_declared_type(getattr(upload, "content_type", "") or "")
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0], code=exc.code) from None
        return upload


class OwnedAssetsField(serializers.ListField):
    """Ids of the requesting user's media assets, resolved in order (unknown ids and
    other users' assets are refused alike)."""

    child = serializers.UUIDField()

    def to_internal_value(self, data: Any) -> list[MediaAsset]:
        ids = super().to_internal_value(data)
        request = self.context["request"]
        found = MediaAsset.objects.filter(owner=request.user, pk__in=ids).in_bulk()
        missing = [str(pk) for pk in ids if pk not in found]
        if missing:
            raise serializers.ValidationError(
                f"No media asset of yours has the id(s) {', '.join(missing)}.",
                code="does_not_exist")
        return [found[pk] for pk in ids]


class PromptField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, validators=rules.field_validators("prompt"),
                         **kwargs)


def _edge(name: str, **kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(validators=rules.field_validators(name), **kwargs)


def _model(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(validators=rules.field_validators("model"), required=False,
                                 allow_blank=True, **kwargs)


def _options() -> ObjectField:
    return ObjectField(
        child=serializers.CharField(max_length=40), required=False, default=dict,
        help_text="OpenAI image options the model takes: quality, output_format, "
                  "background, moderation (no input images), input_fidelity (with input "
                  "images). Not inherited by refinements. In multipart form data: one "
                  "part holding the object as JSON.")


def _seed() -> serializers.IntegerField:
    return serializers.IntegerField(validators=rules.field_validators("seed"), required=False,
                                    allow_null=True, default=None)


class GenerationCreateSerializer(StrictInput):
    """Start a generation in a new conversation. Send JSON, or multipart form data when
    attaching a ``reference_image`` (``media_assets`` repeated once per id)."""

    prompt = PromptField()
    width = _edge("width", default=1024)
    height = _edge("height", default=1024)
    model = _model(default="", help_text="A Gemini (gemini-*) or OpenAI (gpt-image-*) "
                                         "model id; empty: the configured default.")
    seed = _seed()
    enable_grounding = serializers.BooleanField(default=False)
    media_assets = OwnedAssetsField(required=False, default=list, max_length=20)
    reference_image = ImageUploadField(required=False, help_text=(
        "PNG, JPEG, WebP or HEIC/HEIF (converted to JPEG), decided by content."))
    title = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                  help_text="The new conversation's title (default: the "
                                            "prompt's start).")
    options = _options()

    def create(self, validated_data: dict[str, Any]) -> Generation:
        data = dict(validated_data)
        return services.create_generation(
            data.pop("prompt"), reference_image=data.pop("reference_image", None), **data)


class RefineSerializer(StrictInput):
    """Continue a succeeded generation's conversation. Omitted size, model and grounding
    are the parent's."""

    prompt = PromptField()
    width = _edge("width", required=False)
    height = _edge("height", required=False)
    model = _model()
    seed = _seed()
    enable_grounding = serializers.BooleanField(required=False, allow_null=True,
                                                default=None)
    media_assets = OwnedAssetsField(required=False, default=list, max_length=20)
    reference_image = ImageUploadField(required=False)
    options = _options()

    def create(self, validated_data: dict[str, Any]) -> Generation:
        data = dict(validated_data)
        parent: Generation = data.pop("parent")
        return services.refine(parent, data.pop("prompt"),
                               reference_image=data.pop("reference_image", None), **data)


class MediaAssetUploadSerializer(StrictInput):
    """Upload an asset (multipart). The same image uploaded twice is one asset;
    ``created`` says, after ``save``, whether this upload stored it."""

    created = False

    image = ImageUploadField(help_text="PNG, JPEG, WebP or HEIC/HEIF (converted to JPEG), "
                                       "decided by content, not by name or type.")
    asset_type = serializers.ChoiceField(choices=AssetType.choices, default=AssetType.OTHER)
    display_name = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                         help_text="Default: the uploaded file's name.")

    def to_internal_value(self, data: Any) -> Any:
        values = super().to_internal_value(data)
        if not values.get("display_name"):
            upload = data.get("image") if isinstance(data, Mapping) else None
            values["display_name"] = display_name(getattr(upload, "name", "") or "")
        return values

    def create(self, validated_data: dict[str, Any]) -> MediaAsset:
        data = dict(validated_data)
        asset, self.created = services.get_or_add_media_asset(data.pop("image"), **data)
        return asset


def display_name(file_name: str) -> str:
    """The last path component of ``file_name``, printable characters only."""
    base = os.path.basename(file_name.replace("\\", "/"))
    return "".join(ch for ch in base if ch.isprintable())[:200]
