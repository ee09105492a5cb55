"""OpenAI through the same client: what is sent per model and option, what comes back,
and how each error class is treated (respx at the HTTP edge, no network)."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import httpx
import pytest
import respx
from PIL import Image

from aigen_app.client import (
    AIGenerationClient,
    AuthenticationError,
    ConfigurationError,
    ContentPolicyError,
    GenerationError,
    GenerationRequest,
    InvalidRequestError,
    MalformedResponseError,
    MediaAssetInput,
    ModelNotFoundError,
    NoImageError,
    PermissionDeniedError,
    ProviderConfig,
    QuotaExceededError,
    RateLimitError,
    UnsupportedFeatureError,
)
from aigen_app.client.openai_catalog import FLEXIBLE_RULES, OPENAI_MODELS, choose_size

from .helpers import API_KEY, BASE_URL, URL, SleepRecorder, ok, png
from .openai_helpers import (
    EDITS_URL,
    GENERATIONS_URL,
    OPENAI_BASE_URL,
    OPENAI_KEY,
    form_fields,
    form_parts,
    image_reply,
    openai_error,
)


@pytest.fixture
def sleep() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def client(sleep: SleepRecorder) -> AIGenerationClient:
    return AIGenerationClient(
        model="gpt-image-2", sleep=sleep,
        providers={"openai": ProviderConfig(OPENAI_KEY, OPENAI_BASE_URL)})


def request(**kwargs: Any) -> GenerationRequest:
    fields: dict[str, Any] = {"prompt": "A lighthouse at dawn", "width": 1280, "height": 720}
    fields.update(kwargs)
    return GenerationRequest(**fields)


def sent_json(route: respx.Route) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls.last.request.content)
    return body


async def test_a_flexible_model_is_asked_for_the_exact_size(client: AIGenerationClient) -> None:
    with respx.mock() as mock:
        route = mock.post(GENERATIONS_URL).mock(return_value=image_reply(1280, 720))
        response = await client.generate(request(safety_identifier="owner-hash"))
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sent.headers["content-type"] == "application/json"
    assert sent_json(route) == {"model": "gpt-image-2", "prompt": "A lighthouse at dawn",
                                "size": "1280x720", "safety_identifier": "owner-hash"}
    assert Image.open(io.BytesIO(response.image_data)).size == (1280, 720)
    assert (response.provider, response.seed, response.image_size) == ("openai", None,
                                                                       "1280x720")
    assert response.request_id == "req_123"
    assert (response.usage.prompt_tokens, response.usage.candidates_tokens,
            response.usage.total_tokens) == (50, 1056, 1106)
    assert response.model_turn.parts[0].image_data is not None


async def test_a_standard_size_model_gets_the_nearest_size_then_exact_pixels(
        client: AIGenerationClient) -> None:
    with respx.mock() as mock:
        route = mock.post(GENERATIONS_URL).mock(return_value=image_reply(1536, 1024))
        response = await client.generate(request(model="gpt-image-1.5"))
    assert sent_json(route)["size"] == "1536x1024"
    assert Image.open(io.BytesIO(response.image_data)).size == (1280, 720)


@pytest.mark.parametrize(("model", "asked", "sent"), [
    ("gpt-image-2", (1280, 720), (1280, 720)),
    ("gpt-image-2", (64, 64), (816, 816)),  # below the pixel minimum: scaled up
    ("gpt-image-2", (1000, 750), (1008, 752)),  # not multiples of 16: covered
    ("gpt-image-2", (8000, 1000), (3840, 1280)),  # ratio 8:1 clamped to 3:1, edge capped
    ("gpt-image-2.5-flare", (3840, 2160), (3840, 2160)),
    ("gpt-image-1.5", (720, 1280), (1024, 1536)),
    ("gpt-image-1.5", (1000, 1000), (1024, 1024)),
    ("gpt-image-2.6-flare", (1280, 720), (1536, 1024)),  # flexible sizes unconfirmed
])
def test_sizes_follow_each_models_rules(model: str, asked: tuple[int, int],
                                        sent: tuple[int, int]) -> None:
    size = choose_size(OPENAI_MODELS[model], *asked)
    assert size == sent
    if OPENAI_MODELS[model].flexible_sizes:
        assert FLEXIBLE_RULES.allows(*size)


async def test_inputs_go_to_edits_with_labels_in_the_prompt(
        client: AIGenerationClient) -> None:
    reference, logo, face = png(32, 32, (1, 2, 3)), png(16, 16, (4, 5, 6)), png(8, 8)
    with respx.mock() as mock:
        route = mock.post(EDITS_URL).mock(return_value=image_reply())
        await client.generate(request(
            input_image=reference, safety_identifier="owner-hash",
            media_assets=[MediaAssetInput(logo, "image/png", "logo", "ACME logo"),
                          MediaAssetInput(face, "image/png", "face", "")],
            options={"quality": "high"}))
    sent = route.calls.last.request
    images = [(content, filename) for name, content, filename in form_parts(sent)
              if name == "image[]"]
    assert [content for content, _ in images] == [reference, logo, face]
    fields = form_fields(sent)
    assert fields["model"] == "gpt-image-2" and fields["size"] == "1280x720"
    assert fields["quality"] == "high" and fields["safety_identifier"] == "owner-hash"
    assert fields["prompt"].splitlines() == [
        "Input image 1: the reference image: keep its layout and composition and change "
        "only what the instruction asks",
        "Input image 2: Media asset 1 — ACME logo (logo): use this logo exactly as provided.",
        "Input image 3: Media asset 2 — face (face): use this face exactly as provided.",
        "", "A lighthouse at dawn"]


async def test_a_refinement_sends_the_latest_image_then_the_conversations_inputs(
        client: AIGenerationClient) -> None:
    first, second, reference = png(8, 8, (9, 9, 9)), png(8, 8, (7, 7, 7)), png(4, 4)
    history = [
        {"role": "user", "parts": [{"image_data": reference}, {"text": "A fox"}]},
        {"role": "model", "image_data": first},
        {"role": "user", "text": "Make it red"},
        {"role": "model", "image_data": second},
    ]
    with respx.mock() as mock:
        route = mock.post(EDITS_URL).mock(return_value=image_reply())
        await client.generate(request(prompt="Add a hat", conversation_history=history))
    parts = form_parts(route.calls.last.request)
    assert [content for name, content, _ in parts if name == "image[]"] == [second, reference]
    assert form_fields(route.calls.last.request)["prompt"].endswith("\n\nAdd a hat")


@pytest.mark.parametrize(("model", "options", "inputs", "problem"), [
    ("gpt-image-2", {"quality": "xhigh"}, False, "quality"),
    ("gpt-image-2", {"background": "transparent"}, False, "background"),
    ("gpt-image-1.5", {"background": "transparent", "output_format": "jpeg"}, False,
     "transparent"),
    ("gpt-image-2", {"input_fidelity": "high"}, True, "input_fidelity"),
    ("gpt-image-1-mini", {"input_fidelity": "high"}, True, "input_fidelity"),
    ("gpt-image-1.5", {"input_fidelity": "high"}, False, "input_fidelity"),
    ("gpt-image-2", {"moderation": "low"}, True, "moderation"),
    ("gpt-image-2", {"output_format": "gif"}, False, "output_format"),
    ("gpt-image-2", {"style": "vivid"}, False, "style"),
])
async def test_an_option_the_model_does_not_take_is_refused_before_sending(
        client: AIGenerationClient, model: str, options: dict[str, str], inputs: bool,
        problem: str) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(url__regex=r".*").mock(return_value=image_reply())
        with pytest.raises(UnsupportedFeatureError, match=problem):
            await client.generate(request(model=model, options=options,
                                          input_image=png(8, 8) if inputs else None))
    assert not route.called


@pytest.mark.parametrize(("model", "options", "inputs"), [
    ("gpt-image-2.5-sunburst", {"quality": "xhigh", "output_format": "webp"}, False),
    ("gpt-image-1.5", {"background": "transparent", "output_format": "png"}, False),
    ("gpt-image-2", {"moderation": "low", "background": "opaque", "quality": "low"}, False),
    ("gpt-image-1.5", {"input_fidelity": "high"}, True),
    ("gpt-image-1-mini", {"input_fidelity": "low"}, True),
])
async def test_an_option_the_model_takes_is_sent(
        client: AIGenerationClient, model: str, options: dict[str, str],
        inputs: bool) -> None:
    url = EDITS_URL if inputs else GENERATIONS_URL
    output_format = options.get("output_format", "png")
    with respx.mock() as mock:
        route = mock.post(url).mock(return_value=image_reply(output_format=output_format))
        response = await client.generate(request(model=model, options=options,
                                                 input_image=png(8, 8) if inputs else None))
    sent = (form_fields(route.calls.last.request) if inputs else sent_json(route))
    assert {name: sent[name] for name in options} == options
    assert response.mime_type == "image/png"  # the reply's bytes decide, not the field


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"enable_grounding": True}, UnsupportedFeatureError),
    ({"seed": 7}, UnsupportedFeatureError),
    ({"model": "gpt-image-1"}, ModelNotFoundError),  # shut down: said before a request
    ({"model": "dall-e-3"}, ModelNotFoundError),
    ({"media_assets": [MediaAssetInput(png(2, 2, (i, 0, 0))) for i in range(17)]},
     UnsupportedFeatureError),
    ({"prompt": "x" * 32_001}, InvalidRequestError),
])
async def test_what_openai_cannot_take_is_refused_before_sending(
        client: AIGenerationClient, kwargs: dict[str, Any], error: type[Exception]) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(url__regex=r".*").mock(return_value=image_reply())
        with pytest.raises(error):
            await client.generate(request(**kwargs))
    assert not route.called


def test_a_missing_openai_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    gemini_default = AIGenerationClient(api_key=API_KEY)
    assert gemini_default.configured_providers() == ["gemini"]
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(url__regex=r".*").mock(return_value=image_reply())
        with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
            gemini_default.generate_sync(request(model="gpt-image-2"))
    assert not route.called


def test_openai_base_url_and_key_come_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", OPENAI_BASE_URL)
    monkeypatch.delenv("AI_BASE_URL", raising=False)
    monkeypatch.delenv("AI_API_KEY", raising=False)
    client = AIGenerationClient(model="gpt-image-2")
    assert client.base_url == OPENAI_BASE_URL
    assert OPENAI_KEY not in repr(client)


async def test_moderation_blocked_is_a_content_policy_error_with_the_violations(
        client: AIGenerationClient) -> None:
    message = ("Your request was rejected by the safety system. If you believe this is an "
               "error, contact us with request ID req_abc. safety_violations=[sexual, violence].")
    with respx.mock() as mock:
        route = mock.post(GENERATIONS_URL).mock(return_value=openai_error(
            400, "moderation_blocked", message, "image_generation_user_error"))
        with pytest.raises(ContentPolicyError) as info:
            await client.generate(request())
    assert route.call_count == 1
    assert info.value.reason == "sexual, violence"
    assert info.value.details["safety_violations"] == ["sexual", "violence"]
    assert info.value.request_id == "req_err"


async def test_a_refused_key_never_appears_not_even_masked(
        client: AIGenerationClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="aigen")
    masked = f"{OPENAI_KEY[:8]}{'*' * 20}{OPENAI_KEY[-4:]}"
    with respx.mock() as mock:
        route = mock.post(GENERATIONS_URL).mock(return_value=openai_error(
            401, "invalid_api_key", f"Incorrect API key provided: {masked}. You can find "
            "your API key at https://platform.openai.com/account/api-keys."))
        with pytest.raises(AuthenticationError) as info:
            await client.generate(request())
    assert route.call_count == 1
    seen = f"{info.value} {info.value.details} {caplog.text}"
    assert "sk-" not in seen and OPENAI_KEY[-4:] not in seen


@pytest.mark.parametrize("code", ["insufficient_quota", "credit_balance_exhausted",
                                  "organization_usage_limit_exceeded",
                                  "project_spend_limit_exceeded",
                                  "organization_spend_limit_exceeded"])
async def test_quota_codes_are_never_retried(client: AIGenerationClient, code: str) -> None:
    with respx.mock() as mock:
        route = mock.post(GENERATIONS_URL).mock(return_value=openai_error(
            429, code, "You exceeded your current quota.", "insufficient_quota",
            headers={"retry-after": "1"}))
        with pytest.raises(QuotaExceededError) as info:
            await client.generate(request())
    assert route.call_count == 1
    assert info.value.code == "quota_exceeded"
    assert str(info.value).startswith(f"OpenAI quota exhausted ({code})")


@pytest.mark.parametrize(("status", "code", "kind"), [
    (429, "rate_limit_exceeded", "requests"),
    (429, "slow_down", "rate_limit_error"),
    (500, "server_error", "server_error"),
    (503, "server_is_overloaded", "service_unavailable_error"),
])
async def test_rate_limits_and_server_errors_are_retried_after_the_servers_wait(
        client: AIGenerationClient, sleep: SleepRecorder, status: int, code: str,
        kind: str) -> None:
    with respx.mock() as mock:
        route = mock.post(GENERATIONS_URL).mock(side_effect=[
            openai_error(status, code, "Try again.", kind, headers={"retry-after": "2"}),
            image_reply()])
        response = await client.generate(request())
    assert route.call_count == 2
    assert sleep.waits == [2.0]
    assert response.attempts == 2


async def test_a_rate_limit_without_a_wait_backs_off_and_gives_up(
        client: AIGenerationClient, sleep: SleepRecorder) -> None:
    with respx.mock() as mock:
        route = mock.post(GENERATIONS_URL).mock(return_value=openai_error(
            429, "rate_limit_exceeded", "Rate limit reached for requests", "requests"))
        with pytest.raises(RateLimitError) as info:
            await client.generate(request())
    assert route.call_count == client.max_retries + 1
    assert len(sleep.waits) == client.max_retries
    assert info.value.retry_after is None


@pytest.mark.parametrize(("status", "code", "error"), [
    (400, "invalid_value", InvalidRequestError),
    (400, "unknown_parameter", InvalidRequestError),
    (403, None, PermissionDeniedError),
    (404, "model_not_found", ModelNotFoundError),
])
async def test_client_errors_are_not_retried(client: AIGenerationClient, status: int,
                                             code: str | None,
                                             error: type[GenerationError]) -> None:
    with respx.mock() as mock:
        route = mock.post(GENERATIONS_URL).mock(return_value=openai_error(
            status, code, "Nope."))
        with pytest.raises(error) as info:
            await client.generate(request())
    assert route.call_count == 1
    assert type(info.value) is error
    assert "Nope." in str(info.value)


@pytest.mark.parametrize(("reply", "error"), [
    (image_reply(data=[]), NoImageError),
    (httpx.Response(200, json={"created": 1}), NoImageError),
    (image_reply(data=[{"b64_json": "iVBORw0KGgo*not-base64*"}]), MalformedResponseError),
    (image_reply(data=[{"b64_json": "bm90IGFuIGltYWdl"}]), MalformedResponseError),
    (httpx.Response(200, content=b'{"created": 1, "data": [{"b64_'), MalformedResponseError),
])
async def test_a_200_without_a_usable_image_is_an_error(
        client: AIGenerationClient, reply: httpx.Response, error: type[Exception]) -> None:
    with respx.mock() as mock:
        mock.post(GENERATIONS_URL).mock(return_value=reply)
        with pytest.raises(error):
            await client.generate(request())


async def test_the_request_id_is_logged(client: AIGenerationClient,
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="aigen")
    with respx.mock() as mock:
        mock.post(GENERATIONS_URL).mock(side_effect=[
            openai_error(500, "server_error", "oops", "server_error",
                         headers={"retry-after": "0"}),
            image_reply(request_id="req_ok")])
        await client.generate(request())
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("attempt") and "request_id=req_err" in line for line in lines)
    assert any(line.startswith("generation succeeded") and "request_id=req_ok" in line
               for line in lines)


async def test_one_client_serves_both_providers(sleep: SleepRecorder) -> None:
    client = AIGenerationClient(api_key=API_KEY, base_url=BASE_URL, sleep=sleep,
                                providers={"openai": ProviderConfig(OPENAI_KEY,
                                                                    OPENAI_BASE_URL)})
    with respx.mock() as mock:
        gemini = mock.post(URL).mock(return_value=ok())
        openai = mock.post(GENERATIONS_URL).mock(return_value=image_reply())
        await client.generate(request())
        await client.generate(request(model="gpt-image-2"))
    assert gemini.calls.last.request.headers["x-goog-api-key"] == API_KEY
    assert "authorization" not in gemini.calls.last.request.headers
    assert openai.calls.last.request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert "x-goog-api-key" not in openai.calls.last.request.headers
