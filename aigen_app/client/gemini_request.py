"""Build the ``generateContent`` request body (docs/protocol-gemini.md#request-body,
#thought-signatures).

Capability checks run here, before anything is sent, so a request the model cannot
serve fails fast with a clear message instead of a paid round trip and an opaque 400.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from .catalog import ModelSpec
from .errors import InvalidRequestError, UnsupportedFeatureError
from .labels import asset_intro
from .types import ContentPart, ConversationTurn, GenerationRequest

DEFAULT_SYSTEM_INSTRUCTION = (
    "You generate images. Follow these rules unless the prompt says otherwise.\n"
    "- Text: any text the prompt quotes or asks for appears exactly as written (same "
    "spelling, capitalisation and punctuation), clearly legible, and is never covered, "
    "cut off or cropped.\n"
    "- Quantities: when the prompt gives a number of things, show exactly that many.\n"
    "- Nothing extra: add no text, captions, logos, watermarks, signatures or borders "
    "the prompt did not ask for.\n"
    "- Reference image: when one is supplied, keep its layout and composition and change "
    "only what the prompt asks to change.\n"
    "- Style: choose freely unless the prompt specifies one.\n"
    "- Originality: produce an original image."
)


def build_payload(
    request: GenerationRequest,
    spec: ModelSpec,
    *,
    seed: int,
    aspect_ratio: str,
    image_size: str | None,
    system_instruction: str | None = DEFAULT_SYSTEM_INSTRUCTION,
    safety_settings: list[dict[str, str]] | None = None,
    response_modalities: tuple[str, ...] = ("TEXT", "IMAGE"),
) -> dict[str, Any]:
    """The JSON body for ``models/{spec.name}:generateContent``.

    Raises UnsupportedFeatureError when the model cannot do what is asked (grounding,
    too many input images) and InvalidRequestError for an empty prompt, an empty
    history turn or malformed safety settings.
    """
    if not request.prompt or not request.prompt.strip():
        raise InvalidRequestError("prompt is empty")
    if request.enable_grounding and not spec.grounding:
        raise UnsupportedFeatureError(
            f"model {spec.name} does not support grounding (Google Search)"
        )
    try:
        history = request.history_turns()
    except (TypeError, ValueError) as exc:
        raise InvalidRequestError(f"invalid conversation history: {exc}") from exc
    _check_image_count(request, history, spec)

    contents = [_turn_content(turn, index) for index, turn in enumerate(history, start=1)]
    contents.append({"role": "user", "parts": _new_user_parts(request)})

    image_config: dict[str, str] = {"aspectRatio": aspect_ratio}
    if image_size is not None:
        image_config["imageSize"] = image_size
    payload: dict[str, Any] = {"contents": contents}
    if system_instruction:
        payload["systemInstruction"] = {"parts": [{"text": system_instruction}]}
    payload["generationConfig"] = {
        "responseModalities": list(response_modalities),
        "seed": seed,
        "imageConfig": image_config,
    }
    if safety_settings is not None:
        payload["safetySettings"] = _checked_safety_settings(safety_settings)
    if request.enable_grounding:
        payload["tools"] = [{"googleSearch": {}}]
    return payload


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The body bytes to POST: compact UTF-8 JSON (images make it large enough already)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _check_image_count(
    request: GenerationRequest, history: list[ConversationTurn], spec: ModelSpec
) -> None:
    # Every inline image counts against the model's limit, including the ones the
    # model itself produced earlier in the conversation: they are sent again.
    count = (1 if request.input_image else 0) + len(request.media_assets)
    count += sum(1 for turn in history for part in turn.parts if part.is_image)
    if count > spec.max_input_images:
        raise UnsupportedFeatureError(
            f"model {spec.name} accepts at most {spec.max_input_images} input images; "
            f"this request has {count} (reference image, media assets and images in the "
            "conversation history)"
        )


def _turn_content(turn: ConversationTurn, position: int) -> dict[str, Any]:
    if not turn.parts:
        raise InvalidRequestError(f"conversation turn {position} ({turn.role}) has no parts")
    return {"role": turn.role, "parts": [_part(part, position) for part in turn.parts]}


def _part(part: ContentPart, position: int) -> dict[str, Any]:
    wire: dict[str, Any]
    if part.image_data is not None:
        wire = _inline_image(part.image_data, part.mime_type or "image/png")
    elif part.text is not None:
        wire = {"text": part.text}
    else:
        raise InvalidRequestError(
            f"conversation turn {position} has a part with neither text nor image"
        )
    if part.thought_signature is not None:
        # Opaque and possibly huge: echoed exactly as the API sent it, never re-encoded.
        wire["thoughtSignature"] = part.thought_signature
    return wire


def _new_user_parts(request: GenerationRequest) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if request.input_image:
        parts.append(_inline_image(request.input_image, request.input_image_mime_type))
    parts.append({"text": request.prompt})
    for number, asset in enumerate(request.media_assets, start=1):
        parts.append({"text": asset_intro(number, asset)})
        parts.append(_inline_image(asset.image_data, asset.mime_type))
    return parts


def _inline_image(data: bytes, mime_type: str) -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime_type, "data": base64.b64encode(data).decode("ascii")}}


def _checked_safety_settings(settings: list[dict[str, str]]) -> list[dict[str, str]]:
    checked: list[dict[str, str]] = []
    for index, item in enumerate(settings):
        if not (isinstance(item, dict) and _filled(item.get("category"))
                and _filled(item.get("threshold"))):
            raise InvalidRequestError(
                f"safety setting {index} must be a dict with string 'category' and "
                f"'threshold', got {item!r}"
            )
        checked.append(dict(item))
    return checked


def _filled(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())
