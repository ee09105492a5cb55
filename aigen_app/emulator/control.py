"""``/_emulator/*``: the control API over HTTP, for an emulator in another process.

Mirrors the Python API of ``Emulator`` one to one; invalid input gets a 400 with the
same message the Python API would raise.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .state import Emulator

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_routes(router: web.UrlDispatcher, emulator: Emulator) -> None:
    router.add_post("/_emulator/faults", _guard(emulator, _inject))
    router.add_post("/_emulator/fault-rates", _guard(emulator, _fault_rates))
    router.add_post("/_emulator/config", _guard(emulator, _config))
    router.add_post("/_emulator/reset", _guard(emulator, _reset))
    router.add_get("/_emulator/log", _guard(emulator, _log))
    router.add_get("/_emulator/state", _guard(emulator, _state))


def _guard(
    emulator: Emulator,
    action: Callable[[Emulator, web.Request, Any], Any],
) -> _Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        payload: Any = None
        if request.method == "POST" and request.can_read_body:
            try:
                payload = json.loads(await request.read())
            except ValueError:
                return _error("body is not JSON")
        try:
            result = action(emulator, request, payload)
        except (ValueError, TypeError) as exc:
            return _error(str(exc))
        return web.json_response(result if result is not None else {"ok": True})

    return handler


def _error(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ValueError("expected a JSON object")
    return payload


def _inject(emulator: Emulator, request: web.Request, payload: Any) -> None:
    params = dict(_object(payload))
    kind = params.pop("kind", None)
    if not isinstance(kind, str):
        raise ValueError('"kind" is required')
    emulator.inject(kind, params.pop("times", 1), **params)


def _fault_rates(emulator: Emulator, request: web.Request, payload: Any) -> None:
    emulator.set_fault_rates(_object(payload))


def _config(emulator: Emulator, request: web.Request, payload: Any) -> dict[str, Any]:
    config = _object(payload)
    unknown = set(config) - {"rpm", "latency", "seed"}
    if unknown:
        raise ValueError(f"unknown config keys {sorted(unknown)}")
    # Present-but-null means "no limit" for rpm; absent keys stay as they are.
    if "rpm" in config:
        emulator.set_rpm(config["rpm"])
    if "latency" in config:
        emulator.set_latency(config["latency"])
    if "seed" in config:
        emulator.seed(config["seed"])
    return _state(emulator, request, None)


def _reset(emulator: Emulator, request: web.Request, payload: Any) -> None:
    emulator.clear()


def _log(emulator: Emulator, request: web.Request, payload: Any) -> list[dict[str, Any]]:
    with_body = request.query.get("bodies") in ("1", "true", "yes")
    return [entry.to_json(with_body=with_body) for entry in emulator.requests()]


def _state(emulator: Emulator, request: web.Request, payload: Any) -> dict[str, Any]:
    return {
        "rpm": emulator.rpm,
        "latency": emulator.latency,
        "fault_rates": emulator.fault_rates(),
        "pending_faults": [
            {"kind": fault.kind, "times": remaining, **fault.params}
            for fault, remaining in emulator.pending_faults()
        ],
    }
