"""Checking what callers ask for, before anything is stored or paid for."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..client import ModelNotFoundError, UnsupportedFeatureError, capabilities, provider_of
from ..client.catalog import PROVIDER_LABELS, check_model_options
from ..models import MediaAsset
from .errors import InvalidInput
from .rules import resolved_model


def check_options_shape(options: object) -> dict[str, str]:
    """Options are a flat mapping of names to strings (what each may be is the model's)."""
    if options is None:
        return {}
    if not isinstance(options, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
        raise InvalidInput("options", "options must map option names to strings.",
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
        raise InvalidInput("model", f"{str(exc)[:1].upper()}{str(exc)[1:]}.",
                           code="unknown_model") from None
    if parent_model is not None:
        before = _provider_or_gemini(parent_model)
        if before != spec.provider:
            raise InvalidInput(
                "model", f"Refine with a model of the same provider: this conversation was "
                f"made by {parent_model} ({PROVIDER_LABELS[before]}); {spec.name} is an "
                f"{PROVIDER_LABELS[spec.provider]} model.", code="provider_mismatch")
    if seed is not None and spec.provider == "openai":
        raise InvalidInput("seed", f"Model {spec.name} (OpenAI) takes no seed.",
                           code="seed_unsupported")
    try:
        check_model_options(spec.name, options or {}, has_inputs=has_inputs)
    except UnsupportedFeatureError as exc:
        raise InvalidInput("options", f"{exc.message[:1].upper()}{exc.message[1:]}.",
                           code="option_unsupported") from None
    if grounding and not spec.grounding:
        raise InvalidInput("enable_grounding",
                           f"Model {spec.name} does not support grounding.",
                           code="grounding_unsupported")
    if input_images > spec.max_input_images:
        raise InvalidInput(
            "media_assets", f"Model {spec.name} accepts at most {spec.max_input_images} "
            f"input images; this request needs {input_images} (reference image, media "
            "assets and the images earlier in the conversation).",
            code="too_many_images",
        )


def _provider_or_gemini(model: str) -> str:
    # Rows from before OpenAI was added hold Gemini ids only, whatever they look like.
    try:
        return provider_of(model)
    except ModelNotFoundError:
        return "gemini"


def check_assets(assets: Sequence[MediaAsset], owner: Any) -> list[MediaAsset]:
    """Assets must be saved and belong to the generation's owner."""
    owner_id = getattr(owner, "pk", None)
    for asset in assets:
        if not isinstance(asset, MediaAsset) or asset.pk is None:
            raise InvalidInput("media_assets",
                               "media_assets must be saved MediaAsset objects.",
                               code="invalid_asset")
        if asset.owner_id != owner_id:
            raise InvalidInput("media_assets",
                               f"Media asset {asset.pk} belongs to another user.",
                               code="invalid_asset")
    if len({asset.pk for asset in assets}) != len(assets):
        raise InvalidInput("media_assets", "A media asset is listed twice.",
                           code="invalid_asset")
    return list(assets)
