"""OpenAI-style error replies (docs/protocol-openai.md): ``{"error": {"message",
"type", "param", "code"}}`` with the status, headers and wording of real traffic."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .faults import Fault

INVALID_REQUEST = "invalid_request_error"
QUOTA_TEXT = ("You exceeded your current quota, please check your plan and billing "
              "details. For more information on this error, read the docs: "
              "https://platform.openai.com/docs/guides/error-codes/api-errors.")
SERVER_TEXT = ("The server had an error while processing your request. Sorry about that!")
OVERLOADED_TEXT = "The engine is currently overloaded, please try again later."
MODERATION_TEXT = ("Your request was rejected by the safety system. If you believe this is "
                   "an error, contact us at help.openai.com and include the request ID "
                   "{request_id}. safety_violations=[{violations}].")


@dataclass
class OpenAIError(Exception):
    status: int
    message: str
    type: str
    code: str | None
    outcome: str
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self, request_id: str) -> dict[str, Any]:
        return {"error": {"message": self.message.format(request_id=request_id),
                          "type": self.type, "param": self.param, "code": self.code}}


def invalid_value(message: str, param: str) -> OpenAIError:
    return OpenAIError(400, message, INVALID_REQUEST, "invalid_value", "invalid_value", param)


def unknown_parameter(name: str) -> OpenAIError:
    return OpenAIError(400, f"Unknown parameter: '{name}'.", INVALID_REQUEST,
                       "unknown_parameter", "unknown_parameter", name)


def missing_key() -> OpenAIError:
    return OpenAIError(401, "You didn't provide an API key. You need to provide your API key "
                       "in an Authorization header using Bearer auth (i.e. Authorization: "
                       "Bearer YOUR_KEY).", INVALID_REQUEST, None, "missing_key")


def bad_key(key: str) -> OpenAIError:
    # The real API echoes the key, masked: first 8 characters, stars, last 4.
    masked = key if len(key) <= 12 else f"{key[:8]}{'*' * (len(key) - 12)}{key[-4:]}"
    return OpenAIError(401, f"Incorrect API key provided: {masked}. You can find your API "
                       "key at https://platform.openai.com/account/api-keys.",
                       INVALID_REQUEST, "invalid_api_key", "bad_key")


def model_not_found(model: str) -> OpenAIError:
    return OpenAIError(404, f"The model `{model}` does not exist or you do not have access "
                       "to it.", INVALID_REQUEST, "model_not_found", "not_found")


def rate_limited(seconds: float | None, *, outcome: str = "rate_limit",
                 header: str | None = None) -> OpenAIError:
    headers = {}
    if header is not None:
        headers["retry-after"] = header
    elif seconds is not None:
        headers["retry-after"] = f"{math.ceil(seconds * 1000) / 1000:g}"
    return OpenAIError(429, "Rate limit reached for gpt-image in organization org-emulator on "
                       "requests per min (RPM): Limit 5, Used 5, Requested 1.", "requests",
                       "rate_limit_exceeded", outcome, headers=headers)


def for_fault(fault: Fault) -> OpenAIError | None:
    """The error reply a scripted fault answers with; None for faults that are not one."""
    kind = fault.kind
    if kind == "rate_limit":
        return rate_limited(_seconds(fault.params.get("retry_delay", 1.5)))
    if kind == "rate_limit_header":
        return rate_limited(None, outcome=kind, header=fault.text("retry_after", "2"))
    if kind == "daily_quota":
        return OpenAIError(429, fault.text("message", QUOTA_TEXT), "insufficient_quota",
                           fault.text("code", "insufficient_quota"), kind)
    if kind == "unavailable":
        wait = fault.params.get("retry_after")
        headers = {} if wait is None else {"retry-after": str(wait)}
        return OpenAIError(503, fault.text("message", OVERLOADED_TEXT),
                           "service_unavailable_error", "server_is_overloaded", kind,
                           headers=headers)
    if kind == "internal":
        return OpenAIError(500, fault.text("message", SERVER_TEXT), "server_error", None, kind)
    if kind == "deadline":
        return OpenAIError(504, fault.text("message", "Gateway timeout."), "server_error",
                           "timeout", kind)
    if kind == "bad_request":
        return OpenAIError(400, fault.text("message", "Invalid request."), INVALID_REQUEST,
                           None, kind)
    if kind in ("block_prompt", "block_image"):
        violations = fault.text("reason", "sexual").lower()
        return OpenAIError(400, MODERATION_TEXT.replace("{violations}", violations),
                           "image_generation_user_error", "moderation_blocked", kind)
    return None


def _seconds(value: object) -> float:
    """A fault's wait: a number of seconds, or a Duration string such as "1.5s"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().lower()
    if text.endswith("ms"):
        return float(text[:-2]) / 1000
    return float(text.rstrip("s"))
