"""Parse OpenAI Images replies (docs/protocol-openai.md): a 200's image, and an error
body ``{"error": {"message", "type", "param", "code"}}`` mapped by ``error.code``.

A 429 is not one thing: ``rate_limit_exceeded`` and ``slow_down`` pass with a wait,
while the quota, credit and spend-limit codes (whose ``type`` may still read
``insufficient_quota``) never do, so the code decides. A 200 without an image (an empty
``data``) is an error, never a success.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from .errors import (
    AuthenticationError,
    ContentPolicyError,
    GenerationError,
    InvalidRequestError,
    MalformedResponseError,
    ModelNotFoundError,
    NoImageError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from .gemini_errors import RETRYABLE_SERVER_STATUSES, parse_retry_after, snippet
from .gemini_reply import decode_base64
from .provider import ParsedReply
from .types import ContentPart, ConversationTurn, Usage

REQUEST_ID_HEADER = "x-request-id"
QUOTA_CODES = frozenset({
    "insufficient_quota", "credit_balance_exhausted", "organization_usage_limit_exceeded",
    "project_spend_limit_exceeded", "organization_spend_limit_exceeded",
})
POLICY_CODES = frozenset({"moderation_blocked", "content_policy_violation"})
INVALID_KEY_CODES = frozenset({"invalid_api_key", "incorrect_api_key"})
_MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
_VIOLATIONS = re.compile(r"safety_violations=\[([^\]]*)\]")


def load_reply(body: bytes) -> dict[str, Any]:
    """The reply's JSON object; MalformedResponseError when it is none."""
    try:
        data = msgspec.json.decode(body)
    except ValueError as exc:  # msgspec.DecodeError, invalid UTF-8 included
        text = snippet(body.decode("utf-8", errors="replace"))
        raise MalformedResponseError(f"reply is not JSON: {text}", details={"body": text},
                                     status=200) from exc
    if not isinstance(data, dict):
        raise MalformedResponseError("reply is not a JSON object", status=200)
    return data


def reply_from_json(data: dict[str, Any], headers: Mapping[str, str]) -> ParsedReply:
    """The image of a 200 reply, or the error it stands for."""
    if isinstance(data.get("error"), dict):
        raise error_from_reply(200, headers, msgspec.json.encode(data))
    items = data.get("data")
    if items is not None and not isinstance(items, list):
        raise MalformedResponseError("data is not a JSON array", status=200)
    if not items:
        raise NoImageError("OpenAI returned no image (empty data)", status=200,
                           details={"created": data.get("created")})
    first = items[0]
    if not isinstance(first, dict):
        raise MalformedResponseError("data[0] is not a JSON object", status=200)
    image = decode_base64(first.get("b64_json"), "data[0].b64_json")
    mime = _MIME_TYPES.get(str(data.get("output_format") or "png"), "image/png")
    text = str(first.get("revised_prompt") or "")
    return ParsedReply(
        image_data=image, mime_type=mime,
        model_turn=ConversationTurn("model", (ContentPart(image_data=image, mime_type=mime),)),
        text=text, usage=_usage(data.get("usage")),
        request_id=_header(headers, REQUEST_ID_HEADER) or "",
    )


def error_from_reply(status: int, headers: Mapping[str, str], body: bytes, *,
                     now: float | None = None) -> GenerationError:
    """The exception for a non-200 reply (or a 200 whose body is an ``error`` object)."""
    error = _error_object(body)
    code = str(error.get("code") or "") if error else ""
    kind = str(error.get("type") or "") if error else ""
    # Only these fields are kept: the message of a refused key echoes the key (masked).
    details: dict[str, Any] = (
        {"type": kind, "code": code, "param": error.get("param")} if error
        else {"body": snippet(body.decode("utf-8", errors="replace"))})
    api_message = snippet(str(error.get("message") or ""), 500) if error else ""
    label = f"HTTP {status}" + (f" {code or kind}" if (code or kind) else "")
    message = f"{label}: {api_message}" if api_message else label
    wait = _retry_after(headers, now)
    kwargs: dict[str, Any] = {"details": details, "status": status}
    if code in INVALID_KEY_CODES or status == 401:
        return AuthenticationError(f"{label}: OpenAI refused the API key", **kwargs)
    if code in POLICY_CODES:
        violations = _violations(api_message)
        details["safety_violations"] = violations
        return ContentPolicyError(reason=", ".join(violations) or code, message=message,
                                  **kwargs)
    if code in QUOTA_CODES or kind == "insufficient_quota":
        return QuotaExceededError(f"OpenAI quota exhausted ({code or kind}): {api_message}",
                                  **kwargs)
    if status == 429:
        return RateLimitError(wait, message, **kwargs)
    if status == 403:
        return PermissionDeniedError(message, **kwargs)
    if status == 404 or code == "model_not_found":
        return ModelNotFoundError(message, **kwargs)
    if status in RETRYABLE_SERVER_STATUSES or 500 <= status <= 599:
        return ServerError(message, retry_after=wait, **kwargs)
    if 400 <= status <= 499:
        return InvalidRequestError(message, **kwargs)
    return GenerationError(message, **kwargs)


def _error_object(body: bytes) -> dict[str, Any] | None:
    try:
        data = msgspec.json.decode(body)
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        error: dict[str, Any] = data["error"]
        return error
    return None


def _violations(message: str) -> list[str]:
    match = _VIOLATIONS.search(message)
    if match is None:
        return []
    return [item.strip() for item in match.group(1).split(",") if item.strip()]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _retry_after(headers: Mapping[str, str], now: float | None) -> float | None:
    value = _header(headers, "retry-after")
    return None if value is None else parse_retry_after(value, now=now)


def _usage(raw: object) -> Usage:
    usage = raw if isinstance(raw, dict) else {}

    def count(key: str) -> int:
        value = usage.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return Usage(prompt_tokens=count("input_tokens"), candidates_tokens=count("output_tokens"),
                 total_tokens=count("total_tokens"))
