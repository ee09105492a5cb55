"""Mapping Gemini error replies to the client's exceptions, with the wait they ask for."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest

from aigen_app.client.errors import (
    AuthenticationError,
    GenerationError,
    InvalidRequestError,
    ModelNotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
)
from aigen_app.client.gemini import error_from_reply, parse_duration, parse_retry_after

NOW = 1_790_000_000.0
RPM_QUOTA = {
    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
    "violations": [{
        "quotaMetric": "generativelanguage.googleapis.com/generate_content_paid_tier_requests",
        "quotaId": "GenerateRequestsPerMinutePerProjectPerModel",
        "quotaDimensions": {"location": "global", "model": "gemini-3-pro-image"},
        "quotaValue": "20",
    }],
}
HELP = {
    "@type": "type.googleapis.com/google.rpc.Help",
    "links": [{"description": "Learn more about Gemini API quotas",
               "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}],
}


def error_body(code: int, status: str, message: str, details=None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return json.dumps({"error": error}).encode()


def retry_info(delay: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}


def test_429_message_delay_wins_over_retry_info():
    body = error_body(
        429, "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details. "
        "Please retry in 34.412s.",
        [RPM_QUOTA, HELP, retry_info("34.4s")],
    )

    error = error_from_reply(429, {}, body)

    assert isinstance(error, RateLimitError)
    assert error.retry_after == pytest.approx(34.412)
    assert error.per_day is False
    assert error.retryable is True
    assert error.status == 429
    assert error.details["details"][2]["retryDelay"] == "34.4s"
    assert str(error).startswith("HTTP 429 RESOURCE_EXHAUSTED: You exceeded your current quota")


def test_429_with_only_retry_info():
    body = error_body(429, "RESOURCE_EXHAUSTED",
                      "You exceeded your current quota, please check your plan.",
                      [retry_info("26s"), RPM_QUOTA])

    error = error_from_reply(429, {}, body)

    assert isinstance(error, RateLimitError)
    assert error.retry_after == 26.0
    assert error.per_day is False


def test_429_retry_after_header_in_seconds():
    body = error_body(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")

    error = error_from_reply(429, {"Retry-After": "17"}, body)

    assert isinstance(error, RateLimitError)
    assert error.retry_after == 17.0


def test_429_retry_after_header_as_http_date():
    body = error_body(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
    when = format_datetime(datetime.fromtimestamp(NOW + 90, tz=UTC), usegmt=True)

    error = error_from_reply(429, {"retry-after": when}, body, now=NOW)

    assert isinstance(error, RateLimitError)
    assert error.retry_after == pytest.approx(90.0)


def test_429_without_any_delay():
    body = error_body(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")

    error = error_from_reply(429, {}, body)

    assert isinstance(error, RateLimitError)
    assert error.retry_after is None
    assert error.per_day is False


def test_429_daily_quota_is_per_day():
    body = error_body(
        429, "RESOURCE_EXHAUSTED",
        "You exceeded your current quota. Go to https://aistudio.google.com/apikey to upgrade "
        "your quota tier.",
        [{
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{
                "quotaMetric":
                    "generativelanguage.googleapis.com/generate_requests_per_model_per_day",
                "quotaId": "GenerateRequestsPerDayPerProjectPerModel",
            }],
        }, HELP],
    )

    error = error_from_reply(429, {}, body)

    assert isinstance(error, RateLimitError)
    assert error.per_day is True
    assert error.retry_after is None
    assert error.code == "quota_exceeded"


def test_per_day_still_records_a_given_delay():
    daily = {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
             "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]}
    body = error_body(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", [daily, retry_info("58s")])

    error = error_from_reply(429, {}, body)

    assert isinstance(error, RateLimitError)
    assert error.per_day is True
    assert error.retry_after == 58.0


def test_402_prepaid_credit_depleted():
    body = error_body(402, "RESOURCE_EXHAUSTED",
                      "Your prepaid credit balance is depleted. Add credit to continue.")

    error = error_from_reply(402, {}, body)

    assert isinstance(error, RateLimitError)
    assert error.per_day is True
    assert error.retry_after is None
    assert "prepaid credit" in str(error)


def test_400_invalid_api_key_is_authentication():
    body = error_body(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
         "domain": "googleapis.com",
         "metadata": {"service": "generativelanguage.googleapis.com"}},
        {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US",
         "message": "API key not valid. Please pass a valid API key."},
    ])

    error = error_from_reply(400, {}, body)

    assert type(error) is AuthenticationError
    assert error.retryable is False


def test_400_invalid_key_recognised_by_message_alone():
    body = error_body(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")

    assert type(error_from_reply(400, {}, body)) is AuthenticationError


def test_401_is_authentication():
    body = error_body(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")

    assert type(error_from_reply(401, {}, body)) is AuthenticationError


@pytest.mark.parametrize(("message", "details"), [
    ("Method doesn't allow unregistered callers (callers without established identity). "
     "Please use API Key or other form of API consumer identity to call this API.", None),
    ("Your API key was reported as leaked. Please use another API key.", None),
    ("Requests to this API generativelanguage.googleapis.com method "
     "google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent are blocked.",
     [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
       "reason": "API_KEY_SERVICE_BLOCKED", "domain": "googleapis.com"}]),
])
def test_403_is_permission_denied(message, details):
    error = error_from_reply(403, {}, error_body(403, "PERMISSION_DENIED", message, details))

    assert isinstance(error, PermissionDeniedError)
    assert isinstance(error, AuthenticationError)
    assert message in str(error)


def test_404_is_model_not_found():
    body = error_body(404, "NOT_FOUND",
                      "models/gemini-2.0-flash-exp-image-generation is not found for API version "
                      "v1beta, or is not supported for generateContent.")

    error = error_from_reply(404, {}, body)

    assert isinstance(error, ModelNotFoundError)
    assert error.retryable is False


def test_400_generic_is_invalid_request_with_the_api_message():
    message = ("Image part is missing a thought_signature in content position 2, part "
               "position 1. Please refer to https://ai.google.dev/gemini-api/docs/"
               "thought-signatures#model-behavior for more details.")

    error = error_from_reply(400, {}, error_body(400, "INVALID_ARGUMENT", message))

    assert type(error) is InvalidRequestError
    assert error.retryable is False
    assert str(error) == f"HTTP 400 INVALID_ARGUMENT: {message}"
    assert error.details == {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}


@pytest.mark.parametrize("status", [409, 413, 422])
def test_other_4xx_are_invalid_requests(status):
    error = error_from_reply(status, {}, error_body(status, "ABORTED", "no"))

    assert type(error) is InvalidRequestError


@pytest.mark.parametrize(("status", "name", "message"), [
    (500, "INTERNAL", "An internal error has occurred. Please retry or report in "
                      "https://developers.generativeai.google/guide/troubleshooting"),
    (502, "UNAVAILABLE", "Bad gateway."),
    (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    (504, "DEADLINE_EXCEEDED", "The request timed out. Please try again."),
    (408, "DEADLINE_EXCEEDED", "Request timeout."),
    (507, "UNKNOWN", "Something else."),
])
def test_server_side_failures_are_retryable(status, name, message):
    error = error_from_reply(status, {}, error_body(status, name, message))

    assert isinstance(error, ServerError)
    assert error.retryable is True
    assert error.retry_after is None
    assert str(error) == f"HTTP {status} {name}: {message}"


def test_503_honours_retry_info_then_retry_after():
    body = error_body(503, "UNAVAILABLE", "The model is overloaded.", [retry_info("2.5s")])
    error = error_from_reply(503, {"Retry-After": "9"}, body)
    assert isinstance(error, ServerError)
    assert error.retry_after == 2.5

    bare = error_body(503, "UNAVAILABLE", "The model is overloaded.")
    error = error_from_reply(503, {"Retry-After": "9"}, bare)
    assert isinstance(error, ServerError)
    assert error.retry_after == 9.0


def test_non_json_502_html_body():
    html = ("<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
            "  <title>Error 502 (Server Error)!!1</title>\n  <style>" + "*{margin:0}" * 500
            + "</style>\n  <p><b>502.</b> That's an error.")

    error = error_from_reply(502, {"Content-Type": "text/html"}, html.encode())

    assert isinstance(error, ServerError)
    assert error.retryable is True
    assert error.status == 502
    assert str(error) == "HTTP 502: Error 502 (Server Error)!!1"
    assert len(error.details["body"]) <= 200
    assert error.details["body"].startswith("<!DOCTYPE html>")


def test_non_json_text_body_keeps_first_200_chars():
    error = error_from_reply(500, {}, b"upstream connect error " * 50)

    assert isinstance(error, ServerError)
    assert str(error).startswith("HTTP 500: upstream connect error")
    assert len(str(error)) <= len("HTTP 500: ") + 200


def test_array_wrapped_error():
    body = b"[" + error_body(503, "UNAVAILABLE", "The model is overloaded.") + b"]"

    error = error_from_reply(503, {}, body)

    assert str(error) == "HTTP 503 UNAVAILABLE: The model is overloaded."


def test_unexpected_status_is_a_plain_generation_error():
    error = error_from_reply(302, {"Location": "https://accounts.google.com/"}, b"")

    assert type(error) is GenerationError
    assert error.status == 302


def test_api_key_echoed_by_a_proxy_is_redacted():
    leaked = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUvW"
    body = f"<html>POST /v1beta/models/x:generateContent?key={leaked} failed</html>".encode()

    error = error_from_reply(502, {}, body)

    assert leaked not in str(error)
    assert leaked not in json.dumps(error.details)


@pytest.mark.parametrize(("text", "seconds"), [
    ("26s", 26.0), ("34.4s", 34.4), ("45.837906927s", 45.837906927), ("0s", 0.0),
    ("1.5s", 1.5), ("500ms", 0.5), ("12", 12.0), (" 3s ", 3.0),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "-3s", "soon", "3 minutes", "1e3s"])
def test_parse_duration_rejects(text):
    assert parse_duration(text) is None


def test_parse_retry_after():
    past = format_datetime(datetime.fromtimestamp(NOW - 30, tz=UTC), usegmt=True)
    future = format_datetime(datetime.fromtimestamp(NOW + 120, tz=UTC), usegmt=True)

    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(future, now=NOW) == pytest.approx(120.0)
    assert parse_retry_after(past, now=NOW) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=NOW) == 0.0
    assert parse_retry_after("whenever", now=NOW) is None
    assert parse_retry_after("", now=NOW) is None


def test_retry_in_milliseconds_in_message():
    body = error_body(429, "RESOURCE_EXHAUSTED", "Rate limited, please retry in 12ms.")

    error = error_from_reply(429, {}, body)

    assert isinstance(error, RateLimitError)
    assert error.retry_after == pytest.approx(0.012)
