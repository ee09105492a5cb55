"""The emulator's own copy of Gemini's image-model table (docs/protocol-gemini.md),
never imported from the client: tests/emulator/test_model_tables.py checks the two
agree, so a wrong entry in the client cannot hide behind the emulator echoing it."""

from __future__ import annotations

import math
from dataclasses import dataclass

RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
WIDE_RATIOS = (*RATIOS, "1:4", "4:1", "1:8", "8:1")
# Published pixel sizes at 1K: gemini-3-pro-image (2K and 4K double and quadruple them)
# and gemini-2.5-flash-image (1K only).
PRO_SIZES = {
    "1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848), "3:4": (896, 1200),
    "4:3": (1200, 896), "4:5": (928, 1152), "5:4": (1152, 928), "9:16": (768, 1376),
    "16:9": (1376, 768), "21:9": (1584, 672),
}
FLASH_25_SIZES = {
    "1:1": (1024, 1024), "2:3": (832, 1248), "3:2": (1248, 832), "3:4": (864, 1184),
    "4:3": (1184, 864), "4:5": (896, 1152), "5:4": (1152, 896), "9:16": (768, 1344),
    "16:9": (1344, 768), "21:9": (1536, 672),
}
# The long side of a square image per size tier.
EDGES = {"512": 512, "1K": 1024, "2K": 2048, "4K": 4096}


@dataclass(frozen=True)
class GeminiModel:
    name: str
    ratios: tuple[str, ...]
    tiers: tuple[str, ...]  # empty: the model takes no imageSize
    grounding: bool
    max_input_images: int
    thinking: bool = True  # whether replies carry thought signatures

    def native_size(self, ratio: str, tier: str | None) -> tuple[int, int]:
        """The pixel size this model draws for ``ratio`` at ``tier``."""
        if self.name == "gemini-2.5-flash-image" and ratio in FLASH_25_SIZES:
            return FLASH_25_SIZES[ratio]
        level = tier or "1K"
        if ratio in PRO_SIZES and level != "512":
            multiple = {"2K": 2, "4K": 4}.get(level, 1)
            width, height = PRO_SIZES[ratio]
            return width * multiple, height * multiple
        # No published table: the tier's square area at this ratio, in steps of 16.
        across, down = (int(side) for side in ratio.split(":"))
        scale = EDGES[level] / math.sqrt(across * down)
        return _step16(across * scale), _step16(down * scale)


def _step16(value: float) -> int:
    return max(16, round(value / 16.0) * 16)


GEMINI_MODELS: dict[str, GeminiModel] = {
    model.name: model for model in (
        GeminiModel("gemini-nano-banana-2.1", WIDE_RATIOS, ("1K", "2K", "4K"), True, 14),
        GeminiModel("gemini-3.1-flash-image", WIDE_RATIOS, ("512", "1K", "2K", "4K"), True, 14),
        GeminiModel("gemini-3-pro-image", RATIOS, ("1K", "2K", "4K"), True, 14),
        GeminiModel("gemini-3.1-flash-lite-image", RATIOS, (), False, 3),
        GeminiModel("gemini-2.5-flash-image", RATIOS, (), False, 3, thinking=False),
    )
}


def closest_ratio(model: GeminiModel, width: int, height: int) -> str:
    """The model's ratio nearest to width:height on a log scale (2:1 and 1:2 are as far
    from 1:1), which is what the API picks for an input image without aspectRatio."""
    def distance(ratio: str) -> float:
        across, down = (int(side) for side in ratio.split(":"))
        return abs(math.log(across / down) - math.log(width / height))
    return min(model.ratios, key=distance)
