"""What each OpenAI image model can do: one table, and the size and option choices
derived from it (facts and sources: docs/protocol-openai.md).

Every GPT image model takes three standard sizes; the flexible ones also take any
``WxH`` that meets ``FLEXIBLE_RULES``. Options a model does not take are refused here,
before a request is paid for, instead of coming back as a 400.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .errors import ModelNotFoundError, UnsupportedFeatureError

STANDARD_SIZES = ((1024, 1024), (1536, 1024), (1024, 1536))
QUALITIES = ("low", "medium", "high", "auto")
QUALITIES_25 = (*QUALITIES, "xhigh", "max")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
ALL_BACKGROUNDS = ("transparent", "opaque", "auto")
OPAQUE_BACKGROUNDS = ("opaque", "auto")  # gpt-image-2: transparent is only "in preview"
MODERATION_LEVELS = ("low", "auto")
# Formats that can carry an alpha channel, which a transparent background needs.
ALPHA_FORMATS = ("png", "webp")
MAX_INPUT_IMAGES = 16
MAX_PROMPT_CHARS = 32_000
# The option names a request may carry (GenerationRequest.options), in wire spelling.
OPTION_NAMES = ("quality", "output_format", "background", "moderation", "input_fidelity")


@dataclass(frozen=True)
class SizeRules:
    """The rules a flexible size meets: both sides multiples of ``multiple``, the long
    side at most ``max_edge``, the ratio within ``max_ratio``:1 either way and the pixel
    count within ``min_pixels``..``max_pixels``."""

    multiple: int = 16
    max_edge: int = 3840
    max_ratio: float = 3.0
    min_pixels: int = 655_360
    max_pixels: int = 8_294_400

    def allows(self, width: int, height: int) -> bool:
        return (width % self.multiple == 0 and height % self.multiple == 0
                and max(width, height) <= self.max_edge
                and max(width, height) <= self.max_ratio * min(width, height)
                and self.min_pixels <= width * height <= self.max_pixels)


FLEXIBLE_RULES = SizeRules()


@dataclass(frozen=True)
class OpenAIModelSpec:
    name: str
    flexible_sizes: bool
    qualities: tuple[str, ...] = QUALITIES
    backgrounds: tuple[str, ...] = ALL_BACKGROUNDS
    input_fidelities: tuple[str, ...] = ()  # () : the model takes no input_fidelity
    max_input_images: int = MAX_INPUT_IMAGES
    grounding: bool = False
    provider: str = "openai"

    def choices(self, option: str) -> tuple[str, ...]:
        """The values ``option`` may take on this model (empty: not at all)."""
        return {
            "quality": self.qualities, "output_format": OUTPUT_FORMATS,
            "background": self.backgrounds, "moderation": MODERATION_LEVELS,
            "input_fidelity": self.input_fidelities,
        }[option]


def _dated(spec: OpenAIModelSpec, *dates: str) -> list[OpenAIModelSpec]:
    """``spec`` and its dated snapshots, which share its capabilities."""
    return [spec, *(replace(spec, name=f"{spec.name}-{date}") for date in dates)]


OPENAI_MODELS: dict[str, OpenAIModelSpec] = {
    spec.name: spec
    for spec in (
        OpenAIModelSpec("gpt-image-1.5", False, input_fidelities=("high", "low")),
        OpenAIModelSpec("gpt-image-1-mini", False, input_fidelities=("low",)),
        *_dated(OpenAIModelSpec("gpt-image-2", True, backgrounds=OPAQUE_BACKGROUNDS),
                "2026-04-21"),
        *_dated(OpenAIModelSpec("gpt-image-2.5-sunburst", True, QUALITIES_25), "2026-09-08"),
        *_dated(OpenAIModelSpec("gpt-image-2.5-flare", True, QUALITIES_25), "2026-09-08"),
        # Whether the 2.6 models take flexible sizes is unconfirmed: standard sizes only.
        OpenAIModelSpec("gpt-image-2.6-sunburst", False),
        OpenAIModelSpec("gpt-image-2.6-flare", False),
        OpenAIModelSpec("chatgpt-image-latest", False, backgrounds=OPAQUE_BACKGROUNDS),
    )
}
# Shut down by OpenAI: refused before a request instead of a 404 from the API.
RETIRED_MODELS = {
    "gpt-image-1": "was shut down on 2026-10-23; use gpt-image-2.5-sunburst or gpt-image-2",
    "dall-e-2": "was retired on 2026-05-12; use gpt-image-2",
    "dall-e-3": "was retired on 2026-05-12; use gpt-image-2",
}
# An id the table does not know (a new release) is sent as given with what every GPT
# image model takes: standard sizes and the basic options.
_UNKNOWN = OpenAIModelSpec("", False, backgrounds=OPAQUE_BACKGROUNDS)


def get_openai_spec(model: str) -> OpenAIModelSpec:
    if model in RETIRED_MODELS:
        raise ModelNotFoundError(f"model {model} {RETIRED_MODELS[model]}")
    return OPENAI_MODELS.get(model) or replace(_UNKNOWN, name=model)


def choose_size(spec: OpenAIModelSpec, width: int, height: int) -> tuple[int, int]:
    """The size to ask for: width x height itself when the model takes it, else the
    nearest size it takes (the result is then fitted to exactly width x height)."""
    if spec.flexible_sizes:
        if FLEXIBLE_RULES.allows(width, height):
            return width, height
        near = nearest_flexible(width, height, FLEXIBLE_RULES)
        if near is not None:
            return near
    target = math.log(width / height)
    return min(STANDARD_SIZES, key=lambda size: abs(math.log(size[0] / size[1]) - target))


def nearest_flexible(width: int, height: int, rules: SizeRules) -> tuple[int, int] | None:
    """The allowed size closest in ratio to width x height, its pixel count as near to
    the request's as the bounds allow (larger rather than smaller on a tie)."""
    ratio = min(max(width / height, 1 / rules.max_ratio), rules.max_ratio)
    area = min(max(width * height, rules.min_pixels), rules.max_pixels)
    ideal_w = math.sqrt(area * ratio)
    ideal_h = ideal_w / ratio
    shrink = min(1.0, rules.max_edge / max(ideal_w, ideal_h))
    ideal_w, ideal_h = ideal_w * shrink, ideal_h * shrink
    step = rules.multiple
    candidates = [
        (w, h)
        for w in (math.floor(ideal_w / step) * step, math.ceil(ideal_w / step) * step)
        for h in (math.floor(ideal_h / step) * step, math.ceil(ideal_h / step) * step)
        if w > 0 and h > 0 and rules.allows(w, h)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (abs(math.log(s[0] / s[1]) - math.log(ratio)),
                                          -s[0] * s[1]))


def check_options(spec: OpenAIModelSpec, options: dict[str, str], *, edit: bool) -> None:
    """UnsupportedFeatureError for an option the model (or the endpoint) does not take."""
    for option, value in options.items():
        if option not in OPTION_NAMES:
            raise UnsupportedFeatureError(
                f"unknown option {option!r}; OpenAI image options: {', '.join(OPTION_NAMES)}")
        allowed = spec.choices(option)
        if not allowed:
            raise UnsupportedFeatureError(f"model {spec.name} does not take {option}")
        if value not in allowed:
            raise UnsupportedFeatureError(
                f"model {spec.name} takes {option} {' / '.join(allowed)}, not {value!r}")
    if options.get("background") == "transparent" and (
            options.get("output_format", "png") not in ALPHA_FORMATS):
        raise UnsupportedFeatureError(
            "a transparent background needs output_format png or webp")
    if "input_fidelity" in options and not edit:
        raise UnsupportedFeatureError(
            "the input_fidelity option applies to input images: give a reference image, "
            "media assets or refine an earlier generation")
    if "moderation" in options and edit:
        raise UnsupportedFeatureError(
            "the moderation option applies to generations without input images (OpenAI's "
            "edits endpoint does not document it)")
