"""Encoding details shared by the request parser and the response builders."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aiohttp import web

# What a live 200 carried (docs/protocol-gemini.md#endpoint); clients must not depend on
# them, but may log them.
RESPONSE_HEADERS = {
    "x-gemini-service-tier": "standard",
    "server": "scaffolding on HTTPServer2",
}


def decode_base64(data: str) -> bytes | None:
    """Bytes of a proto3-JSON bytes field: standard or URL-safe alphabet, padded or not.

    Returns None for anything else (mixed alphabets, stray characters, bad length).
    """
    text = data.strip()
    urlsafe = "-" in text or "_" in text
    if urlsafe and ("+" in text or "/" in text):
        return None
    text = text.rstrip("=")
    if len(text) % 4 == 1:
        return None
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, altchars=b"-_" if urlsafe else None, validate=True)
    except (binascii.Error, ValueError):
        return None


def encode_base64(data: bytes) -> str:
    """The server side emits standard padded base64, as the proto3 JSON mapping does."""
    return base64.b64encode(data).decode("ascii")


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return raw_json_response(json.dumps(body).encode("utf-8"), status, headers)


def raw_json_response(
    payload: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # Google sends "charset=UTF-8"; aiohttp's json_response would say "utf-8".
    response = web.Response(body=payload, status=status, headers={**RESPONSE_HEADERS,
                                                                  **(headers or {})})
    response.headers["Content-Type"] = "application/json; charset=UTF-8"
    return response
