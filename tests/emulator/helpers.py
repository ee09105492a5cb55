"""Request-body builders and reply readers shared by the emulator tests."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from aigen_app.emulator import EmulatorServer

MODEL = "gemini-nano-banana-2.1"
KEY = "test-key-123"


def url(emu: EmulatorServer, model: str = MODEL) -> str:
    return f"{emu.base_url}/models/{model}:generateContent"


def user(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "parts": list(parts)}


def text(value: str) -> dict[str, Any]:
    return {"text": value}


def inline(data: bytes | str, mime: str = "image/png") -> dict[str, Any]:
    encoded = data if isinstance(data, str) else base64.b64encode(data).decode()
    return {"inlineData": {"mimeType": mime, "data": encoded}}


def body(prompt: str = "a lighthouse at dusk", *, ratio: str | None = None,
         size: str | None = None, seed: int | None = None,
         contents: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    image_config: dict[str, Any] = {}
    if ratio:
        image_config["aspectRatio"] = ratio
    if size:
        image_config["imageSize"] = size
    config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    if image_config:
        config["imageConfig"] = image_config
    if seed is not None:
        config["seed"] = seed
    return {"contents": contents or [user(text(prompt))], "generationConfig": config, **extra}


def png(width: int = 64, height: int = 64, colour: tuple[int, int, int] = (10, 120, 200),
        noise: bool = False) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    if noise:  # incompressible bytes: their base64 uses every character, '+' and '/' too
        image = Image.frombytes("RGB", (width, height), bytes(
            (i * 7919 + (i >> 3) * 104729) % 251 for i in range(width * height * 3)))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def image_part(reply: dict[str, Any]) -> dict[str, Any]:
    parts = reply["candidates"][0]["content"]["parts"]
    return next(p for p in parts if "inlineData" in p and not p.get("thought"))


def decode_image(reply: dict[str, Any]) -> Image.Image:
    data = base64.b64decode(image_part(reply)["inlineData"]["data"], validate=True)
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
