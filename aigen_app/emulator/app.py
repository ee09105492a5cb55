"""The aiohttp application: Gemini's generateContent route (OpenAI's Images routes are in
``openai_app``) and the order real checks run in.

Order per request: auth, model, body validation, RPM quota, scripted fault, fault rate,
then the reply. Every request ends up in the log exactly once, recorded as soon as its
outcome is known so a client that got an answer always finds its entry.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from . import control, openai_app
from .errors import (
    ApiError,
    bad_key,
    for_fault,
    format_duration,
    invalid_argument,
    missing_key,
    model_not_found,
    rate_limited,
)
from .gemini_models import GEMINI_MODELS
from .keys import RUNTIME, STATE
from .reply import Runtime, reply
from .request import parse_json, summarize, validate
from .state import Emulator, LogEntry
from .wire import json_response

# Requests carry up to 100 MB of base64 images (docs/protocol-gemini.md#limits); leave
# room for the JSON.
MAX_BODY = 120 * 1024 * 1024
_SECRET_HEADERS = frozenset({"x-goog-api-key", "authorization"})




def build_app(emulator: Emulator, runtime: Runtime) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[STATE] = emulator
    app[RUNTIME] = runtime
    app.router.add_post("/v1beta/models/{tail}", generate)
    openai_app.add_routes(app.router)
    control.add_routes(app.router, emulator)
    return app


class _Exchange:
    """One request's log entry in the making."""

    def __init__(self, emulator: Emulator, request: web.Request) -> None:
        self.emulator = emulator
        self.seq = emulator.next_seq()
        self.received_at, self.wall_time = time.monotonic(), time.time()
        self.model, _, self.method = request.match_info["tail"].partition(":")
        self.key = request.headers.get("x-goog-api-key") or request.query.get("key") or ""
        self.headers = {name.lower(): value for name, value in request.headers.items()
                        if name.lower() not in _SECRET_HEADERS}
        self.body: dict[str, Any] = {}
        self.recorded = False

    def record(self, status: int, outcome: str, response_id: str = "") -> None:
        if self.recorded:
            return
        self.recorded = True
        summary = summarize(self.body)
        self.emulator.record(LogEntry(
            seq=self.seq, received_at=self.received_at, wall_time=self.wall_time,
            model=self.model, status=status, outcome=outcome, prompt=summary.prompt,
            aspect_ratio=summary.aspect_ratio, image_size=summary.image_size,
            seed=summary.seed, api_key_present=bool(self.key), body=self.body,
            headers=self.headers, response_id=response_id,
        ))


async def generate(request: web.Request) -> web.StreamResponse:
    exchange = _Exchange(request.app[STATE], request)
    try:
        return await _generate(request, exchange)
    except Exception:
        exchange.record(500, "emulator_error")  # a bug here; aiohttp answers 500
        raise
    finally:
        # Still unrecorded only when the client left first (the handler was cancelled).
        exchange.record(0, "cancelled")


async def _generate(request: web.Request, exchange: _Exchange) -> web.StreamResponse:
    emulator, runtime = request.app[STATE], request.app[RUNTIME]
    loop = asyncio.get_running_loop()
    try:
        if exchange.method != "generateContent":
            raise ApiError(404, "NOT_FOUND", f"Method {exchange.method!r} is not supported "
                           "by the emulator.", "not_found")
        if not exchange.key:
            raise missing_key()
        if emulator.api_keys is not None and exchange.key not in emulator.api_keys:
            raise bad_key()
        spec = GEMINI_MODELS.get(exchange.model)
        if spec is None:
            raise model_not_found(exchange.model)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise invalid_argument(
                f"Request payload size exceeds the limit: {MAX_BODY} bytes."
            ) from None
        exchange.body = await loop.run_in_executor(runtime.executor, parse_json, raw)
        call = await loop.run_in_executor(
            runtime.executor, validate, spec, exchange.body, emulator.signatures
        )
        wait, rpm = emulator.admit(time.monotonic())
        if wait is not None:
            raise rate_limited(exchange.model, retry_delay=format_duration(wait),
                               retry_in=f"{wait:.9f}s", quota_value=str(rpm),
                               outcome="rpm_limit")
        fault = emulator.next_fault()
        error = for_fault(fault, exchange.model) if fault else None
        if error is not None:
            raise error
    except ApiError as error:
        exchange.record(error.status, error.outcome)
        return json_response(error.body(), error.status, error.headers)
    return await reply(request, emulator, runtime, call, fault, exchange.record,
                       exchange.received_at)
