"""Reply bodies shaped like Gemini's, for respx-mocked tests."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import httpx
from PIL import Image

BASE_URL = "https://gemini.test/v1beta"
MODEL = "gemini-nano-banana-2.1"
URL = f"{BASE_URL}/models/{MODEL}:generateContent"
API_KEY = "sk-test-SECRET-0123456789"


def png(width: int, height: int, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def success_body(width: int = 1376, height: int = 768, *, text_sig: str = "c2lnLXRleHQ=",
                 image_sig: str = "c2lnLWltYWdl") -> dict[str, Any]:
    return {
        "candidates": [{
            "content": {"role": "model", "parts": [
                {"text": "thinking about it", "thought": True},
                {"text": "Here you go", "thoughtSignature": text_sig},
                {"inlineData": {"mimeType": "image/png",
                                "data": base64.b64encode(png(width, height)).decode()},
                 "thoughtSignature": image_sig},
            ]},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 1130,
                          "thoughtsTokenCount": 50, "totalTokenCount": 1190},
        "modelVersion": MODEL,
        "responseId": "resp-1",
    }


def ok(**kwargs: Any) -> httpx.Response:
    return httpx.Response(200, json=success_body(**kwargs))


def error(status: int, message: str, rpc_status: str, details: list[dict[str, Any]] | None = None,
          headers: dict[str, str] | None = None) -> httpx.Response:
    err: dict[str, Any] = {"code": status, "message": message, "status": rpc_status}
    if details is not None:
        err["details"] = details
    return httpx.Response(status, content=json.dumps({"error": err}).encode(), headers=headers,
                          )


def rate_limited(retry_delay: str | None = "1.5s", *, per_day: bool = False,
                 headers: dict[str, str] | None = None) -> httpx.Response:
    quota_id = ("GenerateRequestsPerDayPerProjectPerModel" if per_day
                else "GenerateRequestsPerMinutePerProjectPerModel")
    details: list[dict[str, Any]] = [
        {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
         "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_requests",
                         "quotaId": quota_id, "quotaValue": "10"}]},
        {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
    ]
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": retry_delay})
    return error(429, "You exceeded your current quota.", "RESOURCE_EXHAUSTED", details,
                 headers=headers)


class SleepRecorder:
    """Stands in for asyncio.sleep: records each wait, sleeps not at all."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
