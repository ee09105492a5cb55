"""Reply bodies shaped like OpenAI's Images API, for respx-mocked tests."""

from __future__ import annotations

import base64
import email.parser
import json
from typing import Any

import httpx

from .helpers import png

OPENAI_BASE_URL = "https://openai.test/v1"
GENERATIONS_URL = f"{OPENAI_BASE_URL}/images/generations"
EDITS_URL = f"{OPENAI_BASE_URL}/images/edits"
OPENAI_KEY = "sk-proj-TESTKEY-abcdefghijklmnop-WXYZ"


def image_reply(width: int = 1280, height: int = 720, *, output_format: str = "png",
                request_id: str = "req_123", data: list[Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {
        "created": 1_790_000_000,
        "data": data if data is not None else [
            {"b64_json": base64.b64encode(png(width, height)).decode()}],
        "output_format": output_format, "size": f"{width}x{height}", "quality": "medium",
        "usage": {"input_tokens": 50, "output_tokens": 1056, "total_tokens": 1106,
                  "input_tokens_details": {"text_tokens": 50, "image_tokens": 0}},
    }
    return httpx.Response(200, json=body, headers={"x-request-id": request_id})


def openai_error(status: int, code: str | None, message: str, kind: str = "invalid_request_error",
                 headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return httpx.Response(status, content=json.dumps(body).encode(),
                          headers={"x-request-id": "req_err", **(headers or {})})


def form_parts(request: httpx.Request) -> list[tuple[str, bytes, str | None]]:
    """(field name, content, filename) of each part of a multipart request."""
    raw = b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n"
    message = email.parser.BytesParser().parsebytes(raw + request.content)
    parts: list[tuple[str, bytes, str | None]] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        parts.append((str(name), payload, part.get_filename()))
    return parts


def form_fields(request: httpx.Request) -> dict[str, str]:
    return {name: content.decode() for name, content, filename in form_parts(request)
            if filename is None}
