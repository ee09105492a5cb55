"""The client's flow against a mocked HTTP edge: what is sent, what is retried, how long
it waits, and what the caller gets back."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from PIL import Image

from aigen_app.client import (
    AIGenerationClient,
    AuthenticationError,
    CapacityTimeoutError,
    ConfigurationError,
    ContentPolicyError,
    GenerationRequest,
    GenerationTimeoutError,
    InvalidRequestError,
    LocalRateLimiter,
    RateLimitError,
    RetryEvent,
    ServerError,
    TransportError,
    UnsupportedFeatureError,
)

from .helpers import (
    API_KEY,
    BASE_URL,
    MODEL,
    URL,
    SleepRecorder,
    error,
    ok,
    rate_limited,
)


@pytest.fixture
def sleep() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def client(sleep: SleepRecorder) -> AIGenerationClient:
    return AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=BASE_URL, sleep=sleep)


def request(**kwargs: object) -> GenerationRequest:
    fields: dict[str, object] = {"prompt": "A lighthouse at dawn", "width": 1280, "height": 720}
    fields.update(kwargs)
    return GenerationRequest(**fields)  # type: ignore[arg-type]


def sent_json(route: respx.Route, index: int = -1) -> dict[str, object]:
    return json.loads(route.calls[index].request.content)  # type: ignore[no-any-return]


@respx.mock
async def test_1280x720_sends_16_9_and_returns_exact_pixels(client: AIGenerationClient) -> None:
    route = respx.post(URL).mock(return_value=ok(width=1376, height=768))
    response = await client.generate(request(seed=42))
    body = sent_json(route)
    config = body["generationConfig"]
    assert config["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "1K"}  # type: ignore[index]
    assert config["seed"] == 42  # type: ignore[index]
    image = Image.open(io.BytesIO(response.image_data))
    assert image.size == (1280, 720)
    assert response.mime_type == "image/png"
    assert (response.width, response.height, response.seed) == (1280, 720, 42)
    assert route.calls[0].request.headers["x-goog-api-key"] == API_KEY
    await client.close()


@respx.mock
async def test_2k_tier_chosen_when_1k_does_not_cover(client: AIGenerationClient) -> None:
    route = respx.post(URL).mock(return_value=ok(width=2752, height=1536))
    response = await client.generate(request(width=1920, height=1080))
    assert sent_json(route)["generationConfig"]["imageConfig"]["imageSize"] == "2K"  # type: ignore[index]
    assert Image.open(io.BytesIO(response.image_data)).size == (1920, 1080)


@respx.mock
async def test_seed_generated_when_absent_and_reported(client: AIGenerationClient) -> None:
    route = respx.post(URL).mock(return_value=ok())
    response = await client.generate(request())
    assert sent_json(route)["generationConfig"]["seed"] == response.seed  # type: ignore[index]


@respx.mock
async def test_response_carries_model_turn_usage_and_metadata(client: AIGenerationClient) -> None:
    respx.post(URL).mock(return_value=ok(text_sig="VEVYVA==", image_sig="SU1BR0U="))
    response = await client.generate(request())
    parts = response.model_turn.parts
    assert [p.thought_signature for p in parts] == ["VEVYVA==", "SU1BR0U="]
    assert parts[0].text == "Here you go" and parts[1].is_image
    assert response.thought_signature == "SU1BR0U="
    assert response.usage.total_tokens == 1190 and response.usage.thoughts_tokens == 50
    assert (response.response_id, response.finish_reason) == ("resp-1", "STOP")
    assert response.text == "Here you go"
    assert response.attempts == 1


@respx.mock
async def test_server_errors_retry_with_exponential_backoff(
        client: AIGenerationClient, sleep: SleepRecorder) -> None:
    unavailable = error(503, "The model is overloaded. Please try again later.", "UNAVAILABLE")
    route = respx.post(URL).mock(side_effect=[unavailable, unavailable, ok()])
    response = await client.generate(request())
    assert response.attempts == 3 and route.call_count == 3
    # base 1 s doubling, plus up to 1 s of jitter
    assert 1.0 <= sleep.waits[0] <= 2.0
    assert 2.0 <= sleep.waits[1] <= 3.0


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
@respx.mock
async def test_each_retryable_status_is_retried_up_to_max_retries(
        client: AIGenerationClient, status: int) -> None:
    route = respx.post(URL).mock(return_value=error(status, "boom", "UNAVAILABLE"))
    with pytest.raises(ServerError) as info:
        await client.generate(request())
    assert route.call_count == 4  # the first attempt + max_retries (3)
    assert info.value.attempts == 4


@respx.mock
async def test_retry_info_delay_is_honoured_exactly(
        client: AIGenerationClient, sleep: SleepRecorder) -> None:
    respx.post(URL).mock(side_effect=[rate_limited("2.345s"), rate_limited("0.5s"), ok()])
    response = await client.generate(request())
    assert sleep.waits == [2.345, 0.5]
    assert response.attempts == 3


@respx.mock
async def test_retry_after_header_seconds_is_honoured(
        client: AIGenerationClient, sleep: SleepRecorder) -> None:
    limited = rate_limited(None, headers={"Retry-After": "3"})
    respx.post(URL).mock(side_effect=[limited, ok()])
    await client.generate(request())
    assert sleep.waits == [3.0]


@respx.mock
async def test_long_server_wait_raises_at_once_for_rescheduling(
        client: AIGenerationClient, sleep: SleepRecorder) -> None:
    route = respx.post(URL).mock(return_value=rate_limited("45s"))
    with pytest.raises(RateLimitError) as info:
        await client.generate(request())
    assert info.value.retry_after == 45.0
    assert route.call_count == 1 and sleep.waits == []
    assert info.value.attempts == 1


@pytest.mark.parametrize("status", [500, 503])
@respx.mock
async def test_long_server_wait_on_a_5xx_raises_at_once_keeping_its_type(
        client: AIGenerationClient, sleep: SleepRecorder, status: int) -> None:
    unavailable = error(status, "overloaded", "UNAVAILABLE", headers={"Retry-After": "120"})
    route = respx.post(URL).mock(side_effect=[unavailable, ok()])
    with pytest.raises(ServerError) as info:
        await client.generate(request())
    assert info.value.retry_after == 120.0
    assert route.call_count == 1 and sleep.waits == []
    assert info.value.attempts == 1


@respx.mock
async def test_short_server_wait_on_a_5xx_is_honoured(
        client: AIGenerationClient, sleep: SleepRecorder) -> None:
    unavailable = error(503, "overloaded", "UNAVAILABLE", headers={"Retry-After": "4"})
    respx.post(URL).mock(side_effect=[unavailable, ok()])
    response = await client.generate(request())
    assert sleep.waits == [4.0] and response.attempts == 2


@respx.mock
async def test_daily_quota_is_not_retried(client: AIGenerationClient) -> None:
    route = respx.post(URL).mock(return_value=rate_limited(None, per_day=True))
    with pytest.raises(RateLimitError) as info:
        await client.generate(request())
    assert info.value.per_day and route.call_count == 1


@respx.mock
async def test_client_errors_are_not_retried(client: AIGenerationClient) -> None:
    route = respx.post(URL).mock(
        return_value=error(400, "Invalid value at 'contents'", "INVALID_ARGUMENT"))
    with pytest.raises(InvalidRequestError):
        await client.generate(request())
    assert route.call_count == 1


@respx.mock
async def test_invalid_key_is_an_authentication_error_without_the_key(
        client: AIGenerationClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aigen")
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]
    route = respx.post(URL).mock(return_value=error(
        400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", details))
    with pytest.raises(AuthenticationError) as info:
        await client.generate(request())
    assert route.call_count == 1
    assert API_KEY not in str(info.value) and API_KEY not in repr(info.value)
    assert API_KEY not in repr(client)
    assert API_KEY not in caplog.text


@respx.mock
async def test_missing_key_403_is_an_authentication_error(client: AIGenerationClient) -> None:
    respx.post(URL).mock(return_value=error(
        403, "Method doesn't allow unregistered callers", "PERMISSION_DENIED"))
    with pytest.raises(AuthenticationError):
        await client.generate(request())


@respx.mock
async def test_block_is_not_retried(client: AIGenerationClient) -> None:
    route = respx.post(URL).mock(return_value=httpx.Response(
        200, json={"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}))
    with pytest.raises(ContentPolicyError) as info:
        await client.generate(request())
    assert info.value.reason == "PROHIBITED_CONTENT" and route.call_count == 1


@respx.mock
async def test_connection_errors_retry_then_succeed(client: AIGenerationClient) -> None:
    route = respx.post(URL).mock(side_effect=[httpx.ConnectError("refused"),
                                              httpx.RemoteProtocolError("reset"), ok()])
    response = await client.generate(request())
    assert response.attempts == 3 and route.call_count == 3


@respx.mock
async def test_connection_errors_exhaust_as_transport_error(client: AIGenerationClient) -> None:
    respx.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TransportError) as info:
        await client.generate(request())
    assert info.value.attempts == 4


@respx.mock
async def test_read_timeouts_are_retried_and_end_as_timeout_error(
        client: AIGenerationClient) -> None:
    route = respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(GenerationTimeoutError):
        await client.generate(request())
    assert route.call_count == 4


@respx.mock
async def test_deadline_stops_retries_before_a_wait_would_pass_it(sleep: SleepRecorder) -> None:
    client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=BASE_URL, sleep=sleep,
                                deadline=2.0)
    route = respx.post(URL).mock(return_value=rate_limited("5s"))
    with pytest.raises(GenerationTimeoutError) as info:
        await client.generate(request())
    assert route.call_count == 1 and sleep.waits == []
    assert isinstance(info.value.__cause__, RateLimitError)


@respx.mock
async def test_max_retries_zero_means_one_attempt(sleep: SleepRecorder) -> None:
    client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=BASE_URL, sleep=sleep,
                                max_retries=0)
    route = respx.post(URL).mock(return_value=error(503, "overloaded", "UNAVAILABLE"))
    with pytest.raises(ServerError):
        await client.generate(request())
    assert route.call_count == 1


@respx.mock
async def test_on_retry_reports_reason_and_wait(sleep: SleepRecorder) -> None:
    events: list[RetryEvent] = []
    client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=BASE_URL, sleep=sleep,
                                on_retry=events.append)
    respx.post(URL).mock(side_effect=[rate_limited("1.25s"), ok()])
    await client.generate(request(generation_id="gen-1"))
    assert [(e.generation_id, e.attempt, e.error.code, e.wait) for e in events] == [
        ("gen-1", 1, "rate_limited", 1.25)]


LOG_FIELDS = ("generation_id", "model", "attempt", "status", "latency_ms")


def log_lines(caplog: pytest.LogCaptureFixture, event: str) -> list[logging.LogRecord]:
    """The client's records of one kind, each checked to carry every field in its text
    and, for JSON formatters, as an ``aigen_`` attribute."""
    records = [r for r in caplog.records
               if r.name == "aigen.client" and getattr(r, "aigen_event", None) == event]
    for record in records:
        message = record.getMessage()
        assert message.startswith(event + " ")
        for name in LOG_FIELDS:
            value = getattr(record, f"aigen_{name}")
            assert f"{name}={value}" in message
        assert isinstance(record.aigen_latency_ms, int)  # type: ignore[attr-defined]
    return records


@respx.mock
async def test_each_attempt_and_outcome_is_logged(
        client: AIGenerationClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aigen.client")
    respx.post(URL).mock(side_effect=[error(503, "overloaded", "UNAVAILABLE"), ok()])
    await client.generate(request(generation_id="gen-log"))
    attempts = log_lines(caplog, "attempt")
    assert [(r.aigen_attempt, r.aigen_status) for r in attempts] == [  # type: ignore[attr-defined]
        (1, 503), (2, 200)]
    assert all(r.aigen_generation_id == "gen-log" and r.aigen_model == MODEL  # type: ignore[attr-defined]
               for r in attempts)
    [outcome] = log_lines(caplog, "generation succeeded")
    assert (outcome.aigen_attempt, outcome.aigen_status) == (2, "ok")  # type: ignore[attr-defined]
    assert "generation_id=gen-log" in outcome.getMessage()
    assert API_KEY not in caplog.text


@respx.mock
async def test_a_failed_generation_logs_its_outcome_with_status_and_latency(
        client: AIGenerationClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aigen.client")
    respx.post(URL).mock(return_value=error(400, "Invalid value", "INVALID_ARGUMENT"))
    with pytest.raises(InvalidRequestError):
        await client.generate(request(generation_id="gen-fail"))
    [attempt] = log_lines(caplog, "attempt")
    assert attempt.aigen_status == 400  # type: ignore[attr-defined]
    [outcome] = log_lines(caplog, "generation failed")
    assert outcome.levelno == logging.WARNING
    assert (outcome.aigen_generation_id, outcome.aigen_attempt,  # type: ignore[attr-defined]
            outcome.aigen_status, outcome.aigen_http_status) == (  # type: ignore[attr-defined]
        "gen-fail", 1, "invalid_request", 400)
    assert "Invalid value" in outcome.getMessage()
    assert API_KEY not in caplog.text


@respx.mock
async def test_a_blocked_generation_logs_blocked(
        client: AIGenerationClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aigen.client")
    respx.post(URL).mock(return_value=httpx.Response(
        200, json={"promptFeedback": {"blockReason": "SAFETY"}}))
    with pytest.raises(ContentPolicyError):
        await client.generate(request())
    [outcome] = log_lines(caplog, "generation failed")
    assert outcome.aigen_status == "blocked"  # type: ignore[attr-defined]


@respx.mock
async def test_a_timeout_attempt_logs_its_error_code(
        client: AIGenerationClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aigen.client")
    respx.post(URL).mock(side_effect=[httpx.ReadTimeout("slow"), ok()])
    await client.generate(request())
    assert [r.aigen_status for r in log_lines(caplog, "attempt")] == [  # type: ignore[attr-defined]
        "timeout", 200]


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"width": 0}, "invalid_request"),
    ({"model": "gemini-2.5-flash-image", "enable_grounding": True}, "unsupported_feature"),
])
async def test_a_failure_before_any_request_logs_its_outcome(
        client: AIGenerationClient, caplog: pytest.LogCaptureFixture,
        kwargs: dict[str, object], code: str) -> None:
    caplog.set_level(logging.INFO, logger="aigen.client")
    with pytest.raises(InvalidRequestError):
        await client.generate(request(generation_id="gen-early", **kwargs))
    assert log_lines(caplog, "attempt") == []
    [outcome] = log_lines(caplog, "generation failed")
    assert (outcome.aigen_generation_id, outcome.aigen_attempt,  # type: ignore[attr-defined]
            outcome.aigen_status) == ("gen-early", 0, code)  # type: ignore[attr-defined]


async def test_grounding_on_a_model_without_it_fails_before_any_request(
        client: AIGenerationClient) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(url__regex=r".*").mock(return_value=ok())
        with pytest.raises(UnsupportedFeatureError):
            await client.generate(request(model="gemini-2.5-flash-image", enable_grounding=True))
        assert route.call_count == 0


async def test_bad_size_fails_before_any_request(client: AIGenerationClient) -> None:
    with pytest.raises(InvalidRequestError):
        await client.generate(request(width=0))


def test_no_api_key_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="AI_API_KEY"):
        AIGenerationClient()


def test_environment_supplies_key_model_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AI_API_KEY", raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "from-env")
    monkeypatch.setenv("AI_MODEL", "gemini-3-pro-image")
    monkeypatch.setenv("AI_BASE_URL", "http://127.0.0.1:1/v1beta/")
    client = AIGenerationClient()
    assert client.model == "gemini-3-pro-image"
    assert client.base_url == "http://127.0.0.1:1/v1beta"
    assert "from-env" not in repr(client)


class SlowLimiter:
    """A limiter whose capacity frees up only after ``wait`` seconds."""

    def __init__(self, wait: float) -> None:
        self.wait = wait

    @contextlib.asynccontextmanager
    async def slot(self, model: str, *, max_wait: float | None = None) -> AsyncIterator[None]:
        await asyncio.sleep(self.wait)
        yield

    def cooldown(self, model: str, seconds: float) -> None:
        pass


@respx.mock
async def test_waiting_for_limiter_capacity_is_not_the_request_timeout() -> None:
    client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=BASE_URL,
                                timeout=0.2, limiter=SlowLimiter(0.4))
    respx.post(URL).mock(return_value=ok())
    response = await client.generate(request())
    assert response.attempts == 1


@respx.mock
async def test_waiting_for_limiter_capacity_is_bounded_by_the_deadline() -> None:
    client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=BASE_URL,
                                deadline=0.3, limiter=SlowLimiter(5))
    route = respx.post(URL).mock(return_value=ok())
    with pytest.raises(CapacityTimeoutError, match="rate-limit capacity") as info:
        await client.generate(request())
    assert info.value.attempts == 1
    assert info.value.requests_sent == 0  # a caller may run it later at no cost
    assert route.call_count == 0


@respx.mock
async def test_a_cooldown_longer_than_max_retry_wait_raises_at_once(
        sleep: SleepRecorder) -> None:
    limiter = LocalRateLimiter()
    client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=BASE_URL, sleep=sleep,
                                limiter=limiter, max_retry_wait=30)
    limiter.cooldown(MODEL, 120)
    route = respx.post(URL).mock(return_value=ok())
    async with asyncio.timeout(2):
        with pytest.raises(RateLimitError) as info:
            await client.generate(request())
    assert info.value.retry_after is not None and 119 <= info.value.retry_after <= 120
    assert route.call_count == 0 and sleep.waits == []


@respx.mock
async def test_a_short_cooldown_is_waited_out(sleep: SleepRecorder) -> None:
    limiter = LocalRateLimiter()
    client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=BASE_URL, sleep=sleep,
                                limiter=limiter, max_retry_wait=30)
    limiter.cooldown(MODEL, 0.2)
    respx.post(URL).mock(return_value=ok())
    response = await client.generate(request())
    assert response.attempts == 1
