"""Parsing a 200 generateContent reply: the image, the turn to replay, and the many ways a
200 still means "no image"."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from aigen_app.client.errors import (
    ContentPolicyError,
    MalformedResponseError,
    NoImageError,
    RateLimitError,
)
from aigen_app.client.gemini import POLICY_FINISH_REASONS, parse_reply
from aigen_app.client.types import ContentPart, Usage

FINAL = b"\x89PNG\r\n\x1a\nfinal-image" + bytes(range(200))
DRAFT = b"\x89PNG\r\n\x1a\ndraft-image"
SECOND = b"\xff\xd8\xff\xe0second-image" + b"\xfb\xff" * 20
TEXT_SIG = "CiQB0e2Kb7Jv+MY/aw1Vjcx0DgXaAfOPYcgHR5qZWU5MWh4wmeQ="
IMAGE_SIG = "EuwBCukBAdHtim8" + "Qk1P+/Zz" * 75_000  # ~600 KB, as seen on real replies


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode(body) -> bytes:
    return json.dumps(body).encode()


def reply(parts, finish_reason="STOP", **candidate_extra) -> dict[str, Any]:
    return {
        "candidates": [{
            "content": {"role": "model", "parts": parts},
            "finishReason": finish_reason,
            "index": 0,
            **candidate_extra,
        }],
        "usageMetadata": {
            "promptTokenCount": 8,
            "candidatesTokenCount": 1219,
            "totalTokenCount": 1471,
            "thoughtsTokenCount": 244,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 8}],
            "serviceTier": "standard",
        },
        "modelVersion": "gemini-3.1-flash-image",
        "responseId": "yzOraue2AfW1_PUPqru3sQY",
    }


def image(data: bytes, mime="image/png", **extra) -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": b64(data)}, **extra}


def test_success_skips_thoughts_and_keeps_every_signature_on_its_part():
    body = reply([
        {"text": "Planning the composition...", "thought": True},
        image(DRAFT, thought=True),
        {"text": "Here is the lighthouse at night.", "thoughtSignature": TEXT_SIG},
        image(FINAL, thoughtSignature=IMAGE_SIG),
    ])

    parsed = parse_reply(encode(body))

    assert parsed.image_data == FINAL
    assert parsed.mime_type == "image/png"
    assert parsed.text == "Here is the lighthouse at night."
    assert parsed.model_turn.role == "model"
    assert parsed.model_turn.parts == (
        ContentPart(text="Here is the lighthouse at night.", thought_signature=TEXT_SIG),
        ContentPart(image_data=FINAL, mime_type="image/png", thought_signature=IMAGE_SIG),
    )
    assert parsed.model_turn.parts[1].thought_signature is not None
    assert len(parsed.model_turn.parts[1].thought_signature) == len(IMAGE_SIG)
    assert parsed.finish_reason == "STOP"
    assert parsed.finish_message == ""
    assert parsed.model_version == "gemini-3.1-flash-image"
    assert parsed.response_id == "yzOraue2AfW1_PUPqru3sQY"
    assert parsed.grounding_metadata is None


def test_usage_fields():
    parsed = parse_reply(encode(reply([image(FINAL)])))

    assert parsed.usage == Usage(prompt_tokens=8, candidates_tokens=1219,
                                 thoughts_tokens=244, total_tokens=1471)


def test_missing_usage_counts_are_zero():
    body = reply([image(FINAL)])
    body["usageMetadata"] = {"promptTokenCount": 9, "totalTokenCount": 9}

    assert parse_reply(encode(body)).usage == Usage(prompt_tokens=9, total_tokens=9)


def test_several_images_last_one_wins_and_all_are_kept():
    body = reply([
        image(FINAL, thoughtSignature="sig1"),
        image(SECOND, "image/jpeg", thoughtSignature="sig2"),
    ])

    parsed = parse_reply(encode(body))

    assert parsed.image_data == SECOND
    assert parsed.mime_type == "image/jpeg"
    assert [p.image_data for p in parsed.model_turn.parts] == [FINAL, SECOND]
    assert [p.thought_signature for p in parsed.model_turn.parts] == ["sig1", "sig2"]


def test_thought_image_is_never_the_result():
    body = reply([image(DRAFT, thought=True), image(FINAL), image(DRAFT, thought=True)])

    parsed = parse_reply(encode(body))

    assert parsed.image_data == FINAL
    assert len(parsed.model_turn.parts) == 1


def test_empty_text_part_with_signature_is_kept_for_replay():
    body = reply([image(FINAL, thoughtSignature="sigA"), {"text": "", "thoughtSignature": "sigB"}])

    parsed = parse_reply(encode(body))

    assert parsed.model_turn.parts[1] == ContentPart(text="", thought_signature="sigB")
    assert parsed.text == ""


def test_grounding_metadata_is_returned():
    grounding = {"webSearchQueries": ["weather Paris today"],
                 "searchEntryPoint": {"renderedContent": "<div>...</div>"}}

    parsed = parse_reply(encode(reply([image(FINAL)], groundingMetadata=grounding)))

    assert parsed.grounding_metadata == grounding


def test_array_wrapped_body_is_accepted():
    parsed = parse_reply(encode([reply([image(FINAL)])]))

    assert parsed.image_data == FINAL


@pytest.mark.parametrize("alphabet", ["urlsafe-padded", "urlsafe-unpadded", "standard-unpadded"])
def test_url_safe_and_unpadded_base64_accepted(alphabet):
    data = SECOND + b"\x00"  # length not a multiple of 3, so padding matters
    encoded = {
        "urlsafe-padded": base64.urlsafe_b64encode(data).decode(),
        "urlsafe-unpadded": base64.urlsafe_b64encode(data).decode().rstrip("="),
        "standard-unpadded": base64.b64encode(data).decode().rstrip("="),
    }[alphabet]
    body = reply([{"inlineData": {"mimeType": "image/jpeg", "data": encoded}}])

    assert parse_reply(encode(body)).image_data == data


@pytest.mark.parametrize("garbage", ["not base64 at all!", "QUJD$RA==", "A", ""])
def test_malformed_base64_is_a_malformed_response(garbage):
    body = reply([{"inlineData": {"mimeType": "image/png", "data": garbage}}])

    with pytest.raises(MalformedResponseError):
        parse_reply(encode(body))


@pytest.mark.parametrize("raw", [b"<html><body>Bad Gateway</body></html>", b"{\"candidates\": [",
                                 b"\xff\xfe\x00", b""])
def test_malformed_json(raw):
    with pytest.raises(MalformedResponseError, match="not JSON"):
        parse_reply(raw)


@pytest.mark.parametrize("raw", [b"[]", b"[1, 2]", b"\"image\"", b"42", b"null"])
def test_json_that_is_not_an_object(raw):
    with pytest.raises(MalformedResponseError, match="not a JSON object"):
        parse_reply(raw)


def test_malformed_message_does_not_carry_a_huge_body():
    with pytest.raises(MalformedResponseError) as caught:
        parse_reply(b"<html>" + b"x" * 100_000)

    assert len(str(caught.value)) < 300


def test_prompt_block_without_candidates():
    body = {
        "promptFeedback": {
            "blockReason": "PROHIBITED_CONTENT",
            "safetyRatings": [{"category": "HARM_CATEGORY_SEXUALLY_EXPLICIT",
                               "probability": "NEGLIGIBLE"}],
        },
        "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
        "modelVersion": "gemini-3-pro-image",
        "responseId": "abc",
    }

    with pytest.raises(ContentPolicyError) as caught:
        parse_reply(encode(body))

    assert caught.value.reason == "PROHIBITED_CONTENT"
    assert "PROHIBITED_CONTENT" in str(caught.value)
    assert caught.value.retryable is False


@pytest.mark.parametrize("reason", sorted(POLICY_FINISH_REASONS))
def test_each_policy_finish_reason_is_a_content_policy_error(reason):
    body = reply(None, finish_reason=reason, finishMessage="The image may violate our policies.")
    body["candidates"][0]["content"] = {}

    with pytest.raises(ContentPolicyError) as caught:
        parse_reply(encode(body))

    assert caught.value.reason == reason
    assert "The image may violate our policies." in str(caught.value)


def test_the_six_policy_finish_reasons():
    assert {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY",
            "IMAGE_PROHIBITED_CONTENT"} == POLICY_FINISH_REASONS


def test_image_safety_without_content_or_message():
    body = {"candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0}]}

    with pytest.raises(ContentPolicyError) as caught:
        parse_reply(encode(body))

    assert caught.value.reason == "IMAGE_SAFETY"


def test_no_image_with_empty_content():
    body = {
        "candidates": [{"content": {}, "finishReason": "NO_IMAGE", "index": 0}],
        "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
        "modelVersion": "gemini-3.1-flash-image-preview",
        "responseId": "yzOraue2AfW1_PUPqru3sQY",
    }

    with pytest.raises(NoImageError) as caught:
        parse_reply(encode(body))

    assert caught.value.finish_reason == "NO_IMAGE"
    assert str(caught.value) == "no image returned (finishReason NO_IMAGE)"


def test_image_other_carries_finish_message():
    message = ("Unable to show the generated image. The model could not generate the image "
               "based on the prompt provided.")
    body = {"candidates": [{"content": {}, "finishReason": "IMAGE_OTHER",
                            "finishMessage": message}]}

    with pytest.raises(NoImageError) as caught:
        parse_reply(encode(body))

    assert str(caught.value) == message
    assert caught.value.finish_reason == "IMAGE_OTHER"


@pytest.mark.parametrize("reason", ["RECITATION", "IMAGE_RECITATION", "MAX_TOKENS", "OTHER"])
def test_other_imageless_finish_reasons_are_no_image(reason):
    body = {"candidates": [{"finishReason": reason}]}

    with pytest.raises(NoImageError) as caught:
        parse_reply(encode(body))

    assert caught.value.finish_reason == reason


def test_text_only_stop_is_no_image_with_the_models_text():
    body = reply([
        {"text": "thinking", "thought": True},
        {"text": "I can't create images of real people in that setting.",
         "thoughtSignature": TEXT_SIG},
    ])

    with pytest.raises(NoImageError) as caught:
        parse_reply(encode(body))

    assert str(caught.value) == "I can't create images of real people in that setting."
    assert caught.value.finish_reason == "STOP"
    assert caught.value.retryable is False


def test_only_thought_images_is_no_image():
    with pytest.raises(NoImageError):
        parse_reply(encode(reply([image(DRAFT, thought=True)])))


def test_no_candidates_and_no_block_reason_is_no_image():
    with pytest.raises(NoImageError):
        parse_reply(encode({"usageMetadata": {"promptTokenCount": 3}, "candidates": []}))


def test_error_object_in_a_200_body_is_mapped_by_its_code():
    body = {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                      "status": "RESOURCE_EXHAUSTED"}}

    with pytest.raises(RateLimitError):
        parse_reply(encode([body]))
