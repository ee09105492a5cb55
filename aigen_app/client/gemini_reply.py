"""Parse a 200 ``generateContent`` reply (docs/protocol-gemini.md#reply,
#blocks, #thought-signatures).

A 200 is not a success: policy blocks and "no image" answers arrive as 200 too, and
"no image" is detected by the absence of a non-thought image part, never by
``finishReason`` alone.
"""

from __future__ import annotations

import binascii
from typing import Any

import msgspec
import pybase64

from .errors import ContentPolicyError, MalformedResponseError, NoImageError
from .gemini_errors import error_from_reply, snippet
from .provider import ParsedReply
from .types import ContentPart, ConversationTurn, Usage

POLICY_FINISH_REASONS = frozenset(
    {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY",
     "IMAGE_PROHIBITED_CONTENT"}
)


def parse_reply(body: bytes) -> ParsedReply:
    """The image and the model turn to replay, or the error the 200 body stands for."""
    return reply_from_json(load_reply(body))


def reply_from_json(data: dict[str, Any]) -> ParsedReply:
    """``parse_reply`` after ``load_reply``: a caller can free the raw body in between
    (20 MB for a 4K image) before the image is decoded."""
    if isinstance(data.get("error"), dict):
        # An error object inside a 200: classify it by the code it carries.
        code = data["error"].get("code")
        status = code if isinstance(code, int) and 100 <= code <= 599 else 200
        raise error_from_reply(status, {}, msgspec.json.encode(data))

    summary = _summary(data)
    candidates = _as_list(data.get("candidates"), "candidates")
    feedback = _as_dict(data.get("promptFeedback"), "promptFeedback")
    if not candidates:
        block_reason = feedback.get("blockReason")
        if block_reason:
            raise ContentPolicyError(
                reason=str(block_reason),
                message=f"Prompt blocked by content policy: {block_reason}",
                details={**summary, "block_reason": block_reason,
                         "safety_ratings": feedback.get("safetyRatings", [])},
                status=200,
            )
        raise NoImageError("reply has no candidates", details=summary, status=200)

    candidate = _as_dict(candidates[0], "candidates[0]")
    finish_reason = str(candidate.get("finishReason") or "")
    finish_message = str(candidate.get("finishMessage") or "")
    summary.update(finish_reason=finish_reason, finish_message=finish_message)
    if finish_reason in POLICY_FINISH_REASONS:
        message = f"Blocked by content policy: {finish_reason}"
        raise ContentPolicyError(
            reason=finish_reason,
            message=f"{message} — {finish_message}" if finish_message else message,
            details={**summary, "safety_ratings": candidate.get("safetyRatings", [])},
            status=200,
        )

    content = _as_dict(candidate.get("content"), "content")
    parts = [
        _turn_part(_as_dict(raw, "part"))
        for raw in _as_list(content.get("parts"), "content.parts")
        if not (isinstance(raw, dict) and raw.get("thought") is True)
    ]
    model_turn = ConversationTurn("model", tuple(p for p in parts if p is not None))
    text = "\n".join(p.text for p in model_turn.parts if p.text)
    images = [p for p in model_turn.parts if p.image_data is not None]
    if not images:
        raise NoImageError(
            finish_message or text.strip()
            or f"no image returned (finishReason {finish_reason or 'unset'})",
            finish_reason=finish_reason,
            details={**summary, "text": snippet(text, 1000)},
            status=200,
        )
    result = images[-1]  # several images: the last one is the answer; all stay in the turn
    grounding = candidate.get("groundingMetadata")
    return ParsedReply(
        image_data=result.image_data or b"",
        mime_type=result.mime_type or "image/png",
        model_turn=model_turn,
        text=text,
        usage=_usage(data.get("usageMetadata")),
        model_version=summary["model_version"],
        response_id=summary["response_id"],
        finish_reason=finish_reason,
        finish_message=finish_message,
        grounding_metadata=grounding if isinstance(grounding, dict) else None,
    )


def load_reply(body: bytes) -> dict[str, Any]:
    """The reply's JSON object; MalformedResponseError when it is none."""
    try:
        # msgspec: a 1 MB image reply parses in a third of the stdlib's time, straight
        # into Python objects (orjson, as fast, goes through a copy of the whole
        # document: 2x the reply in memory while parsing).
        data = msgspec.json.decode(body)
    except ValueError as exc:  # msgspec.DecodeError, invalid UTF-8 included
        raise MalformedResponseError(
            f"reply is not JSON: {snippet(body.decode('utf-8', errors='replace'))}",
            details={"body": snippet(body.decode("utf-8", errors="replace"))},
            status=200,
        ) from exc
    if isinstance(data, list) and len(data) == 1:
        data = data[0]  # the stream endpoint's array form
    if not isinstance(data, dict):
        raise MalformedResponseError(
            f"reply is not a JSON object: {snippet(msgspec.json.encode(data).decode())}", status=200
        )
    return data


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "model_version": str(data.get("modelVersion") or ""),
        "response_id": str(data.get("responseId") or ""),
        "usage": data.get("usageMetadata") if isinstance(data.get("usageMetadata"), dict) else {},
    }


def _turn_part(part: dict[str, Any]) -> ContentPart | None:
    signature = part.get("thoughtSignature")
    if signature is not None and not isinstance(signature, str):
        raise MalformedResponseError("thoughtSignature is not a string", status=200)
    inline = part.get("inlineData")
    if inline is not None:
        inline = _as_dict(inline, "inlineData")
        return ContentPart(
            image_data=decode_base64(inline.get("data")),
            mime_type=str(inline.get("mimeType") or "image/png"),
            thought_signature=signature,
        )
    if "text" in part:
        return ContentPart(text=str(part["text"] or ""), thought_signature=signature)
    if signature is not None:
        # A bare signature (seen on the last stream chunk) must still be replayed.
        return ContentPart(text="", thought_signature=signature)
    return None  # parts image models do not produce (function calls...) are not kept


def decode_base64(value: object, what: str = "inlineData") -> bytes:
    """Decode proto-JSON bytes: standard or URL-safe alphabet, padded or not; ``what``
    names the field in the error."""
    if not isinstance(value, str) or not value:
        raise MalformedResponseError(f"{what} has no base64 data", status=200)
    padded = value + "=" * (-len(value) % 4)
    # pybase64 (SIMD) validates and decodes 1 MB in ~0.1 ms; the stdlib's validate=True
    # runs a regular expression over the whole text first and takes ~4 ms.
    for altchars in (None, b"-_"):
        try:
            return pybase64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise MalformedResponseError(
        f"{what} is not valid base64 (starts {value[:40]!r})", status=200
    )


def _usage(raw: object) -> Usage:
    meta = raw if isinstance(raw, dict) else {}

    def count(key: str) -> int:
        value = meta.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return Usage(
        prompt_tokens=count("promptTokenCount"),
        candidates_tokens=count("candidatesTokenCount"),
        thoughts_tokens=count("thoughtsTokenCount"),
        total_tokens=count("totalTokenCount"),
    )


def _as_dict(value: object, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedResponseError(f"{what} is not a JSON object", status=200)
    return value


def _as_list(value: object, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedResponseError(f"{what} is not a JSON array", status=200)
    return value
