"""Map Gemini error replies to the client's exception tree (docs/protocol-gemini.md#errors,
#rate-limits).

The wait a 429 asks for is spread over three places of decreasing precision: the
message text ("Please retry in 53.016342224s."), ``RetryInfo.retryDelay`` ("53s") and,
rarely, a ``Retry-After`` header. A daily quota is told apart from a per-minute one
only by the ``QuotaFailure`` quota ids.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

from .errors import (
    AuthenticationError,
    GenerationError,
    InvalidRequestError,
    ModelNotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)

SNIPPET_CHARS = 200
RETRYABLE_SERVER_STATUSES = frozenset({408, 500, 502, 503, 504})

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)?\s*$", re.IGNORECASE)
_MESSAGE_RETRY = re.compile(r"retry in\s+(\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)
# An API key may be echoed back by a proxy (a URL with ?key=...) or, masked, by OpenAI
# ("sk-proj-****abcd"); never keep any of it.
_API_KEY = re.compile(r"AIza[0-9A-Za-z_\-]{20,}|(?<=key=)[^&\s\"'<>]+|sk-[0-9A-Za-z_*\-]{4,}")
_HTML_TITLE = re.compile(r"<title>\s*(.*?)\s*</title>", re.IGNORECASE | re.DOTALL)


def parse_duration(text: str) -> float | None:
    """Seconds in a protobuf Duration string ("45.837906927s"); lenient: "500ms" and a
    bare number of seconds are accepted too. None when it cannot be read."""
    match = _DURATION.match(text)
    if match is None:
        return None
    value = float(match.group(1))
    return value / 1000.0 if (match.group(2) or "s").lower() == "ms" else value


def parse_retry_after(value: str, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP-date
    (relative to ``now``, default ``time.time()``), never negative. None if unreadable."""
    value = value.strip()
    seconds = parse_duration(value) if value and value[0].isdigit() else None
    if seconds is not None:
        return seconds
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        # RFC 9110 dates are GMT; a naive result means the zone was "-0000".
        moment = moment.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, moment.timestamp() - current)


def redact(text: str) -> str:
    return _API_KEY.sub("[redacted]", text)


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """``text`` with whitespace collapsed, keys redacted and cut to ``limit`` chars."""
    flat = redact(" ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def error_from_reply(
    status: int, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> GenerationError:
    """The exception for a non-200 reply (or a 200 whose body is an ``error`` object)."""
    error, raw_text = _error_object(body)
    details: dict[str, Any] = error if error is not None else {"body": snippet(raw_text)}
    message = _message(status, error, raw_text)
    api_message = str(error.get("message") or "") if error is not None else ""
    items = _detail_items(error)
    kwargs: dict[str, Any] = {"details": details, "status": status}

    if status == 429:
        retry_after = _first_known(
            _retry_from_message(api_message), _retry_info(items), _retry_header(headers, now)
        )
        return RateLimitError(retry_after, message, per_day=_is_per_day(items), **kwargs)
    if status == 402:
        # Prepaid credit used up: no wait cures it until someone tops up.
        return RateLimitError(None, message, per_day=True, **kwargs)
    if status == 401 or (status == 400 and _is_invalid_key(items, api_message)):
        return AuthenticationError(message, **kwargs)
    if status == 403:
        return PermissionDeniedError(message, **kwargs)
    if status == 404:
        return ModelNotFoundError(message, **kwargs)
    if status in RETRYABLE_SERVER_STATUSES or 500 <= status <= 599:
        retry_after = _first_known(_retry_info(items), _retry_header(headers, now))
        return ServerError(message, retry_after=retry_after, **kwargs)
    if 400 <= status <= 499:
        return InvalidRequestError(message, **kwargs)
    return GenerationError(message, **kwargs)


def _error_object(body: bytes) -> tuple[dict[str, Any] | None, str]:
    text = body.decode("utf-8", errors="replace")
    try:
        data = json.loads(text)
    except ValueError:
        return None, text
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return data["error"], text
    return None, text


def _message(status: int, error: dict[str, Any] | None, raw_text: str) -> str:
    if error is None:
        title = _HTML_TITLE.search(raw_text)
        text = snippet(title.group(1) if title else raw_text)
        return f"HTTP {status}: {text}" if text else f"HTTP {status}"
    label = f"HTTP {status}"
    if isinstance(error.get("status"), str) and error["status"]:
        label += f" {error['status']}"
    api_message = redact(str(error.get("message") or "").strip())
    return f"{label}: {api_message}" if api_message else label


def _first_known(*values: float | None) -> float | None:
    # Not ``or``: a server asking for a 0 s wait has still answered.
    return next((value for value in values if value is not None), None)


def _detail_items(error: dict[str, Any] | None) -> list[dict[str, Any]]:
    items = error.get("details") if error is not None else None
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]


def _of_type(items: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [item for item in items if str(item.get("@type", "")).endswith(f".{name}")]


def _retry_from_message(message: str) -> float | None:
    match = _MESSAGE_RETRY.search(message)
    if match is None:
        return None
    return parse_duration(match.group(1) + match.group(2))


def _retry_info(items: list[dict[str, Any]]) -> float | None:
    for item in _of_type(items, "RetryInfo"):
        delay = item.get("retryDelay")
        if isinstance(delay, str):
            seconds = parse_duration(delay)
            if seconds is not None:
                return seconds
        elif isinstance(delay, dict):  # the proto form {"seconds": .., "nanos": ..}
            try:
                return float(delay.get("seconds", 0)) + float(delay.get("nanos", 0)) / 1e9
            except (TypeError, ValueError):
                continue
    return None


def _retry_header(headers: Mapping[str, str], now: float | None) -> float | None:
    for name, value in headers.items():
        if name.lower() == "retry-after":
            return parse_retry_after(value, now=now)
    return None


def _is_per_day(items: list[dict[str, Any]]) -> bool:
    for failure in _of_type(items, "QuotaFailure"):
        violations = failure.get("violations")
        for violation in violations if isinstance(violations, list) else []:
            if not isinstance(violation, dict):
                continue
            ids = f"{violation.get('quotaId', '')} {violation.get('quotaMetric', '')}"
            # Ids say "PerDay"; metrics say "..._per_day".
            if "perday" in ids.lower().replace("_", ""):
                return True
    return False


def _is_invalid_key(items: list[dict[str, Any]], message: str) -> bool:
    reasons = {item.get("reason") for item in _of_type(items, "ErrorInfo")}
    return "API_KEY_INVALID" in reasons or "api key not valid" in message.lower()
