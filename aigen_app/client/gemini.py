"""The Gemini wire format: pure functions to build the request body, parse the 200
reply and map error replies to the client's exception tree, and ``GeminiProvider``,
which puts them behind the client's ``Provider`` interface. No I/O, no Django, no httpx.

Split by direction (``gemini_request``, ``gemini_reply``, ``gemini_errors``); import
from here. Wire facts: docs/protocol-gemini.md.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, ClassVar

from .catalog import check_model_options, choose_tier, get_model_spec, nearest_ratio
from .errors import GenerationError
from .gemini_errors import error_from_reply, parse_duration, parse_retry_after
from .gemini_reply import (
    POLICY_FINISH_REASONS,
    decode_base64,
    load_reply,
    parse_reply,
    reply_from_json,
)
from .gemini_request import DEFAULT_SYSTEM_INSTRUCTION, build_payload, encode_payload
from .provider import ParsedReply, Provider, WireRequest
from .types import GenerationRequest

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_SYSTEM_INSTRUCTION",
    "POLICY_FINISH_REASONS",
    "GeminiProvider",
    "ParsedReply",
    "build_payload",
    "decode_base64",
    "encode_payload",
    "error_from_reply",
    "load_reply",
    "parse_duration",
    "parse_reply",
    "parse_retry_after",
    "reply_from_json",
]

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com/v1beta"


class GeminiProvider(Provider):
    """``models/{model}:generateContent``: ratio and size tier, seed, system instruction,
    safety settings and grounding; blocks arrive as 200s (see ``gemini_reply``)."""

    name: ClassVar[str] = "gemini"
    label: ClassVar[str] = "Gemini"
    default_base_url: ClassVar[str] = DEFAULT_BASE_URL
    key_env_vars: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    def __init__(self, *, system_instruction: str | None = DEFAULT_SYSTEM_INSTRUCTION,
                 safety_settings: list[dict[str, str]] | None = None) -> None:
        self.system_instruction = system_instruction
        self.safety_settings = safety_settings

    def auth_headers(self, api_key: str) -> tuple[tuple[str, str], ...]:
        return (("x-goog-api-key", api_key),)

    def prepare(self, request: GenerationRequest, model: str) -> WireRequest:
        spec = get_model_spec(model)
        check_model_options(model, request.options, has_inputs=False)
        ratio = nearest_ratio(spec, request.width, request.height)
        tier = choose_tier(spec, ratio, request.width, request.height)
        seed = request.seed if request.seed is not None else secrets.randbelow(2**31)
        payload = build_payload(
            request, spec, seed=seed, aspect_ratio=ratio, image_size=tier,
            system_instruction=self.system_instruction, safety_settings=self.safety_settings,
        )
        return WireRequest(
            path=f"/models/{model}:generateContent", body=encode_payload(payload),
            content_type="application/json", seed=seed, aspect_ratio=ratio, image_size=tier,
            log_fields={"ratio": ratio, "size": tier},
        )

    def decode(self, body: bytes) -> Any:
        return load_reply(body)

    def reply_from(self, decoded: Any, headers: Mapping[str, str]) -> ParsedReply:
        return reply_from_json(decoded)

    def error_from_reply(self, status: int, headers: Mapping[str, str],
                         body: bytes) -> GenerationError:
        return error_from_reply(status, headers, body)
