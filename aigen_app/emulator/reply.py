"""Answering an admitted request: the image, or the fault scripted for it.

Each reply records its log entry (through ``record``) before any deliberate delay, so
the entry exists by the time the client sees the answer.

The configured latency runs from the request's arrival, as the real API's does: the
emulator's own work (validating, drawing, encoding the reply) happens inside it, not
after it, so 256 requests arriving together are all answered about ``latency`` later
instead of queueing their encoding behind one another on the emulator's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import random
import secrets
import socket
import struct
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .faults import Fault
from .images import Caption, render_image
from .request import GenerateCall
from .responses import (
    image_body,
    new_response_id,
    no_image_body,
    prompt_blocked_body,
    text_only_body,
)
from .state import Emulator
from .wire import encode_base64, raw_json_response

NOT_AN_IMAGE = b"This is not an image, whatever the mimeType says."
# Where a body's image goes until its base64 is spliced into the encoded reply; random,
# so no prompt can contain it.
_INLINE_MARK = f"inline-image-{secrets.token_hex(16)}"
Record = Callable[[int, str, str], None]  # (HTTP status or 0, outcome, response id)


@dataclass
class Runtime:
    """Per-server resources the handlers need besides the state."""

    stopping: asyncio.Event  # set on shutdown: hangs and delays end at once
    executor: ThreadPoolExecutor  # rendering and validation, off the event loop


async def reply(request: web.Request, emulator: Emulator, runtime: Runtime,
                call: GenerateCall, fault: Fault | None, record: Record,
                arrived: float) -> web.StreamResponse:
    """``arrived``: ``time.monotonic()`` when the request came in."""
    kind = fault.kind if fault else "ok"
    if kind in ("reset", "hang"):
        record(0, kind, "")
        if fault and kind == "hang":
            await pause(runtime.stopping, fault.number("seconds", 3600.0))
        abort_connection(request)
        return web.Response()  # never sent: the transport is gone
    response_id = new_response_id()
    body, inline = await _body(emulator, runtime, call, fault, response_id)
    payload = json.dumps(body).encode("utf-8")
    del body  # the payload is all the reply needs while it waits
    if inline is not None:
        # Base64 needs no JSON escaping: splicing it in spares json.dumps a scan of the
        # whole image, and the str round trip (1.4 MB for a 1 MB image).
        payload = payload.replace(_INLINE_MARK.encode("ascii"), inline, 1)
    if kind == "malformed_json":
        payload = payload[: len(payload) // 2]
    record(200, kind, response_id)
    delay = emulator.latency - (time.monotonic() - arrived)
    if kind == "latency" and fault:
        delay += fault.number("seconds", 1.0)
    await pause(runtime.stopping, delay)
    return raw_json_response(payload)


async def _body(emulator: Emulator, runtime: Runtime, call: GenerateCall,
                fault: Fault | None,
                response_id: str) -> tuple[dict[str, Any], bytes | None]:
    """The 200 body: an image unless the fault says otherwise. With an image, its base64
    is returned beside the body, which holds ``_INLINE_MARK`` in its place."""
    registry = emulator.signatures
    kind = fault.kind if fault else "ok"
    if fault and kind == "block_prompt":
        return prompt_blocked_body(call, response_id, fault.text("reason", "SAFETY")), None
    if fault and kind == "block_image":
        return no_image_body(call, response_id, fault.text("reason", "IMAGE_SAFETY"),
                             fault.params.get("message")), None
    if fault and kind in ("no_image", "image_other"):
        return no_image_body(call, response_id, kind.upper(),
                             fault.params.get("message")), None
    if fault and kind == "text_only":
        return text_only_body(call, response_id, registry, fault.params.get("message")), None
    width, height = call.spec.native_size(call.ratio, call.tier)
    seed = call.seed if call.seed is not None else random.randrange(2**31)  # noqa: S311
    caption = Caption(call.prompt, call.model, call.ratio, call.tier, seed)
    image = await asyncio.get_running_loop().run_in_executor(
        runtime.executor, render_image, caption, width, height, emulator.image_mime
    )
    if kind == "malformed_base64":
        data = "*not base64!* " + encode_base64(image[:24])
        return image_body(call, response_id, registry, mime_type=emulator.image_mime,
                          data=data, signed_content=data.encode()), None
    if kind == "invalid_image":
        image = NOT_AN_IMAGE
    inline = base64.b64encode(image)
    return image_body(call, response_id, registry, mime_type=emulator.image_mime,
                      data=_INLINE_MARK, signed_content=image), inline


async def pause(stopping: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake up as soon as the server stops so shutdown never waits on us."""
    if seconds <= 0:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)


def abort_connection(request: web.Request) -> None:
    """Drop the connection with a TCP RST (SO_LINGER 0), like a crashed front end."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # OSError: the peer is already gone; abort() below is all that is left to do.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
