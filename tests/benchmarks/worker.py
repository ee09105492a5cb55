"""The client side of the benchmarks, one process per client so each one's CPU and memory
are its own: ``python -m tests.benchmarks.worker MODE ...`` prints one JSON line per
result.

- ``serve PEER``: reads JSON commands from stdin (``sequential``, ``concurrent``) so the
  runner can interleave the repetitions of every peer;
- ``rate PEER URL``: offers requests at a fixed pace for a fixed time (B3);
- ``memory PEER URL``: peak RSS growth for one large result (B4);
- ``in-flight URL``: how many calls one process holds open, and its RSS (B7).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .peers import PEERS, Options, Peer

PAGE = resource.getpagesize()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * PAGE


def peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_peak_rss() -> None:
    """Start VmHWM again from the current RSS (Linux: ``clear_refs`` value 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def emit(result: dict[str, Any]) -> None:
    print(json.dumps(result), flush=True)


def make_peer(name: str, url: str, options: Options | None = None) -> Peer:
    return PEERS[name](url, options)


# -- serve: B1 and B2 on command ------------------------------------------------------

class Server:
    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.open: dict[str, Any] = {}  # url -> (peer, generate), kept warm across reps

    async def sequential(self, url: str, calls: int, warmup: int = 3) -> dict[str, Any]:
        if url not in self.open:
            peer = make_peer(self.peer, url)
            self.open[url] = (peer, await peer.open())
            for _ in range(warmup):
                await self.open[url][1]()
        generate = self.open[url][1]
        cpu, wall = cpu_seconds(), time.perf_counter()
        for _ in range(calls):
            await generate()
        cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
        return {"cpu_ms": cpu / calls * 1000, "wall_ms": wall / calls * 1000}

    async def concurrent(self, url: str, calls: int) -> dict[str, Any]:
        # A fresh client each time: 256 callers arriving together open 256 connections.
        peer = make_peer(self.peer, url)
        generate = await peer.open()
        await generate()  # imports, lazy set-up, one connection
        cpu, wall = cpu_seconds(), time.perf_counter()
        results = await asyncio.gather(*(generate() for _ in range(calls)),
                                       return_exceptions=True)
        cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
        await peer.close()
        errors = Counter(type(r).__name__ for r in results if isinstance(r, BaseException))
        return {"wall_s": wall, "cpu_s": cpu, "errors": dict(errors)}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        emit({"ready": True})
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            command = json.loads(line)
            op = command.pop("op")
            if op == "quit":
                break
            emit(await getattr(self, op)(**command))
        for peer, _ in self.open.values():
            await peer.close()


# -- rate: B3 -------------------------------------------------------------------------

async def offer_load(peer: Peer, seconds: float, per_minute: float) -> None:
    """Submit at a steady ``per_minute`` pace for ``seconds`` from the start time (wall
    clock, the same for every process) read from stdin once every process is ready;
    whatever is still running at the end is cancelled."""
    generate = await peer.open()
    outcomes: Counter[str] = Counter()
    emit({"ready": True})
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    start_at = float(line)

    async def one() -> None:
        try:
            await generate()
            outcomes["ok"] += 1
        except Exception as exc:  # the SDK's and ours differ; only the kind is counted
            outcomes[type(exc).__name__] += 1

    await asyncio.sleep(max(0.0, start_at - time.time()))
    tasks: list[asyncio.Task[None]] = []
    interval, n = 60.0 / per_minute, 0
    while (due := start_at + n * interval) < start_at + seconds:
        await asyncio.sleep(max(0.0, due - time.time()))
        tasks.append(asyncio.create_task(one()))
        n += 1
    await asyncio.sleep(max(0.0, start_at + seconds - time.time()))
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await peer.close()
    emit({"submitted": n, "outcomes": dict(outcomes), "unfinished": len(pending)})


# -- memory: B4 -----------------------------------------------------------------------

async def one_large_result(peer: Peer, warm: Peer) -> None:
    generate_small = await warm.open()
    await generate_small()  # imports and lazy set-up happen before the baseline
    await warm.close()
    generate = await peer.open()
    reset_peak_rss()
    before = rss_bytes()
    image = await generate()
    peak = peak_rss_bytes()
    await peer.close()
    emit({"growth": peak - before, "before": before, "image_bytes": len(image)})


# -- in-flight: B7 --------------------------------------------------------------------

def in_flight(url: str, calls: int, mode: str) -> None:
    """``calls`` generations at once in this process: asyncio tasks, or threads calling
    the blocking ``generate_sync``. Reports the RSS while they wait and at the peak."""
    from aigen_app.client import AIGenerationClient, GenerationRequest

    from .peers import API_KEY, MODEL, PROMPT, SEED

    client = AIGenerationClient(api_key=API_KEY, model=MODEL, base_url=url)
    request = GenerationRequest(PROMPT, 1024, 1024, seed=SEED)
    done: list[float] = []
    samples: list[tuple[float, int]] = []  # (seconds since the start, RSS)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.25):
            samples.append((time.perf_counter() - started, rss_bytes()))

    baseline = rss_bytes()
    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    if mode == "async":

        async def main() -> None:
            async def one() -> None:
                await client.generate(request)
                done.append(time.perf_counter() - started)

            await asyncio.gather(*(one() for _ in range(calls)))
            await client.close()

        asyncio.run(main())
    else:

        def one() -> None:
            client.generate_sync(request)  # type: ignore[attr-defined]
            done.append(time.perf_counter() - started)

        threads = [threading.Thread(target=one) for _ in range(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    stop.set()
    sampler.join()
    # While every call waits: after the last one was sent, before the first reply lands.
    waiting = [rss for at, rss in samples if at < min(done) - 0.25] or [baseline]
    emit({"completed": len(done), "first_done_s": min(done), "last_done_s": max(done),
          "baseline": baseline, "rss_waiting": max(waiting), "rss_peak": peak_rss_bytes()})


def make_limiter(args: argparse.Namespace) -> Any:
    """The limiter a site of ``args.processes`` processes would configure."""
    if args.limiter == "local":  # AIGEN REQUESTS_PER_MINUTE, split by hand
        from aigen_app.client import LocalRateLimiter

        return LocalRateLimiter(requests_per_minute=args.quota // args.processes)
    # AIGEN LIMITER_CACHE naming a Redis cache, REQUESTS_PER_MINUTE the whole quota.
    from django.conf import settings

    settings.configure(CACHES={"limiter": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": args.redis,
    }})
    from aigen_app.shared_limiter import SharedRateLimiter  # type: ignore[import-not-found]

    return SharedRateLimiter("limiter", requests_per_minute=args.quota,
                             key_prefix=args.key_prefix)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.worker")
    sub = parser.add_subparsers(dest="mode", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("peer", choices=PEERS)
    rate = sub.add_parser("rate")
    rate.add_argument("peer", choices=PEERS)
    rate.add_argument("url")
    rate.add_argument("--seconds", type=float, required=True)
    rate.add_argument("--per-minute", type=float, required=True)
    rate.add_argument("--limiter", choices=("none", "local", "shared"), default="none",
                      help="ours: no limiter; LocalRateLimiter with this process's share "
                      "of the quota; SharedRateLimiter with the whole quota in Redis")
    rate.add_argument("--quota", type=int, default=0, help="the server's requests/minute")
    rate.add_argument("--processes", type=int, default=1)
    rate.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    rate.add_argument("--key-prefix", default="aigen-bench")
    memory = sub.add_parser("memory")
    memory.add_argument("peer", choices=PEERS)
    memory.add_argument("url")
    memory.add_argument("--size", type=int, default=4096)
    flight = sub.add_parser("in-flight")
    flight.add_argument("url")
    flight.add_argument("--calls", type=int, default=256)
    flight.add_argument("--mode", choices=("async", "threads"), default="async")
    args = parser.parse_args(argv)
    # Failures are counted and reported; the clients' own warnings would only be noise.
    logging.getLogger("aigen").addHandler(logging.NullHandler())
    logging.getLogger("aigen").propagate = False

    if args.mode == "serve":
        asyncio.run(Server(args.peer).run())
    elif args.mode == "rate":
        options = Options(retries=True)
        if args.limiter != "none":
            options.client_kwargs["limiter"] = make_limiter(args)
        peer = make_peer(args.peer, args.url, options)
        asyncio.run(offer_load(peer, args.seconds, args.per_minute))
    elif args.mode == "memory":
        asyncio.run(one_large_result(make_peer(args.peer, args.url, Options(size=args.size)),
                                     make_peer(args.peer, args.url)))
    else:
        in_flight(args.url, args.calls, args.mode)


if __name__ == "__main__":
    main()
