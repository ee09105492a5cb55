"""The emulator's successful replies, auth and request validation, seen over HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from aigen_app.client.catalog import get_model_spec
from aigen_app.emulator import running_emulator

from .helpers import KEY, MODEL, body, decode_image, image_part, inline, png, text, url, user


def test_success_reply_has_the_gemini_shape(emu, client):
    reply = client.post(url(emu), json=body("a red fox in snow", ratio="16:9", size="1K"))

    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/json; charset=UTF-8"
    data = reply.json()
    candidate = data["candidates"][0]
    assert candidate["finishReason"] == "STOP"
    assert candidate["content"]["role"] == "model"
    thought, caption, picture = candidate["content"]["parts"]
    assert thought["thought"] is True
    assert "thoughtSignature" not in thought
    assert caption["text"].startswith("Here is your image: a red fox in snow")
    assert caption["thoughtSignature"]
    assert picture["inlineData"]["mimeType"] == "image/png"
    assert picture["thoughtSignature"]
    usage = data["usageMetadata"]
    assert usage["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": 1120}]
    assert usage["totalTokenCount"] == (
        usage["promptTokenCount"] + usage["candidatesTokenCount"] + usage["thoughtsTokenCount"]
    )
    assert data["modelVersion"] == MODEL
    assert data["responseId"]


@pytest.mark.parametrize(
    ("model", "ratio", "size"),
    [
        ("gemini-nano-banana-2.1", "16:9", "1K"),
        ("gemini-nano-banana-2.1", "1:4", "2K"),
        ("gemini-3-pro-image", "21:9", "2K"),
        ("gemini-3.1-flash-image", "3:4", "512"),
        ("gemini-2.5-flash-image", "9:16", None),
    ],
)
def test_image_has_the_models_native_size(emu, client, model, ratio, size):
    reply = client.post(url(emu, model), json=body("sized", ratio=ratio, size=size))

    assert reply.status_code == 200, reply.text
    assert decode_image(reply.json()).size == get_model_spec(model).native_size(ratio, size)


def test_defaults_are_square_1k(emu, client):
    reply = client.post(url(emu), json=body("no config"))

    assert decode_image(reply.json()).size == get_model_spec(MODEL).native_size("1:1", "1K")


def test_without_a_ratio_the_input_images_ratio_is_used(emu, client):
    contents = [user(text("make it night"), inline(png(320, 180)))]

    reply = client.post(url(emu), json=body(contents=contents))

    assert decode_image(reply.json()).size == get_model_spec(MODEL).native_size("16:9", "1K")
    assert reply.json()["usageMetadata"]["promptTokensDetails"][1] == {
        "modality": "IMAGE", "tokenCount": 560,
    }


def test_different_prompts_give_different_images_and_a_seed_repeats_one(emu, client):
    fox = client.post(url(emu), json=body("a fox", seed=7)).json()
    owl = client.post(url(emu), json=body("an owl", seed=7)).json()
    fox_again = client.post(url(emu), json=body("a fox", seed=7)).json()

    assert decode_image(fox).tobytes() != decode_image(owl).tobytes()
    assert decode_image(fox).getpixel((1, 1)) != decode_image(owl).getpixel((1, 1))
    assert image_part(fox)["inlineData"]["data"] == image_part(fox_again)["inlineData"]["data"]


def test_image_only_modality_leaves_out_the_text_part(emu, client):
    request = body("quiet")
    request["generationConfig"]["responseModalities"] = ["IMAGE"]

    parts = client.post(url(emu), json=request).json()["candidates"][0]["content"]["parts"]

    assert [p for p in parts if "text" in p and not p.get("thought")] == []
    assert "inlineData" in parts[-1]


def test_jpeg_output_when_configured(client):
    with running_emulator(image_mime="image/jpeg") as emu:
        reply = client.post(url(emu), json=body("jpeg please")).json()

    assert image_part(reply)["inlineData"]["mimeType"] == "image/jpeg"
    assert decode_image(reply).format == "JPEG"


def test_grounding_adds_search_metadata(emu, client):
    reply = client.post(url(emu), json=body("weather in Paris today",
                                            tools=[{"googleSearch": {}}])).json()

    assert reply["candidates"][0]["groundingMetadata"]["webSearchQueries"]


def test_non_thinking_model_issues_no_signatures(emu, client):
    reply = client.post(url(emu, "gemini-2.5-flash-image"), json=body("plain")).json()

    parts = reply["candidates"][0]["content"]["parts"]
    assert all("thoughtSignature" not in p and not p.get("thought") for p in parts)


def test_log_records_the_request_without_the_key(emu, client):
    reply = client.post(url(emu), json=body("logged", ratio="4:3", size="2K", seed=42),
                        headers={"x-custom": "yes"})

    (entry,) = emu.requests()
    assert (entry.status, entry.outcome, entry.model) == (200, "ok", MODEL)
    assert (entry.prompt, entry.aspect_ratio, entry.image_size, entry.seed) == (
        "logged", "4:3", "2K", 42,
    )
    assert entry.api_key_present is True
    assert entry.response_id == reply.json()["responseId"]
    assert entry.headers["x-custom"] == "yes"
    assert entry.body["contents"][0]["parts"][0]["text"] == "logged"
    assert KEY not in repr(entry) + json.dumps(entry.to_json(with_body=True))


def test_missing_key_is_403_permission_denied(emu):
    reply = httpx.post(url(emu), json=body())

    assert reply.status_code == 403
    assert reply.json()["error"]["status"] == "PERMISSION_DENIED"
    assert reply.json()["error"]["message"].startswith("Method doesn't allow unregistered")
    assert emu.requests()[0].outcome == "missing_key"
    assert emu.requests()[0].api_key_present is False


def test_key_may_come_in_the_query_string(emu):
    reply = httpx.post(url(emu), params={"key": KEY}, json=body(), timeout=30)

    assert reply.status_code == 200


def test_unknown_key_is_400_api_key_invalid(client):
    with running_emulator(api_keys={"the-only-key"}) as emu:
        refused = client.post(url(emu), json=body())
        accepted = client.post(url(emu), json=body(), headers={"x-goog-api-key": "the-only-key"})
        outcomes = [entry.outcome for entry in emu.requests()]

    error = refused.json()["error"]
    assert (refused.status_code, error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["message"] == "API key not valid. Please pass a valid API key."
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    assert error["details"][1]["@type"] == "type.googleapis.com/google.rpc.LocalizedMessage"
    assert accepted.status_code == 200
    assert outcomes == ["bad_key", "ok"]


def test_unknown_model_is_404(emu, client):
    reply = client.post(url(emu, "gemini-9-ultra-image"), json=body())

    assert reply.status_code == 404
    assert reply.json()["error"]["message"].startswith(
        "models/gemini-9-ultra-image is not found for API version v1beta"
    )


def _with_images(count: int) -> dict[str, Any]:
    return body(contents=[user(text("combine"), *[inline(png()) for _ in range(count)])])


@pytest.mark.parametrize(
    ("model", "payload", "message"),
    [
        (MODEL, b"{not json", "Invalid JSON payload received."),
        (MODEL, {"generationConfig": {}}, "contents is not specified"),
        (MODEL, {"contents": []}, "contents is not specified"),
        (MODEL, body(ratio="7:3"), "Unsupported aspect ratio: 7:3"),
        ("gemini-3-pro-image", body(ratio="1:4"), "Unsupported aspect ratio: 1:4"),
        (MODEL, body(size="512px"), "Unsupported image size: 512px"),
        (MODEL, body(size="512"), "Unsupported image size: 512"),
        ("gemini-3.1-flash-lite-image", body(size="1K"), "Image size is not supported"),
        ("gemini-2.5-flash-image", body(tools=[{"googleSearch": {}}]), "Search Grounding"),
        ("gemini-3.1-flash-lite-image", _with_images(4), "Too many images"),
        (MODEL, body(contents=[user(inline("@@not base64@@"))]), "Base64 decoding failed"),
        (MODEL, body(contents=[user(inline(b"GIF89a but not really"))]),
         "Provided image is not valid."),
    ],
)
def test_invalid_requests_are_400_invalid_argument(emu, client, model, payload, message):
    if isinstance(payload, bytes):
        reply = client.post(url(emu, model), content=payload)
    else:
        reply = client.post(url(emu, model), json=payload)

    assert reply.status_code == 400
    assert reply.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert message in reply.json()["error"]["message"]
    assert emu.requests()[0].outcome == "invalid_argument"


def test_as_many_images_as_the_model_allows_are_accepted(emu, client):
    reply = client.post(url(emu, "gemini-3.1-flash-lite-image"), json=_with_images(3))

    assert reply.status_code == 200
