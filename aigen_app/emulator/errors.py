"""Google-style error bodies, shaped like captures of the real API.

Wire facts: docs/protocol-gemini.md#errors and #rate-limits. Clients are tested against
these bodies, so the details (``@type`` names, Duration strings, message wording) follow
real traffic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .faults import Fault

_TYPE = "type.googleapis.com/google.rpc."
QUOTA_METRIC = "generativelanguage.googleapis.com/generate_content_free_tier_requests"
PER_MINUTE = "GenerateRequestsPerMinutePerProjectPerModel"
PER_DAY = "GenerateRequestsPerDayPerProjectPerModel"
_RATE_DOCS = "https://ai.google.dev/gemini-api/docs/rate-limits"
_QUOTA_TEXT = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    f"information on this error, head to: {_RATE_DOCS}. To monitor your current usage, head "
    "to: https://ai.dev/usage?tab=rate-limit. \n* Quota exceeded for metric: "
    "{metric}, limit: {limit}, model: {model}"
)
MISSING_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
INVALID_KEY = "API key not valid. Please pass a valid API key."
OVERLOADED = "The model is overloaded. Please try again later."
INTERNAL = (
    "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)
DEADLINE = "Deadline expired before operation could complete."


@dataclass
class ApiError(Exception):
    """A refusal the emulator answers with; ``outcome`` names it in the request log."""

    status: int
    rpc_status: str
    message: str
    outcome: str
    details: list[dict[str, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "code": self.status, "message": self.message, "status": self.rpc_status,
        }
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid_argument(message: str, outcome: str = "invalid_argument") -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message, outcome)


def missing_key() -> ApiError:
    return ApiError(403, "PERMISSION_DENIED", MISSING_KEY, "missing_key")


def bad_key() -> ApiError:
    details: list[dict[str, Any]] = [
        {
            "@type": _TYPE + "ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": "generativelanguage.googleapis.com"},
        },
        {"@type": _TYPE + "LocalizedMessage", "locale": "en-US", "message": INVALID_KEY},
    ]
    return ApiError(400, "INVALID_ARGUMENT", INVALID_KEY, "bad_key", details)


def model_not_found(model: str) -> ApiError:
    message = (
        f"models/{model} is not found for API version v1beta, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods."
    )
    return ApiError(404, "NOT_FOUND", message, "not_found")


def format_duration(seconds: float) -> str:
    """A protobuf Duration string; milliseconds, rounded up so waiting it is enough."""
    # round() first so float noise (12.345 * 1000 = 12345.000000000002) does not add 1 ms.
    millis = max(0, math.ceil(round(seconds * 1000, 6)))
    return f"{millis // 1000}.{millis % 1000:03d}s" if millis % 1000 else f"{millis // 1000}s"


def rate_limited(
    model: str,
    *,
    retry_delay: str | None,
    retry_in: str | None = None,
    quota_id: str = PER_MINUTE,
    quota_value: str = "10",
    outcome: str = "rate_limit",
    headers: dict[str, str] | None = None,
) -> ApiError:
    """429 RESOURCE_EXHAUSTED. ``retry_delay`` None leaves out RetryInfo (daily quotas and
    the header-only variant carry none); ``retry_in`` is the more precise figure some real
    messages quote ("Please retry in 53.016342224s.")."""
    message = _QUOTA_TEXT.format(metric=QUOTA_METRIC, limit=quota_value, model=model)
    if retry_delay is not None:
        message += f"\nPlease retry in {retry_in or retry_delay}."
    details: list[dict[str, Any]] = [
        {
            "@type": _TYPE + "QuotaFailure",
            "violations": [
                {
                    "quotaMetric": QUOTA_METRIC,
                    "quotaId": quota_id,
                    "quotaDimensions": {"location": "global", "model": model},
                    "quotaValue": quota_value,
                }
            ],
        },
        {
            "@type": _TYPE + "Help",
            "links": [{"description": "Learn more about Gemini API quotas", "url": _RATE_DOCS}],
        },
    ]
    if retry_delay is not None:
        details.append({"@type": _TYPE + "RetryInfo", "retryDelay": retry_delay})
    return ApiError(429, "RESOURCE_EXHAUSTED", message, outcome, details, headers or {})


def unavailable(message: str = OVERLOADED, retry_after: str | None = None) -> ApiError:
    """503 UNAVAILABLE; ``retry_after`` adds the header a proxy or load balancer may send
    (Gemini's own 503s carry no wait)."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return ApiError(503, "UNAVAILABLE", message, "unavailable", headers=headers)


def internal(message: str = INTERNAL) -> ApiError:
    return ApiError(500, "INTERNAL", message, "internal")


def deadline(message: str = DEADLINE) -> ApiError:
    return ApiError(504, "DEADLINE_EXCEEDED", message, "deadline")


def for_fault(fault: Fault, model: str) -> ApiError | None:
    """The HTTP error a scripted fault answers with; None for faults that are not one."""
    kind = fault.kind
    if kind == "rate_limit":
        delay = fault.params.get("retry_delay", "1.5s")
        if not isinstance(delay, str):  # a number of seconds
            delay = format_duration(fault.number("retry_delay", 1.5))
        return rate_limited(model, retry_delay=delay)
    if kind == "rate_limit_header":
        # Some proxies and older backends send the header; Gemini itself does not
        # (docs/protocol-gemini.md#rate-limits).
        retry_after = fault.text("retry_after", "2")
        return rate_limited(model, retry_delay=None, outcome=kind,
                            headers={"Retry-After": retry_after})
    if kind == "daily_quota":
        error = rate_limited(model, retry_delay=None, quota_id=PER_DAY, quota_value="250",
                             outcome=kind)
        error.message = fault.text("message", error.message)
        return error
    if kind == "unavailable":
        wait = fault.params.get("retry_after")
        return unavailable(fault.text("message", OVERLOADED), None if wait is None else str(wait))
    if kind == "internal":
        return internal(fault.text("message", INTERNAL))
    if kind == "deadline":
        return deadline(fault.text("message", DEADLINE))
    if kind == "bad_request":
        return invalid_argument(fault.text("message", "Request contains an invalid argument."),
                                outcome=kind)
    return None
