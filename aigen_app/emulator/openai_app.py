"""OpenAI's Images endpoints on the emulator: ``POST /v1/images/generations`` (JSON) and
``POST /v1/images/edits`` (multipart), checked against the emulator's own model table.

Order per request, as in the Gemini handler: auth, body, model, parameters, RPM quota,
scripted fault, then the reply; every request is logged once, as soon as its outcome
is known. Wire facts: docs/protocol-openai.md.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .faults import Fault
from .images import Caption, image_size, render_image
from .keys import RUNTIME, STATE
from .openai_errors import (
    INVALID_REQUEST,
    OpenAIError,
    bad_key,
    for_fault,
    invalid_value,
    missing_key,
    model_not_found,
    rate_limited,
    unknown_parameter,
)
from .openai_models import (
    IMAGE_MODELS,
    MAX_EDIT_IMAGES,
    MAX_PROMPT,
    MODERATION,
    OUTPUT_FORMATS,
    ImageModel,
    pixel_size,
    size_problem,
)
from .reply import NOT_AN_IMAGE, abort_connection, pause
from .state import Emulator, LogEntry

_COMMON = frozenset({"model", "prompt", "n", "size", "quality", "output_format",
                     "output_compression", "background", "safety_identifier", "user"})
GENERATION_PARAMS = _COMMON | {"moderation"}
EDIT_PARAMS = _COMMON | {"input_fidelity", "moderation"}
_IMAGE_FIELDS = ("image", "image[]")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/v1/images/generations", generations)
    router.add_post("/v1/images/edits", edits)


@dataclass
class ImagesCall:
    """A request that passed validation."""

    model: ImageModel
    prompt: str
    size: str
    output_format: str
    images: list[bytes] = field(default_factory=list)


class _Exchange:
    def __init__(self, emulator: Emulator, request: web.Request) -> None:
        self.emulator = emulator
        self.seq = emulator.next_seq()
        self.received_at, self.wall_time = time.monotonic(), time.time()
        self.request_id = f"req_{secrets.token_hex(16)}"
        auth = request.headers.get("authorization", "")
        self.key = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
        self.headers = {name.lower(): value for name, value in request.headers.items()
                        if name.lower() != "authorization"}
        self.fields: dict[str, Any] = {}
        self.recorded = False

    def record(self, status: int, outcome: str) -> None:
        if self.recorded:
            return
        self.recorded = True
        size = self.fields.get("size")
        self.emulator.record(LogEntry(
            seq=self.seq, received_at=self.received_at, wall_time=self.wall_time,
            model=str(self.fields.get("model") or ""), status=status, outcome=outcome,
            prompt=str(self.fields.get("prompt") or ""), aspect_ratio=None,
            image_size=size if isinstance(size, str) else None, seed=None,
            api_key_present=bool(self.key), body=self.fields, headers=self.headers,
            response_id=self.request_id, provider="openai",
        ))


async def generations(request: web.Request) -> web.StreamResponse:
    return await _handle(request, edit=False)


async def edits(request: web.Request) -> web.StreamResponse:
    return await _handle(request, edit=True)


async def _handle(request: web.Request, *, edit: bool) -> web.StreamResponse:
    exchange = _Exchange(request.app[STATE], request)
    try:
        return await _answer(request, exchange, edit=edit)
    except Exception:
        exchange.record(500, "emulator_error")
        raise
    finally:
        exchange.record(0, "cancelled")  # still unrecorded only when the client left


async def _answer(request: web.Request, exchange: _Exchange, *,
                  edit: bool) -> web.StreamResponse:
    emulator = request.app[STATE]
    try:
        if not exchange.key:
            raise missing_key()
        if emulator.api_keys is not None and exchange.key not in emulator.api_keys:
            raise bad_key(exchange.key)
        images = await _read_body(request, exchange, edit=edit)
        call = _validate(exchange.fields, images, edit=edit)
        wait, _ = emulator.admit(time.monotonic())
        if wait is not None:
            raise rate_limited(wait, outcome="rpm_limit")
        fault = emulator.next_fault()
        error = for_fault(fault) if fault else None
        if error is not None:
            raise error
    except OpenAIError as error:
        exchange.record(error.status, error.outcome)
        return _json(error.body(exchange.request_id), exchange.request_id, error.status,
                     error.headers)
    return await _reply(request, exchange, call, fault)


async def _read_body(request: web.Request, exchange: _Exchange, *,
                     edit: bool) -> list[bytes]:
    if not edit:
        try:
            body = json.loads(await request.read())
        except ValueError:
            raise OpenAIError(400, "We could not parse the JSON body of your request.",
                              INVALID_REQUEST, None, "invalid_json") from None
        if not isinstance(body, dict):
            raise OpenAIError(400, "The body must be a JSON object.", INVALID_REQUEST, None,
                              "invalid_json")
        exchange.fields = body
        return []
    if not request.content_type.startswith("multipart/"):
        raise OpenAIError(400, "The edits endpoint takes multipart/form-data.",
                          INVALID_REQUEST, None, "invalid_multipart")
    images: list[bytes] = []
    form = await request.post()
    for name, value in form.items():
        if name in _IMAGE_FIELDS and isinstance(value, web.FileField):
            images.append(value.file.read())
        elif isinstance(value, str):
            exchange.fields[name] = value
        else:
            raise unknown_parameter(name)
    exchange.fields["images"] = len(images)  # what the log shows instead of the bytes
    return images


def _validate(fields: dict[str, Any], images: list[bytes], *, edit: bool) -> ImagesCall:
    allowed = EDIT_PARAMS if edit else GENERATION_PARAMS
    for name in fields:
        if name not in allowed and name != "images":
            raise unknown_parameter(name)
    model_name = str(fields.get("model") or "")
    model = IMAGE_MODELS.get(model_name)
    if model is None:
        raise model_not_found(model_name)
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise OpenAIError(400, "Missing required parameter: 'prompt'.", INVALID_REQUEST,
                          "missing_required_parameter", "invalid_value", "prompt")
    if len(prompt) > MAX_PROMPT:
        raise invalid_value(f"Invalid 'prompt': string too long. Expected a string with "
                            f"maximum length {MAX_PROMPT}, but got a string with length "
                            f"{len(prompt)} instead.", "prompt")
    size = str(fields.get("size") or "auto")
    problem = size_problem(model, size)
    if problem is not None:
        raise invalid_value(problem, "size")
    output_format = str(fields.get("output_format") or "png")
    _check_choice("output_format", output_format, frozenset(OUTPUT_FORMATS))
    _check_choice("quality", fields.get("quality"), model.qualities)
    _check_choice("moderation", fields.get("moderation"), MODERATION)
    backgrounds = frozenset({"opaque", "auto"} | ({"transparent"} if model.transparent
                                                   else set()))
    _check_choice("background", fields.get("background"), backgrounds)
    if fields.get("background") == "transparent" and output_format == "jpeg":
        raise invalid_value("Transparent background requires output_format png or webp.",
                            "background")
    _check_choice("input_fidelity", fields.get("input_fidelity"), model.fidelities)
    if edit:
        if not 1 <= len(images) <= MAX_EDIT_IMAGES:
            raise invalid_value(f"Provide between 1 and {MAX_EDIT_IMAGES} images.", "image")
        for number, data in enumerate(images):
            if image_size(data) is None:
                raise invalid_value(f"Invalid image file at index {number}: the file could "
                                    "not be read as png, jpeg or webp.", "image")
    return ImagesCall(model, prompt, size, output_format, images)


def _check_choice(name: str, value: object, allowed: frozenset[str]) -> None:
    if value is None:
        return
    if value not in allowed:
        if not allowed:
            raise unknown_parameter(name)
        supported = ", ".join(f"'{choice}'" for choice in sorted(allowed))
        raise invalid_value(f"Invalid value: '{value}'. Supported values are: {supported}.",
                            name)


async def _reply(request: web.Request, exchange: _Exchange, call: ImagesCall,
                 fault: Fault | None) -> web.StreamResponse:
    emulator, runtime = request.app[STATE], request.app[RUNTIME]
    kind = fault.kind if fault else "ok"
    if kind in ("reset", "hang"):
        exchange.record(0, kind)
        if fault and kind == "hang":
            await pause(runtime.stopping, fault.number("seconds", 3600.0))
        abort_connection(request)
        return web.Response()  # never sent: the transport is gone
    width, height = pixel_size(call.size)
    data: list[dict[str, str]] = []
    if kind not in ("no_image", "image_other", "text_only"):
        mime = OUTPUT_FORMATS[call.output_format]
        # OpenAI takes no seed: the same request draws the same picture.
        caption = Caption(call.prompt, call.model.name, "", call.size, 0)
        image = await asyncio.get_running_loop().run_in_executor(
            runtime.executor, render_image, caption, width, height, mime)
        encoded = base64.b64encode(NOT_AN_IMAGE if kind == "invalid_image" else image).decode()
        if kind == "malformed_base64":
            encoded = "*not base64!* " + encoded[:32]
        data.append({"b64_json": encoded})
    body = {
        "created": int(time.time()), "data": data, "background": "opaque",
        "output_format": call.output_format, "size": f"{width}x{height}", "quality": "medium",
        "usage": {"input_tokens": len(call.prompt) // 4 + 258 * len(call.images),
                  "output_tokens": width * height // 1000,
                  "total_tokens": len(call.prompt) // 4 + 258 * len(call.images)
                  + width * height // 1000,
                  "input_tokens_details": {"text_tokens": len(call.prompt) // 4,
                                           "image_tokens": 258 * len(call.images)}},
    }
    payload = json.dumps(body).encode()
    if kind == "malformed_json":
        payload = payload[: len(payload) // 2]
    exchange.record(200, kind)
    delay = emulator.latency - (time.monotonic() - exchange.received_at)
    if kind == "latency" and fault:
        delay += fault.number("seconds", 1.0)
    await pause(runtime.stopping, delay)
    return _raw(payload, exchange.request_id, 200, {})


def _json(body: Any, request_id: str, status: int,
          headers: dict[str, str]) -> web.Response:
    return _raw(json.dumps(body).encode(), request_id, status, headers)


def _raw(payload: bytes, request_id: str, status: int,
         headers: dict[str, str]) -> web.Response:
    return web.Response(body=payload, status=status, content_type="application/json",
                        headers={"x-request-id": request_id, "openai-version": "2020-10-01",
                                 **headers})
