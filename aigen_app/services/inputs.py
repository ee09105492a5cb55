"""Checking what callers ask for, before anything is stored or paid for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from PIL import Image

from ..client import ModelNotFoundError, UnsupportedFeatureError, capabilities, provider_of
from ..client.catalog import MAX_EDGE, PROVIDER_LABELS, check_model_options
from ..client.client import default_model
from ..conf import aigen_settings
from ..image_metadata import without_metadata
from ..models import MediaAsset
from ..storage import ImageInfo, inspect_image

# What the API accepts as inline input images that Pillow can also measure.
ACCEPTED_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
SEED_RANGE = (-(2**31), 2**31 - 1)  # the API's int32

ImageInput = bytes | File[Any]


def clean_prompt(prompt: object) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValidationError("The prompt is empty.", code="prompt_empty")
    return prompt


def check_size(width: object, height: object) -> tuple[int, int]:
    for name, value in (("width", width), ("height", height)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(f"{name} must be an integer.", code="invalid_size")
        if not 1 <= value <= MAX_EDGE:
            raise ValidationError(f"{name} must be between 1 and {MAX_EDGE} pixels.",
                                  code="invalid_size")
    return width, height  # type: ignore[return-value]


def check_seed(seed: object) -> int | None:
    if seed is None:
        return None
    if not isinstance(seed, int) or isinstance(seed, bool) or not (
        SEED_RANGE[0] <= seed <= SEED_RANGE[1]
    ):
        raise ValidationError("seed must be a 32-bit integer.", code="invalid_seed")
    return seed


def check_model_name(model: object) -> str:
    if not isinstance(model, str) or len(model) > 100:
        raise ValidationError("model must be a model id of at most 100 characters.",
                              code="invalid_model")
    return model


def check_idempotency_key(key: object) -> str | None:
    if key is None or key == "":
        return None
    if not isinstance(key, str) or len(key) > 255:
        raise ValidationError("The idempotency key must be a string of at most 255 "
                              "characters.", code="invalid_idempotency_key")
    return key


def resolved_model(model: str) -> str:
    """The model the client will use for ``model`` ("" for the default): the same
    fallbacks as AIGenerationClient, so a row records the model before it runs."""
    return model or default_model(aigen_settings.MODEL)


def check_options_shape(options: object) -> dict[str, str]:
    """Options are a flat mapping of names to strings (what each may be is the model's)."""
    if options is None:
        return {}
    if not isinstance(options, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
        raise ValidationError("options must map option names to strings.",
                              code="invalid_options")
    return dict(options)


def check_model(model: str, *, grounding: bool, input_images: int, seed: int | None = None,
                parent_model: str | None = None, options: dict[str, str] | None = None,
                has_inputs: bool = False) -> None:
    """Refuse what the model's capabilities rule out (the API would answer 400), and a
    refinement by another provider than the one that made the conversation so far
    (docs/providers.md: histories are not converted between providers)."""
    try:
        spec = capabilities(resolved_model(model))
    except ModelNotFoundError as exc:
        raise ValidationError(f"{str(exc)[:1].upper()}{str(exc)[1:]}.",
                              code="unknown_model") from None
    if parent_model is not None:
        before = _provider_or_gemini(parent_model)
        if before != spec.provider:
            raise ValidationError(
                f"Refine with a model of the same provider: this conversation was made by "
                f"{parent_model} ({PROVIDER_LABELS[before]}); {spec.name} is an "
                f"{PROVIDER_LABELS[spec.provider]} model.", code="provider_mismatch")
    if seed is not None and spec.provider == "openai":
        raise ValidationError(f"Model {spec.name} (OpenAI) takes no seed.",
                              code="seed_unsupported")
    try:
        check_model_options(spec.name, options or {}, has_inputs=has_inputs)
    except UnsupportedFeatureError as exc:
        raise ValidationError(f"{exc.message[:1].upper()}{exc.message[1:]}.",
                              code="option_unsupported") from None
    if grounding and not spec.grounding:
        raise ValidationError(f"Model {spec.name} does not support grounding.",
                              code="grounding_unsupported")
    if input_images > spec.max_input_images:
        raise ValidationError(
            f"Model {spec.name} accepts at most {spec.max_input_images} input images; this "
            f"request needs {input_images} (reference image, media assets and the images "
            "earlier in the conversation).",
            code="too_many_images",
        )


def _provider_or_gemini(model: str) -> str:
    # Rows from before OpenAI was added hold Gemini ids only, whatever they look like.
    try:
        return provider_of(model)
    except ModelNotFoundError:
        return "gemini"


def read_image(value: ImageInput, what: str) -> tuple[bytes, ImageInfo]:
    """The bytes to store for an uploaded image, without its metadata
    (``image_metadata``), and their measurements; or a ValidationError. Every path an
    image comes in by (API, admin, command, a direct service call) passes here."""
    limit = int(aigen_settings.MAX_IMAGE_BYTES)
    if isinstance(value, bytes):
        data = value
    else:
        if value.size is not None and value.size > limit:
            raise _too_large(what, limit)
        value.seek(0)
        raw = value.read(limit + 1)
        data = raw if isinstance(raw, bytes) else raw.encode()
    if not data:
        raise ValidationError(f"The {what} is empty.", code="invalid_image")
    if len(data) > limit:
        raise _too_large(what, limit)
    try:
        data = without_metadata(data)
        info = inspect_image(data)
    except (ValueError, OSError, SyntaxError, EOFError, Image.DecompressionBombError):
        raise ValidationError(f"The {what} is not a readable image.",
                              code="invalid_image") from None
    if info.mime_type not in ACCEPTED_IMAGE_TYPES:
        raise ValidationError(
            f"The {what} is {info.mime_type}; use PNG, JPEG or WebP.", code="invalid_image"
        )
    return data, info


def _too_large(what: str, limit: int) -> ValidationError:
    return ValidationError(f"The {what} is larger than {limit} bytes "
                           "(AIGEN['MAX_IMAGE_BYTES']).", code="image_too_large")


def check_assets(assets: Sequence[MediaAsset], owner: Any) -> list[MediaAsset]:
    """Assets must be saved and belong to the generation's owner."""
    owner_id = getattr(owner, "pk", None)
    for asset in assets:
        if not isinstance(asset, MediaAsset) or asset.pk is None:
            raise ValidationError("media_assets must be saved MediaAsset objects.",
                                  code="invalid_asset")
        if asset.owner_id != owner_id:
            raise ValidationError(f"Media asset {asset.pk} belongs to another user.",
                                  code="invalid_asset")
    if len({asset.pk for asset in assets}) != len(assets):
        raise ValidationError("A media asset is listed twice.", code="invalid_asset")
    return list(assets)
