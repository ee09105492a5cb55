"""The client's exception tree. Every error is a ``GenerationError``; none leaks a
transport exception or the API key. ``status``/``body`` keep the raw cause."""

from __future__ import annotations

from typing import Any


class GenerationError(Exception):
    """A generation did not produce an image."""

    code = "generation_error"
    retryable = False

    def __init__(
        self,
        message: str,
        details: dict[str, Any] | None = None,
        *,
        status: int | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.status = status
        self.attempts = attempts
        # The provider's request id header of the reply that failed, when it sent one.
        self.request_id = ""

    def __str__(self) -> str:
        return self.message


class ConfigurationError(ValueError):
    """The client is configured in a way that cannot work (e.g. no API key).

    Deliberately not a ``GenerationError``: code that catches generation failures to
    record them must not swallow a misconfiguration.
    """


class InvalidRequestError(GenerationError):
    """The request was rejected before sending (capability check) or with a 4xx."""

    code = "invalid_request"


class UnsupportedFeatureError(InvalidRequestError):
    """The chosen model cannot do what was asked (grounding, too many input images)."""

    code = "unsupported_feature"


class AuthenticationError(GenerationError):
    """The API key is missing, invalid, leaked or not allowed to call this API."""

    code = "authentication_error"


class PermissionDeniedError(AuthenticationError):
    code = "permission_denied"


class ModelNotFoundError(InvalidRequestError):
    code = "model_not_found"


class ContentPolicyError(GenerationError):
    """The prompt or the generated image was blocked; ``reason`` is the API's reason."""

    code = "content_policy"

    def __init__(self, reason: str = "Content violates usage policies", message: str = "",
                 **kwargs: Any) -> None:
        super().__init__(message or f"Blocked by content policy: {reason}", **kwargs)
        self.reason = reason


class NoImageError(GenerationError):
    """The API answered 200 without an image (NO_IMAGE, IMAGE_OTHER, text-only reply)."""

    code = "no_image"

    def __init__(self, message: str, finish_reason: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.finish_reason = finish_reason


class MalformedResponseError(GenerationError):
    """The body was not the JSON or base64 the protocol promises."""

    code = "malformed_response"


class RateLimitError(GenerationError):
    """HTTP 429. ``retry_after`` is the server's requested wait in seconds (None: unknown);
    ``per_day`` marks a daily quota, which no short wait will cure."""

    code = "rate_limited"
    retryable = True

    def __init__(self, retry_after: float | None = 60.0, message: str = "",
                 *, per_day: bool = False, **kwargs: Any) -> None:
        if not message:
            message = "Rate limit exceeded" + (
                f"; retry after {retry_after:g}s" if retry_after is not None else ""
            )
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.per_day = per_day
        if per_day:
            self.code = "quota_exceeded"


class QuotaExceededError(GenerationError):
    """The account's quota, credit or spend limit is used up (OpenAI's
    ``insufficient_quota`` family): no wait cures it, so it is never retried."""

    code = "quota_exceeded"


class ServerError(GenerationError):
    """A retryable server-side failure (408, 500, 502, 503, 504)."""

    code = "server_error"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class TransportError(GenerationError):
    """The connection failed or was reset before a response arrived."""

    code = "connection_error"
    retryable = True


class GenerationTimeoutError(GenerationError):
    """An attempt or the whole call ran past its time limit."""

    code = "timeout"
    retryable = True

    def __init__(self, timeout_seconds: float, message: str = "", **kwargs: Any) -> None:
        super().__init__(message or f"Timed out after {timeout_seconds:g}s", **kwargs)
        self.timeout_seconds = timeout_seconds


class CapacityTimeoutError(GenerationTimeoutError):
    """The call's deadline passed while its attempt waited for the rate limiter's
    capacity (requests per minute or in flight, in this process or in every process
    sharing the limiter), so that attempt was never sent. Nothing is wrong with the
    request: a caller with a queue runs it again later rather than failing it."""

    @property
    def requests_sent(self) -> int:
        """Requests of the call that reached the API (every attempt but the last)."""
        return max(0, self.attempts - 1)
