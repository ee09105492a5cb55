"""A process that uses the app's limiter or client the way a worker does, for the tests
that need several processes: ``python -m tests.workers.probe COMMAND [options]``.

Settings come from ``tests.support.worker_settings`` (the overrides in
``AIGEN_TEST_SETTINGS``). Each command prints one JSON object on stdout.

- ``slots``: take ``--count`` limiter slots for ``--model`` one after another, holding
  each ``--hold`` seconds, from the start time; print their start/end times and the
  start the limiter scheduled for each (``tests.support.plans``).
- ``hold``: take the only in-flight slot of the ``limiter`` cache (lease ``--seconds``),
  print ``{"held": true}``, then hold it until killed.
- ``cooldown``: tell the limiter the model must pause ``--seconds``.
- ``generate``: one ``generate`` call through the client factory's client, at the start time
  plus ``--after`` seconds; print its outcome.

``slots`` and ``generate`` first print ``{"ready": <time>}``, then read the start time
(seconds since the epoch) from stdin, so a test can start every process together.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import django


def main(argv: list[str]) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.support.worker_settings"
    django.setup()
    parser = argparse.ArgumentParser(prog="probe")
    parser.add_argument("command", choices=["slots", "hold", "cooldown", "generate"])
    parser.add_argument("--model", default="gemini-nano-banana-2.1")
    parser.add_argument("--after", type=float, default=0.0)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--hold", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=0.0)
    parser.add_argument("--prompt", default="A probe")
    args = parser.parse_args(argv)
    result = asyncio.run(COMMANDS[args.command](args))
    print(json.dumps(result), flush=True)


def start_time() -> float:
    """Say we are ready, then read when to start from stdin."""
    print(json.dumps({"ready": time.time()}), flush=True)
    return float(sys.stdin.readline())


async def slots(args: argparse.Namespace) -> dict[str, Any]:
    from aigen_app.client_factory import build_limiter
    from aigen_app.shared_limiter import SharedRateLimiter
    from tests.support.plans import record_plans

    limiter = build_limiter()
    assert isinstance(limiter, SharedRateLimiter)
    plans = record_plans(limiter)
    await asyncio.sleep(max(0.0, start_time() - time.time()))
    spans = []
    for _ in range(args.count):
        async with limiter.slot(args.model):
            started = time.time()
            await asyncio.sleep(args.hold)
            spans.append((started, time.time(), *plans.get(asyncio.current_task(), ())))
    return {"pid": os.getpid(), "spans": spans}


async def hold(args: argparse.Namespace) -> dict[str, Any]:
    from aigen_app.shared_limiter import SharedRateLimiter

    limiter = SharedRateLimiter("limiter", max_in_flight=1, lease=args.seconds)
    async with limiter.slot(args.model):
        print(json.dumps({"held": True}), flush=True)
        await asyncio.sleep(3600)
    return {}


async def cooldown(args: argparse.Namespace) -> dict[str, Any]:
    from aigen_app.client_factory import build_limiter

    limiter = build_limiter()
    assert limiter is not None
    limiter.cooldown(args.model, args.seconds)
    return {"at": time.time()}


async def generate(args: argparse.Namespace) -> dict[str, Any]:
    from aigen_app.client import GenerationError, GenerationRequest
    from aigen_app.client_factory import build_client

    client = build_client()
    await asyncio.sleep(max(0.0, start_time() + args.after - time.time()))
    started = time.time()
    try:
        async with client:
            response = await client.generate(GenerationRequest(args.prompt, 256, 256))
    except GenerationError as exc:
        return {"error": exc.code, "started": started, "ended": time.time()}
    return {"attempts": response.attempts, "started": started, "ended": time.time()}


COMMANDS = {"slots": slots, "hold": hold, "cooldown": cooldown, "generate": generate}

if __name__ == "__main__":
    main(sys.argv[1:])
