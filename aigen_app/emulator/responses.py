"""HTTP 200 bodies: a generated image, and the ways a 200 can still carry no image.

Shapes follow docs/protocol-gemini.md#reply, #blocks and #thought-signatures: thought parts
carry no signature, every other part does (on thinking models), blocks come back as 200s,
and ``content`` may be ``{}``.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from .request import GenerateCall
from .signatures import SignatureRegistry, content_digest

_CATEGORIES = (
    "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_SEXUALLY_EXPLICIT",
)
IMAGE_OTHER_MESSAGE = (
    "Unable to show the generated image. The model could not generate the image based on "
    "the prompt provided."
)
FINISH_MESSAGES = {
    "IMAGE_SAFETY": "Unable to show the generated image. The generated image may violate "
                    "our policies.",
    "NO_IMAGE": "The model did not generate an image.",
    "IMAGE_OTHER": IMAGE_OTHER_MESSAGE,
}
REFUSAL = "I'm unable to create that image. Could I help you with a different picture?"


def new_response_id() -> str:
    return secrets.token_urlsafe(16)


def safety_ratings(blocked: str | None = None) -> list[dict[str, Any]]:
    ratings: list[dict[str, Any]] = [
        {"category": category, "probability": "NEGLIGIBLE"} for category in _CATEGORIES
    ]
    if blocked == "SAFETY":  # show which category tripped, as real prompt blocks do
        ratings[1] = {"category": _CATEGORIES[1], "probability": "HIGH", "blocked": True}
    return ratings


def image_tokens(call: GenerateCall) -> int:
    """Output tokens of one image (docs/protocol-gemini.md#reply)."""
    if call.model == "gemini-2.5-flash-image":
        return 1290
    return {"512": 747, "4K": 2000}.get(call.tier or "1K", 1120)


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def usage(call: GenerateCall, *, output_text: str = "", image: bool = True,
          thinking: bool = True) -> dict[str, Any]:
    prompt_text = _tokens(call.prompt)
    prompt_images = 560 * call.input_images
    details = [{"modality": "TEXT", "tokenCount": prompt_text}]
    if prompt_images:
        details.append({"modality": "IMAGE", "tokenCount": prompt_images})
    result: dict[str, Any] = {
        "promptTokenCount": prompt_text + prompt_images,
        "promptTokensDetails": details,
    }
    candidates = (image_tokens(call) if image else 0) + (_tokens(output_text)
                                                         if output_text else 0)
    thoughts = 0
    if thinking and call.spec.thinking:
        # Stable per prompt, so repeated runs report the same cost.
        thoughts = 120 + int(hashlib.sha256(call.prompt.encode()).hexdigest()[:4], 16) % 300
        result["thoughtsTokenCount"] = thoughts
    if candidates:
        result["candidatesTokenCount"] = candidates
        if image:
            result["candidatesTokensDetails"] = [
                {"modality": "IMAGE", "tokenCount": image_tokens(call)}
            ]
    result["totalTokenCount"] = prompt_text + prompt_images + candidates + thoughts
    return result


def _envelope(call: GenerateCall, response_id: str, **fields: Any) -> dict[str, Any]:
    return {**fields, "modelVersion": call.model, "responseId": response_id}


def _signed(part: dict[str, Any], call: GenerateCall, registry: SignatureRegistry,
            response_id: str, index: int, content: str | bytes) -> dict[str, Any]:
    if call.spec.thinking:
        part["thoughtSignature"] = registry.issue(response_id, index, content_digest(content))
    return part


def image_body(call: GenerateCall, response_id: str, registry: SignatureRegistry, *,
               mime_type: str, data: str, signed_content: bytes) -> dict[str, Any]:
    """A generated image; ``signed_content`` is what the image part's signature binds to
    (the decoded image bytes a client will replay)."""
    parts: list[dict[str, Any]] = []
    if call.spec.thinking:
        parts.append({"text": f"**Composing the image**\n\nPlanning a {call.ratio} image "
                              "that shows the requested scene.", "thought": True})
    text = ""
    if call.want_text:
        text = "Here is your image: " + call.prompt[:80]
        parts.append(_signed({"text": text}, call, registry, response_id, len(parts), text))
    image_part = {"inlineData": {"mimeType": mime_type, "data": data}}
    parts.append(_signed(image_part, call, registry, response_id, len(parts), signed_content))
    candidate: dict[str, Any] = {
        "content": {"role": "model", "parts": parts},
        "finishReason": "STOP", "index": 0, "safetyRatings": safety_ratings(),
    }
    if call.grounding:
        candidate["groundingMetadata"] = _grounding(call.prompt)
    return _envelope(call, response_id, candidates=[candidate],
                     usageMetadata=usage(call, output_text=text))


def _grounding(prompt: str) -> dict[str, Any]:
    query = " ".join(prompt.split()[:8]) or "image"
    return {
        "webSearchQueries": [query],
        "groundingChunks": [{"web": {"uri": "https://example.com/search-result",
                                     "title": "example.com"}}],
        "searchEntryPoint": {"renderedContent": f"<div class=\"chip\">{query}</div>"},
    }


def prompt_blocked_body(call: GenerateCall, response_id: str, reason: str) -> dict[str, Any]:
    return _envelope(
        call, response_id,
        promptFeedback={"blockReason": reason, "safetyRatings": safety_ratings(reason)},
        usageMetadata=usage(call, image=False, thinking=False),
    )


def no_image_body(call: GenerateCall, response_id: str, finish_reason: str,
                  message: str | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {}, "finishReason": finish_reason, "index": 0}
    finish_message = message or FINISH_MESSAGES.get(finish_reason)
    if finish_message:
        candidate["finishMessage"] = finish_message
    return _envelope(call, response_id, candidates=[candidate],
                     usageMetadata=usage(call, image=False))


def text_only_body(call: GenerateCall, response_id: str, registry: SignatureRegistry,
                   message: str | None) -> dict[str, Any]:
    """STOP with a refusal and no image: "no image" is only visible by its absence."""
    text = message or REFUSAL
    part = _signed({"text": text}, call, registry, response_id, 0, text)
    candidate = {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP",
                 "index": 0, "safetyRatings": safety_ratings()}
    return _envelope(call, response_id, candidates=[candidate],
                     usageMetadata=usage(call, output_text=text, image=False))
