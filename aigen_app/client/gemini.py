"""The Gemini wire format as pure functions: build the request body, parse the 200
reply, map error replies to the client's exception tree. No I/O, no Django, no httpx.

Split by direction (``gemini_request``, ``gemini_reply``, ``gemini_errors``); import
from here.
"""

from __future__ import annotations

from .gemini_errors import error_from_reply, parse_duration, parse_retry_after
from .gemini_reply import (
    POLICY_FINISH_REASONS,
    ParsedReply,
    decode_base64,
    load_reply,
    parse_reply,
    reply_from_json,
)
from .gemini_request import DEFAULT_SYSTEM_INSTRUCTION, build_payload, encode_payload

__all__ = [
    "DEFAULT_SYSTEM_INSTRUCTION",
    "POLICY_FINISH_REASONS",
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
