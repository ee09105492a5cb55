"""The emulator's own copy of OpenAI's image-model table, written from
docs/protocol-openai.md and never imported from the client: a test
(tests/emulator/test_model_tables.py) checks the two agree, so a wrong entry in the
client's table is caught here instead of being echoed back.
"""

from __future__ import annotations

from dataclasses import dataclass

STANDARD_SIZES = frozenset({"1024x1024", "1536x1024", "1024x1536", "auto"})
AUTO_SIZE = (1024, 1024)
BASIC_QUALITIES = frozenset({"low", "medium", "high", "auto"})
OUTPUT_FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
MODERATION = frozenset({"low", "auto"})
MAX_EDIT_IMAGES = 16
MAX_PROMPT = 32_000


@dataclass(frozen=True)
class ImageModel:
    name: str
    any_size: bool  # takes any WxH meeting the flexible rules besides the standard sizes
    qualities: frozenset[str] = BASIC_QUALITIES
    transparent: bool = True
    fidelities: frozenset[str] = frozenset()


def _with_snapshot(model: ImageModel, date: str) -> list[ImageModel]:
    return [model, ImageModel(f"{model.name}-{date}", model.any_size, model.qualities,
                              model.transparent, model.fidelities)]


_QUALITIES_25 = BASIC_QUALITIES | {"xhigh", "max"}
IMAGE_MODELS: dict[str, ImageModel] = {
    model.name: model for model in (
        ImageModel("gpt-image-1.5", False, fidelities=frozenset({"high", "low"})),
        ImageModel("gpt-image-1-mini", False, fidelities=frozenset({"low"})),
        *_with_snapshot(ImageModel("gpt-image-2", True, transparent=False), "2026-04-21"),
        *_with_snapshot(ImageModel("gpt-image-2.5-sunburst", True, _QUALITIES_25),
                        "2026-09-08"),
        *_with_snapshot(ImageModel("gpt-image-2.5-flare", True, _QUALITIES_25), "2026-09-08"),
        ImageModel("gpt-image-2.6-sunburst", False),
        ImageModel("gpt-image-2.6-flare", False),
        ImageModel("chatgpt-image-latest", False, transparent=False),
    )
}


def size_problem(model: ImageModel, size: str) -> str | None:
    """The API's 400 message for ``size`` on ``model``, or None when it is taken."""
    if size in STANDARD_SIZES:
        return None
    supported = (f"Invalid value: '{size}'. Supported values are: '1024x1024', "
                 "'1024x1536', '1536x1024', and 'auto'.")
    if not model.any_size:
        return supported
    width_text, _, height_text = size.partition("x")
    if not (width_text.isdigit() and height_text.isdigit()):
        return supported
    width, height = int(width_text), int(height_text)
    if width % 16 or height % 16:
        return f"Invalid size '{size}'. Width and height must both be divisible by 16."
    if max(width, height) > 3840:
        return f"Invalid size '{size}'. The longest side must be at most 3840 pixels."
    if max(width, height) > 3 * min(width, height):
        return f"Invalid size '{size}'. The aspect ratio must be between 1:3 and 3:1."
    if not 655_360 <= width * height <= 8_294_400:
        return (f"Invalid size '{size}'. The total number of pixels must be between "
                "655360 and 8294400.")
    return None


def pixel_size(size: str) -> tuple[int, int]:
    """The size an accepted ``size`` value produces."""
    if size == "auto":
        return AUTO_SIZE
    width, _, height = size.partition("x")
    return int(width), int(height)
