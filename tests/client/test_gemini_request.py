"""The request body sent to generateContent: layout, options and capability checks."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from aigen_app.client.catalog import MODELS, get_model_spec
from aigen_app.client.errors import InvalidRequestError, UnsupportedFeatureError
from aigen_app.client.gemini import DEFAULT_SYSTEM_INSTRUCTION, build_payload, encode_payload
from aigen_app.client.types import (
    ContentPart,
    ConversationTurn,
    GenerationRequest,
    MediaAssetInput,
)

NANO = MODELS["gemini-nano-banana-2.1"]
FLASH25 = MODELS["gemini-2.5-flash-image"]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
JPEG = b"\xff\xd8\xff\xe0" + b"\xfb\xff" * 50  # encodes with '+' and '/' in standard base64


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def request(**overrides) -> GenerationRequest:
    fields: dict[str, Any] = {"prompt": "A red fox reading a map", "width": 1024, "height": 1024}
    fields.update(overrides)
    return GenerationRequest(**fields)


def build(req: GenerationRequest, spec=NANO, **kwargs):
    kwargs.setdefault("seed", 42)
    kwargs.setdefault("aspect_ratio", "1:1")
    kwargs.setdefault("image_size", "1K")
    return build_payload(req, spec, **kwargs)


def test_prompt_only_body():
    body = build(request())

    assert body["contents"] == [{"role": "user", "parts": [{"text": "A red fox reading a map"}]}]
    assert body["systemInstruction"] == {"parts": [{"text": DEFAULT_SYSTEM_INSTRUCTION}]}
    assert body["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"],
        "seed": 42,
        "imageConfig": {"aspectRatio": "1:1", "imageSize": "1K"},
    }
    assert "safetySettings" not in body
    assert "tools" not in body


def test_reference_image_then_prompt_then_each_asset_with_its_introduction():
    req = request(
        prompt="Put the logo on the mug",
        input_image=JPEG,
        input_image_mime_type="image/jpeg",
        media_assets=[
            MediaAssetInput(PNG, "image/png", asset_type="logo", display_name="Acme logo"),
            MediaAssetInput(JPEG, "image/jpeg", asset_type="face"),
        ],
    )

    parts = build(req)["contents"][-1]["parts"]

    assert parts == [
        {"inlineData": {"mimeType": "image/jpeg", "data": b64(JPEG)}},
        {"text": "Put the logo on the mug"},
        {"text": "Media asset 1 — Acme logo (logo): use this logo exactly as provided."},
        {"inlineData": {"mimeType": "image/png", "data": b64(PNG)}},
        {"text": "Media asset 2 — face (face): use this face exactly as provided."},
        {"inlineData": {"mimeType": "image/jpeg", "data": b64(JPEG)}},
    ]


def test_images_use_standard_padded_base64():
    data = build(request(input_image=JPEG))["contents"][0]["parts"][0]["inlineData"]["data"]

    assert "+" in data or "/" in data
    assert "-" not in data
    assert "_" not in data
    assert len(data) % 4 == 0
    assert base64.b64decode(data, validate=True) == JPEG


@pytest.mark.parametrize("instruction", [None, ""])
def test_system_instruction_can_be_switched_off(instruction):
    assert "systemInstruction" not in build(request(), system_instruction=instruction)


def test_custom_system_instruction():
    body = build(request(), system_instruction="Flat vector style only.")

    assert body["systemInstruction"] == {"parts": [{"text": "Flat vector style only."}]}


def test_default_system_instruction_states_the_prompt_constraints():
    text = DEFAULT_SYSTEM_INSTRUCTION.lower()
    for idea in ("exactly as written", "legible", "cropped", "exactly that many",
                 "watermark", "logo", "border", "layout", "composition", "original"):
        assert idea in text


def test_seed_aspect_ratio_and_size_are_forwarded():
    config = build(request(), seed=123456, aspect_ratio="21:9", image_size="4K")[
        "generationConfig"
    ]

    assert config["seed"] == 123456
    assert config["imageConfig"] == {"aspectRatio": "21:9", "imageSize": "4K"}


def test_image_size_omitted_when_model_has_no_tiers():
    config = build(request(), FLASH25, aspect_ratio="16:9", image_size=None)["generationConfig"]

    assert config["imageConfig"] == {"aspectRatio": "16:9"}


def test_image_only_response_modalities():
    config = build(request(), response_modalities=("IMAGE",))["generationConfig"]

    assert config["responseModalities"] == ["IMAGE"]


def test_safety_settings_are_sent_at_the_root():
    settings = [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"},
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_NONE"},
    ]

    body = build(request(), safety_settings=settings)

    assert body["safetySettings"] == settings
    assert "safetySettings" not in body["generationConfig"]


@pytest.mark.parametrize(
    "bad",
    [
        {"category": "HARM_CATEGORY_HARASSMENT"},
        {"threshold": "BLOCK_NONE"},
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": 3},
        {"category": "", "threshold": "BLOCK_NONE"},
        "HARM_CATEGORY_HARASSMENT",
    ],
)
def test_malformed_safety_setting_is_rejected(bad):
    with pytest.raises(InvalidRequestError, match="safety setting 0"):
        build(request(), safety_settings=[bad])


def test_grounding_adds_google_search_tool():
    body = build(request(enable_grounding=True))

    assert body["tools"] == [{"googleSearch": {}}]


def test_grounding_refused_before_sending_on_a_model_without_it():
    with pytest.raises(UnsupportedFeatureError) as caught:
        build(request(enable_grounding=True), FLASH25, image_size=None)

    assert str(caught.value) == (
        "model gemini-2.5-flash-image does not support grounding (Google Search)"
    )
    assert caught.value.retryable is False


def test_four_images_exceed_gemini_2_5_flash_image_limit_of_three():
    req = request(
        input_image=PNG,
        media_assets=[MediaAssetInput(PNG) for _ in range(2)],
        conversation_history=[
            ConversationTurn("model", (ContentPart(image_data=PNG, mime_type="image/png"),)),
        ],
    )

    with pytest.raises(UnsupportedFeatureError, match=r"at most 3 input images.*has 4"):
        build(req, FLASH25, image_size=None)


def test_three_images_fit_gemini_2_5_flash_image():
    req = request(input_image=PNG, media_assets=[MediaAssetInput(PNG) for _ in range(2)])

    parts = build(req, FLASH25, image_size=None)["contents"][0]["parts"]

    assert sum("inlineData" in p for p in parts) == 3


def test_fifteen_images_exceed_nano_banana_limit_of_fourteen():
    req = request(input_image=PNG, media_assets=[MediaAssetInput(PNG) for _ in range(14)])

    with pytest.raises(UnsupportedFeatureError, match=r"at most 14 input images.*has 15"):
        build(req)


def test_fourteen_images_fit_nano_banana():
    req = request(input_image=PNG, media_assets=[MediaAssetInput(PNG) for _ in range(13)])

    assert len(build(req)["contents"][0]["parts"]) == 1 + 1 + 2 * 13


def test_unknown_model_gets_default_capabilities():
    spec = get_model_spec("gemini-9-image")

    body = build(request(enable_grounding=True), spec)

    assert body["tools"] == [{"googleSearch": {}}]


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_empty_prompt_is_rejected(prompt):
    with pytest.raises(InvalidRequestError, match="prompt is empty"):
        build(request(prompt=prompt))


def test_history_replayed_before_new_turn_with_signatures_byte_exact():
    # Real signatures can exceed the image itself (~600 KB); they must travel untouched,
    # including URL-safe characters the standard alphabet would not produce.
    text_signature = "Ck4BVKhc7s-_" + "A" * 300 + "=="
    image_signature = ("Eu8BCuwBAdHtim9" + "x-_+/" * 120_000)[:597_616]
    history = [
        ConversationTurn("user", (ContentPart(text="A lighthouse at dusk"),)),
        ConversationTurn(
            "model",
            (
                ContentPart(text="Here is your lighthouse.", thought_signature=text_signature),
                ContentPart(image_data=PNG, mime_type="image/png",
                         thought_signature=image_signature),
            ),
        ),
    ]

    body = build(request(prompt="Make it night", conversation_history=history))

    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "A lighthouse at dusk"}]},
        {
            "role": "model",
            "parts": [
                {"text": "Here is your lighthouse.", "thoughtSignature": text_signature},
                {"inlineData": {"mimeType": "image/png", "data": b64(PNG)},
                 "thoughtSignature": image_signature},
            ],
        },
        {"role": "user", "parts": [{"text": "Make it night"}]},
    ]
    sent = json.loads(encode_payload(body))
    assert sent["contents"][1]["parts"][1]["thoughtSignature"] == image_signature
    assert len(sent["contents"][1]["parts"][1]["thoughtSignature"]) == 597_616


def test_empty_text_part_carrying_a_signature_is_replayed():
    history = [ConversationTurn("model", (
        ContentPart(image_data=PNG, mime_type="image/png", thought_signature="sigA"),
        ContentPart(text="", thought_signature="sigB"),
    ))]

    parts = build(request(conversation_history=history))["contents"][0]["parts"]

    assert parts[1] == {"text": "", "thoughtSignature": "sigB"}


def test_plain_dict_history():
    history = [
        {"role": "user", "text": "A cat in a hat"},
        {"role": "model", "image_data": PNG, "mime_type": "image/png",
         "thought_signature": b"c2lnbmF0dXJl"},
        {"role": "model", "parts": [{"text": "Done.", "thought_signature": "c2ln"}]},
    ]

    contents = build(request(conversation_history=history))["contents"]

    assert contents[:3] == [
        {"role": "user", "parts": [{"text": "A cat in a hat"}]},
        {"role": "model", "parts": [
            {"inlineData": {"mimeType": "image/png", "data": b64(PNG)},
             "thoughtSignature": "c2lnbmF0dXJl"},
        ]},
        {"role": "model", "parts": [{"text": "Done.", "thoughtSignature": "c2ln"}]},
    ]


def test_history_turn_without_parts_is_rejected():
    with pytest.raises(InvalidRequestError, match=r"turn 2 .* no parts"):
        build(request(conversation_history=[{"role": "user", "text": "hi"}, {"role": "model"}]))


def test_invalid_history_dict_is_an_invalid_request():
    with pytest.raises(InvalidRequestError, match="role"):
        build(request(conversation_history=[{"role": "assistant", "text": "hi"}]))


def test_encode_payload_is_utf8_json():
    body = build(request(prompt="Café sign — « Ouvert »"))

    raw = encode_payload(body)

    assert "Café sign — « Ouvert »".encode() in raw
    assert json.loads(raw) == body
