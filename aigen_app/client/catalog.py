"""Which provider serves a model id, and what each Gemini image model can do: one
table, and the choices derived from it (OpenAI's table: ``openai_catalog``).

Facts from docs/protocol-gemini.md#image-size, #grounding, #limits and #models. The model
takes no pixel size, only an aspect-ratio enum and a size tier; exact sizes are made
client-side.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

from .errors import InvalidRequestError, ModelNotFoundError, UnsupportedFeatureError
from .openai_catalog import OPENAI_MODELS, RETIRED_MODELS, check_options, get_openai_spec

BASE_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
EXTENDED_RATIOS = (*BASE_RATIOS, "1:4", "4:1", "1:8", "8:1")

# Long-side pixels of a 1:1 image per tier; the exact per-ratio table below wins where known.
TIER_EDGE = {"512": 512, "1K": 1024, "2K": 2048, "4K": 4096}

# gemini-3-pro-image's documented output sizes per ratio at 1K (2K and 4K are x2 and x4).
_PRO_1K = {
    "1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848), "3:4": (896, 1200),
    "4:3": (1200, 896), "4:5": (928, 1152), "5:4": (1152, 928), "9:16": (768, 1376),
    "16:9": (1376, 768), "21:9": (1584, 672),
}
# gemini-2.5-flash-image's documented output sizes (1K only).
_FLASH25 = {
    "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184),
    "4:3": (1184, 864), "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344),
    "16:9": (1344, 768), "21:9": (1536, 672),
}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    ratios: tuple[str, ...]
    # Size tiers in increasing order; empty when the model takes no imageSize.
    tiers: tuple[str, ...]
    grounding: bool
    max_input_images: int
    # Whether the model produces thought signatures that must be replayed.
    thinking: bool = True

    def native_size(self, ratio: str, tier: str | None) -> tuple[int, int]:
        """Pixel size the model returns for this ratio and tier."""
        factor = {"2K": 2, "4K": 4}.get(tier or "1K", 1)
        if self.name == "gemini-2.5-flash-image" and ratio in _FLASH25:
            return _FLASH25[ratio]
        if ratio in _PRO_1K and tier != "512":
            w, h = _PRO_1K[ratio]
            return w * factor, h * factor
        # Unpublished tables (extreme ratios, 512): keep the tier's pixel area at this ratio,
        # rounded to multiples of 16 like the published sizes.
        edge = TIER_EDGE[tier or "1K"]
        rw, rh = parse_ratio(ratio)
        scale = math.sqrt(edge * edge / (rw * rh))
        return _round16(rw * scale), _round16(rh * scale)


def _round16(value: float) -> int:
    return max(16, round(value / 16.0) * 16)


DEFAULT_MODEL = "gemini-nano-banana-2.1"

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("gemini-nano-banana-2.1", EXTENDED_RATIOS, ("1K", "2K", "4K"), True, 14),
        ModelSpec("gemini-3.1-flash-image", EXTENDED_RATIOS, ("512", "1K", "2K", "4K"), True, 14),
        ModelSpec("gemini-3-pro-image", BASE_RATIOS, ("1K", "2K", "4K"), True, 14),
        ModelSpec("gemini-3.1-flash-lite-image", BASE_RATIOS, (), False, 3),
        ModelSpec("gemini-2.5-flash-image", BASE_RATIOS, (), False, 3, thinking=False),
    )
}


def get_model_spec(model: str) -> ModelSpec:
    """The capabilities of ``model``. Unknown ids (new releases) get the default model's
    capabilities rather than a refusal: the API itself will say if they are wrong."""
    return MODELS.get(model) or replace(MODELS[DEFAULT_MODEL], name=model)


# How an id the tables do not know is told apart: new releases keep their family's prefix.
PROVIDER_PREFIXES: dict[str, tuple[str, ...]] = {
    "gemini": ("gemini-",),
    "openai": ("gpt-image-", "chatgpt-image-", "dall-e-"),
}
PROVIDER_LABELS = {"gemini": "Gemini", "openai": "OpenAI"}


def provider_of(model: str) -> str:
    """The provider ("gemini", "openai") serving ``model``: the tables first, then the
    id's prefix; ModelNotFoundError naming the providers' prefixes otherwise."""
    if model in MODELS:
        return "gemini"
    if model in OPENAI_MODELS or model in RETIRED_MODELS:
        return "openai"
    for provider, prefixes in PROVIDER_PREFIXES.items():
        if model.startswith(prefixes):
            return provider
    known = "; ".join(
        f"{PROVIDER_LABELS[name]} ids start with {' or '.join(repr(p) for p in prefixes)}"
        for name, prefixes in PROVIDER_PREFIXES.items()
    )
    raise ModelNotFoundError(f"model {model!r} belongs to no known provider ({known})")


@dataclass(frozen=True)
class Capabilities:
    """What the services check before storing a request, whatever the provider."""

    name: str
    provider: str
    grounding: bool
    max_input_images: int
    # Whether a refinement resends the whole conversation (Gemini) or only the latest
    # image with the inputs (OpenAI), which decides how many input images it needs.
    replays_history: bool


def capabilities(model: str) -> Capabilities:
    """``model``'s capabilities; ModelNotFoundError for an id no provider could serve."""
    if provider_of(model) == "openai":
        spec = get_openai_spec(model)
        return Capabilities(model, "openai", spec.grounding, spec.max_input_images, False)
    gemini = get_model_spec(model)
    return Capabilities(model, "gemini", gemini.grounding, gemini.max_input_images, True)


def check_model_options(model: str, options: dict[str, str], *, has_inputs: bool) -> None:
    """UnsupportedFeatureError for an image option ``model`` does not take; ``has_inputs``:
    the request sends input images (a reference, assets, or a refinement's history)."""
    if not options:
        return
    if provider_of(model) == "gemini":
        raise UnsupportedFeatureError(
            f"model {model} (Gemini) takes none of the options "
            f"{', '.join(sorted(options))}: they are OpenAI image options")
    check_options(get_openai_spec(model), options, edit=has_inputs)


def parse_ratio(ratio: str) -> tuple[int, int]:
    w, h = ratio.split(":")
    return int(w), int(h)


def nearest_ratio(spec: ModelSpec, width: int, height: int) -> str:
    """The supported ratio closest to width/height, compared on a log scale so 2:1 and
    1:2 are equally far from 1:1."""
    target = math.log(width / height)
    return min(spec.ratios, key=lambda r: abs(_log_ratio(r) - target))


@functools.cache
def _log_ratio(ratio: str) -> float:
    w, h = parse_ratio(ratio)
    return math.log(w / h)


def choose_tier(spec: ModelSpec, ratio: str, width: int, height: int) -> str | None:
    """The smallest tier whose native output covers width x height; the largest tier when
    none does (the result is then upscaled); None when the model has no tiers."""
    if not spec.tiers:
        return None
    for tier in spec.tiers:
        w, h = spec.native_size(ratio, tier)
        if w >= width and h >= height:
            return tier
    return spec.tiers[-1]


MAX_EDGE = 8192


def validate_size(width: int, height: int) -> None:
    if not (isinstance(width, int) and isinstance(height, int)):
        raise InvalidRequestError("width and height must be integers")
    if width < 1 or height < 1 or width > MAX_EDGE or height > MAX_EDGE:
        raise InvalidRequestError(
            f"size {width}x{height} is outside 1..{MAX_EDGE} pixels per side"
        )
