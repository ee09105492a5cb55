"""The emulator speaks OpenAI's Images API over loopback: real sizes, real error bodies
and headers, the same faults (its model table is checked in test_model_tables)."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from aigen_app.client import (
    AIGenerationClient,
    AuthenticationError,
    ContentPolicyError,
    GenerationRequest,
    MalformedResponseError,
    MediaAssetInput,
    NoImageError,
    ProviderConfig,
    QuotaExceededError,
)
from aigen_app.emulator import EmulatorServer, running_emulator

KEY = "sk-emulator-test-key-0123456789"


class NoSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def http(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.openai_base_url, timeout=30,
                      headers={"authorization": f"Bearer {KEY}"}) as client:
        yield client


def generate(emu: EmulatorServer, sleep: NoSleep | None = None, *, key: str = KEY,
             **fields: Any) -> Any:
    client = AIGenerationClient(
        model="gpt-image-2", sleep=sleep or NoSleep(),
        providers={"openai": ProviderConfig(key, emu.openai_base_url)})
    request = GenerationRequest(**{"prompt": "A lighthouse", "width": 1280, "height": 720,
                                   **fields})
    return asyncio.run(client.generate(request))


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


def test_a_flexible_model_answers_at_the_exact_size(emu: EmulatorServer) -> None:
    response = generate(emu)
    assert size_of(response.image_data) == (1280, 720)
    (entry,) = emu.requests()
    assert (entry.provider, entry.model, entry.image_size, entry.status) == (
        "openai", "gpt-image-2", "1280x720", 200)
    assert response.request_id == entry.response_id and entry.response_id.startswith("req_")
    assert response.usage.total_tokens > 0
    assert "authorization" not in entry.headers


def test_a_standard_model_answers_at_its_size_and_the_client_fits_it(
        emu: EmulatorServer) -> None:
    response = generate(emu, model="gpt-image-1.5")
    assert size_of(response.image_data) == (1280, 720)
    assert emu.requests()[0].image_size == "1536x1024"


def test_inputs_arrive_as_a_multipart_edit(emu: EmulatorServer) -> None:
    logo = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(logo, "PNG")
    reference = io.BytesIO()
    Image.new("RGB", (32, 32), (4, 5, 6)).save(reference, "PNG")
    generate(emu, input_image=reference.getvalue(), options={"input_fidelity": "high"},
             model="gpt-image-1.5", safety_identifier="owner-hash",
             media_assets=[MediaAssetInput(logo.getvalue(), "image/png", "logo", "ACME")])
    (entry,) = emu.requests()
    assert entry.status == 200 and entry.body["images"] == 2
    assert entry.body["input_fidelity"] == "high"
    assert entry.body["safety_identifier"] == "owner-hash"
    assert "Media asset 1 — ACME (logo)" in entry.prompt


def test_rate_limits_are_retried_after_the_servers_wait(emu: EmulatorServer) -> None:
    emu.inject("rate_limit", retry_delay=0.25)
    sleep = NoSleep()
    response = generate(emu, sleep)
    assert sleep.waits == [0.25]
    assert response.attempts == 2
    assert [e.status for e in emu.requests()] == [429, 200]


def test_server_errors_and_resets_are_retried(emu: EmulatorServer) -> None:
    emu.inject("unavailable", retry_after=1)
    emu.inject("internal")
    emu.inject("reset")
    sleep = NoSleep()
    response = generate(emu, sleep)
    assert response.attempts == 4
    assert sleep.waits[0] == 1.0
    assert [e.status for e in emu.requests()] == [503, 500, 0, 200]


@pytest.mark.parametrize("code", ["insufficient_quota", "credit_balance_exhausted",
                                  "project_spend_limit_exceeded"])
def test_quota_exhaustion_is_not_retried(emu: EmulatorServer, code: str) -> None:
    emu.inject("daily_quota", code=code)
    with pytest.raises(QuotaExceededError, match=code):
        generate(emu)
    assert len(emu.requests()) == 1


def test_a_moderation_block_names_the_violations(emu: EmulatorServer) -> None:
    emu.inject("block_prompt", reason="violence")
    with pytest.raises(ContentPolicyError) as info:
        generate(emu)
    assert info.value.reason == "violence"
    assert info.value.request_id == emu.requests()[0].response_id


@pytest.mark.parametrize(("fault", "error"), [
    ("no_image", NoImageError), ("malformed_json", MalformedResponseError),
    ("malformed_base64", MalformedResponseError), ("invalid_image", MalformedResponseError),
])
def test_a_200_without_a_usable_image_is_an_error(emu: EmulatorServer, fault: str,
                                                  error: type[Exception]) -> None:
    emu.inject(fault)
    with pytest.raises(error):
        generate(emu)


def test_a_wrong_key_is_refused_and_never_repeated() -> None:
    with running_emulator(api_keys={"sk-the-right-one-000000"}) as emu:
        with pytest.raises(AuthenticationError) as info:
            generate(emu)
        assert emu.requests()[0].status == 401
    assert "sk-" not in str(info.value) and KEY[-4:] not in str(info.value)


@pytest.mark.parametrize(("model", "size", "message"), [
    ("gpt-image-1.5", "1254x836", "Supported values are: '1024x1024', '1024x1536', "
     "'1536x1024', and 'auto'."),
    ("gpt-image-2", "1792x936", "Width and height must both be divisible by 16."),
    ("gpt-image-2", "4096x1024", "at most 3840"),
    ("gpt-image-2", "512x512", "between 655360 and 8294400"),
])
def test_sizes_a_model_does_not_take_get_the_apis_400(http: httpx.Client, model: str,
                                                      size: str, message: str) -> None:
    reply = http.post("/images/generations", json={"model": model, "prompt": "x",
                                                   "size": size})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "invalid_request_error", "invalid_value", "size")
    assert message in error["message"]
    assert reply.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(("size", "pixels"), [("auto", (1024, 1024)),
                                              ("1024x1536", (1024, 1536)),
                                              ("2048x1152", (2048, 1152))])
def test_images_are_the_native_size(http: httpx.Client, size: str,
                                    pixels: tuple[int, int]) -> None:
    reply = http.post("/images/generations", json={"model": "gpt-image-2", "prompt": "x",
                                                   "size": size, "output_format": "webp"})
    assert reply.status_code == 200
    data = base64.b64decode(reply.json()["data"][0]["b64_json"])
    with Image.open(io.BytesIO(data)) as image:
        assert (image.size, image.format) == (pixels, "WEBP")


def test_unknown_parameters_and_models_get_the_apis_errors(http: httpx.Client) -> None:
    reply = http.post("/images/generations", json={"model": "gpt-image-2", "prompt": "x",
                                                   "response_format": "b64_json"})
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == "Unknown parameter: 'response_format'."
    reply = http.post("/images/generations", json={"model": "gpt-image-1", "prompt": "x"})
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "model_not_found"
    reply = http.post("/images/generations", json={"model": "gpt-image-2", "prompt": "x"},
                      headers={"authorization": ""})
    assert reply.status_code == 401

