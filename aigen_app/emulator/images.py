"""Images the emulator draws, and the checks it runs on images it receives.

The output is a real image at the model's native size that shows its prompt, so a
human looking at the demo (or a test comparing bytes) can tell generations apart.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

# Enough of a long prompt to recognise it; drawing more would only shrink the text.
_MAX_PROMPT_CHARS = 400
_MARGIN = 0.06
_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class Caption:
    """What the image shows: the prompt big, the generation parameters small."""

    prompt: str
    model: str
    ratio: str
    tier: str | None
    seed: int


def background(prompt: str, seed: int) -> tuple[int, int, int]:
    """A mid-tone colour that changes with the prompt and the seed."""
    digest = hashlib.sha256(f"{prompt}|{seed}".encode()).digest()
    # Keep each channel within 40..215 so white or black text stays readable on it.
    r, g, b = (40 + digest[i] * 175 // 255 for i in range(3))
    return r, g, b


def render_image(caption: Caption, width: int, height: int, mime_type: str) -> bytes:
    """Encode a ``width`` x ``height`` image of ``caption`` as ``mime_type``."""
    colour = background(caption.prompt, caption.seed)
    ink = (0, 0, 0) if sum(colour) > 3 * 128 else (255, 255, 255)
    image = Image.new("RGB", (width, height), colour)
    draw = ImageDraw.Draw(image)
    # Motif in a tint between background and ink so it never competes with the prompt.
    tint = (
        (2 * colour[0] + ink[0]) // 3, (2 * colour[1] + ink[1]) // 3,
        (2 * colour[2] + ink[2]) // 3,
    )
    _draw_motif(draw, caption, width, height, tint)
    _draw_prompt(draw, caption.prompt or "(no prompt)", width, height, ink)
    small = ImageFont.load_default(size=max(10, min(width, height) // 40))
    footer = f"{caption.model} | {caption.ratio} | {caption.tier or '-'} | {width}x{height}"
    footer += f" | seed {caption.seed}"
    margin = int(min(width, height) * _MARGIN)
    draw.text((margin, height - margin), footer, font=small, fill=ink, anchor="ls")
    return encode_image(image, mime_type)


def encode_image(image: Image.Image, mime_type: str) -> bytes:
    """``image`` as the emulator sends it: JPEG, WebP, or a quickly compressed PNG."""
    out = io.BytesIO()
    if mime_type == "image/jpeg":
        image.save(out, "JPEG", quality=90)
    elif mime_type == "image/webp":
        image.save(out, "WEBP", quality=80, method=0)
    else:
        # Level 1: a 4K PNG at the default level takes seconds, and size does not matter.
        image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def _draw_motif(draw: ImageDraw.ImageDraw, caption: Caption, width: int, height: int,
                ink: tuple[int, int, int]) -> None:
    """A few seed-dependent circles, so equal prompts with different seeds differ visibly."""
    digest = hashlib.sha256(f"{caption.seed}|{caption.prompt}".encode()).digest()
    radius_unit = min(width, height) // 10
    for i in range(0, 12, 3):
        x, y = digest[i] * width // 255, digest[i + 1] * height // 255
        radius = radius_unit * (1 + digest[i + 2] % 3)
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=ink,
                     width=max(2, radius_unit // 12))


def _draw_prompt(draw: ImageDraw.ImageDraw, prompt: str, width: int, height: int,
                 ink: tuple[int, int, int]) -> None:
    text = prompt if len(prompt) <= _MAX_PROMPT_CHARS else prompt[:_MAX_PROMPT_CHARS] + "..."
    margin = int(min(width, height) * _MARGIN)
    box_width, box_height = width - 2 * margin, height - 3 * margin
    # Start big and shrink until the wrapped prompt fits the box.
    size = max(12, min(width, height) // 8)
    while True:
        font = ImageFont.load_default(size=size)
        lines = _wrap(text, font, box_width)
        line_height = int(size * 1.25)
        if len(lines) * line_height <= box_height or size <= 12:
            break
        size = int(size * 0.8)
    lines = lines[: max(1, box_height // line_height)]
    for n, line in enumerate(lines):
        draw.text((margin, margin + n * line_height), line, font=font, fill=ink)


def _wrap(text: str, font: _Font, max_width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if line and font.getlength(candidate) > max_width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) if ``data`` is an image Pillow can read, else None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            size = image.size
            image.verify()  # catches truncated or corrupt files, not just bad headers
    except Exception:  # Pillow raises many unrelated types for bad input
        return None
    return size
