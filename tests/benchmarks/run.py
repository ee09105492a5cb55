"""Run every benchmark and print one table: ``python -m tests.benchmarks [--quick]``.

The emulator runs in processes of its own, and so does each client, so no one's CPU or
memory is charged to another. Figures only: nothing here asserts a time. The targets
the issue sets for our client are checked and printed below the table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import httpx

from .emulator import ROOT, EmulatorProcess
from .figures import OURS, Row, Table
from .peers import API_KEY, MODEL, OPENAI_MODEL, OPENAI_PEERS, PEERS, RawAiohttp, _body

FLOOR = RawAiohttp.name
GRAIN = 3.0  # one noisy channel: a 1K PNG of ~1 MB, like a photograph's
MB = 1024 * 1024


@dataclass
class Plan:
    reps: int = 3
    b1_calls: int = 200
    b2_calls: int = 256
    b2_latency: float = 1.0
    b3_rpm: int = 120
    b3_seconds: float = 75.0  # past the first 60 s window, so the second one shows
    b4_size: int = 4096
    b4_reps: int = 2
    b5_calls: int = 50
    b6_sizes: tuple[int, ...] = (10_000, 100_000)
    b6_requests: int = 30
    b7_calls: int = 256
    b7_latency: float = 30.0
    # B8: generations through 2 worker processes on PostgreSQL; db_worker runs one at a
    # time per process, so it gets a reduced count and its throughput is extrapolated.
    b8_generations: int = 1000
    b8_latency: float = 30.0
    b8_concurrency: int = 256
    b8_db_worker_generations: int = 6

    @classmethod
    def quick(cls) -> Plan:
        return cls(reps=2, b1_calls=20, b2_calls=64, b2_latency=0.5, b3_rpm=60,
                   b3_seconds=6.0, b4_size=1024, b4_reps=1, b5_calls=5, b6_sizes=(200, 1000),
                   b6_requests=5, b7_calls=32, b7_latency=2.0, b8_generations=24,
                   b8_latency=1.0, b8_concurrency=16, b8_db_worker_generations=4)


def available_peers() -> list[str]:
    """Our client and raw httpx always; the SDK's transports where installed."""
    peers = [OURS, "raw httpx"]
    # find_spec of a submodule raises when its parent package is missing.
    if importlib.util.find_spec("google") is not None and (
            importlib.util.find_spec("google.genai") is not None):
        peers.append("google-genai/aiohttp")
        if importlib.util.find_spec("httpx2") is not None:
            peers.append("google-genai/httpx2")
        peers.append("google-genai/httpx")
    return [*peers, FLOOR]


def available_openai_peers() -> list[str]:
    """The OpenAI path's clients: ours and raw httpx always, the official SDK if installed."""
    peers = [name for name in OPENAI_PEERS if name != "openai"]
    if importlib.util.find_spec("openai") is not None:
        peers.append("openai")
    return peers


def python(*args: str, stdin: bool = False) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and modules
        [sys.executable, "-m", *args], cwd=ROOT, text=True, stdout=subprocess.PIPE,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
    )


def result_of(process: subprocess.Popen[str]) -> dict[str, Any]:
    """The last JSON line a one-shot worker printed."""
    out, _ = process.communicate(timeout=600)
    if process.returncode != 0:
        raise RuntimeError(f"{process.args} exited with {process.returncode}")
    return dict(json.loads(out.strip().splitlines()[-1]))


class PeerProcess:
    """A ``worker serve PEER`` process, driven one command at a time."""

    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.process = python("tests.benchmarks.worker", "serve", peer, stdin=True)
        self._read()  # {"ready": true}

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.peer} worker died")
        return dict(json.loads(line))

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        with suppress(RuntimeError, BrokenPipeError, ValueError):
            self.ask(op="quit")
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


@contextmanager
def peer_processes(peers: list[str]) -> Iterator[dict[str, PeerProcess]]:
    started: dict[str, PeerProcess] = {}
    try:
        for peer in peers:
            started[peer] = PeerProcess(peer)
        yield started
    finally:
        for process in started.values():
            process.close()


# -- B1, B2 ---------------------------------------------------------------------------

def b1_b2(table: Table, plan: Plan, peers: list[str], log: Callable[[str], None],
          only: set[str], *, openai: bool = False) -> None:
    """B1 and B2 for Gemini's peers, or (``openai``) for the OpenAI path's, whose rows
    are labelled "B1 OpenAI" and "B2 OpenAI"."""
    suffix = " OpenAI" if openai else ""
    with ExitStack() as stack:
        big = stack.enter_context(EmulatorProcess(grain=GRAIN))
        slow = stack.enter_context(EmulatorProcess(latency=plan.b2_latency))
        workers = stack.enter_context(peer_processes(peers))
        if openai:
            reply = httpx.post(
                f"{big.root_url}/v1/images/generations", timeout=60,
                json={"model": OPENAI_MODEL, "prompt": "x", "size": "1024x1024"},
                headers={"authorization": f"Bearer {API_KEY}"})
        else:
            reply = httpx.post(f"{big.base_url}/models/{MODEL}:generateContent",
                               json=_body(1024), headers={"x-goog-api-key": API_KEY},
                               timeout=60)
        image_kb = len(reply.content) / 1024
        if "B1" in only:
            b1(table, plan, workers, big.base_url, image_kb, log, bench="B1" + suffix)
        if "B2" in only:
            b2(table, plan, workers, slow.base_url, log, bench="B2" + suffix)


def _client(peer: str) -> str:
    """The row label of a peer: ours on either path is "ours" (the ratio column's base)."""
    return OURS if peer.startswith(OURS) else peer


def b1(table: Table, plan: Plan, workers: dict[str, PeerProcess], url: str, image_kb: float,
       log: Callable[[str], None], *, bench: str = "B1") -> None:
    peers = list(workers)
    log(f"{bench}: {plan.b1_calls} sequential calls x {plan.reps} repetitions, "
        f"{image_kb:.0f} KB replies")
    cpu: dict[str, list[float]] = {p: [] for p in peers}
    wall: dict[str, list[float]] = {p: [] for p in peers}
    for _ in range(plan.reps):  # interleaved, so drift hits every peer alike
        for peer, worker in workers.items():
            result = worker.ask(op="sequential", url=url, calls=plan.b1_calls)
            cpu[peer].append(result["cpu_ms"])
            wall[peer].append(result["wall_ms"])
    note = f"{plan.b1_calls} sequential, {image_kb:.0f} KB JSON reply, 0 s latency"
    for peer in peers:
        table.add(Row(bench, "client CPU per call", _client(peer), "ms", cpu[peer], note))
        table.add(Row(bench, "wall per call", _client(peer), "ms", wall[peer]))


def b2(table: Table, plan: Plan, workers: dict[str, PeerProcess], url: str,
       log: Callable[[str], None], *, bench: str = "B2") -> None:
    peers = list(workers)
    log(f"{bench}: {plan.b2_calls} concurrent calls at {plan.b2_latency:g} s latency")
    walls: dict[str, list[float]] = {p: [] for p in peers}
    cpus: dict[str, list[float]] = {p: [] for p in peers}
    errors: dict[str, dict[str, int]] = {p: {} for p in peers}
    for _ in range(plan.reps):
        for peer, worker in workers.items():
            result = worker.ask(op="concurrent", url=url, calls=plan.b2_calls)
            walls[peer].append(result["wall_s"])
            cpus[peer].append(result["cpu_s"])
            for kind, n in result["errors"].items():
                errors[peer][kind] = errors[peer].get(kind, 0) + n
    for peer in peers:
        failed = ", ".join(f"{n} {kind}" for kind, n in errors[peer].items())
        table.add(Row(bench, f"{plan.b2_calls} concurrent, total wall", _client(peer), "s",
                      walls[peer], f"floor {plan.b2_latency:g} s; small replies"
                      + (f"; FAILED: {failed}" if failed else ""), fmt="{:.3f}"))
        table.add(Row(bench, f"{plan.b2_calls} concurrent, client CPU", _client(peer), "s",
                      cpus[peer], fmt="{:.3f}"))


# -- B3 -------------------------------------------------------------------------------

B3_VARIANTS = (
    # (label, peer, limiter, note)
    (OURS, OURS, "shared",
     "AIGEN LIMITER_CACHE (Redis) + REQUESTS_PER_MINUTE = quota, shared by the 4"),
    ("ours, per-process limit", OURS, "local", "AIGEN REQUESTS_PER_MINUTE = quota / 4 each"),
    ("ours, no limiter", OURS, "none", "no client limit: retries honour RetryInfo"),
    ("google-genai/aiohttp", "google-genai/aiohttp", "none", "HttpRetryOptions() defaults"),
)


def shared_limiter_available() -> bool:
    if importlib.util.find_spec("aigen_app.shared_limiter") is None:
        return False
    try:
        import redis

        return bool(redis.Redis.from_url("redis://127.0.0.1:6379/15").ping())
    except Exception:  # no Redis here: the variant is left out
        return False


def b3(table: Table, plan: Plan, peers: list[str], log: Callable[[str], None]) -> None:
    rpm, seconds, processes = plan.b3_rpm, plan.b3_seconds, 4
    variants = [v for v in B3_VARIANTS if v[1] in peers
                and (v[2] != "shared" or shared_limiter_available())]
    log(f"B3: {processes} processes offering 3x a {rpm} rpm quota for {seconds:g} s, "
        f"{len(variants)} clients side by side")
    with ExitStack() as stack:
        runs = []
        for label, peer, limiter, note in variants:
            emulator = stack.enter_context(EmulatorProcess(rpm=rpm))
            args = ["tests.benchmarks.worker", "rate", peer, emulator.base_url,
                    "--seconds", str(seconds), "--per-minute", str(3 * rpm / processes),
                    "--limiter", limiter, "--quota", str(rpm), "--processes",
                    str(processes), "--key-prefix", f"aigen-bench-{time.time()}"]
            workers = [python(*args, stdin=True) for _ in range(processes)]
            runs.append((label, note, emulator, workers))
        for *_, workers in runs:
            for worker in workers:
                assert worker.stdout is not None
                worker.stdout.readline()  # {"ready": true}: imported and connected
        start_at = time.time() + 0.5
        for *_, workers in runs:
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write(f"{start_at}\n")
                worker.stdin.flush()
        for label, note, emulator, workers in runs:
            outcomes: dict[str, int] = {}
            for worker in workers:
                for kind, n in result_of(worker)["outcomes"].items():
                    outcomes[kind] = outcomes.get(kind, 0) + n
            entries = emulator.log()
            window = min(60.0, seconds)
            since = start_at + seconds - window  # the last full window of the run
            ok = sum(1 for e in entries if e["status"] == 200 and e["wall_time"] >= since)
            limited_total = sum(1 for e in entries if e["status"] == 429)
            late = sum(1 for e in entries if e["status"] == 429
                       and e["wall_time"] >= start_at + 60.0)
            share = ok / rpm * 100  # a sliding 60 s window never admits more than rpm
            failed = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items()) if k != "ok")
            table.add(Row("B3", "throughput, share of quota", label, "%", [share],
                          f"{note}; calls failed: {failed or 'none'}", compare=False,
                          fmt="{:.0f}"))
            table.add(Row("B3", "429s received", label, "n", [limited_total], compare=False,
                          fmt="{:.0f}"))
            if seconds > 60:
                table.add(Row("B3", "429s after the first window", label, "n", [late],
                              compare=False, fmt="{:.0f}"))


# -- B4 -------------------------------------------------------------------------------

def b4(table: Table, plan: Plan, peers: list[str], log: Callable[[str], None]) -> None:
    size = plan.b4_size
    decoded = size * size * 3  # RGB
    with EmulatorProcess(grain=GRAIN) as emulator:
        tier = {1024: "1K", 2048: "2K", 4096: "4K"}[size]
        body = _body(size)
        body["generationConfig"]["imageConfig"]["imageSize"] = tier
        reply = httpx.post(f"{emulator.base_url}/models/{MODEL}:generateContent", json=body,
                           headers={"x-goog-api-key": API_KEY}, timeout=120)  # draws it once
        log(f"B4: one {size}x{size} result ({len(reply.content) / MB:.1f} MB reply) "
            "per fresh process")
        growth: dict[str, list[float]] = {p: [] for p in peers}
        for _ in range(plan.b4_reps):
            for peer in peers:
                result = result_of(python("tests.benchmarks.worker", "memory", peer,
                                          emulator.base_url, "--size", str(size)))
                growth[peer].append(result["growth"] / decoded)
        note = (f"peak RSS growth / decoded image ({decoded / MB:.0f} MB); "
                f"{len(reply.content) / MB:.1f} MB reply")
        for peer in peers:
            table.add(Row("B4", "peak RSS growth", peer, "x decoded", growth[peer], note))


# -- B5, B6 ---------------------------------------------------------------------------

def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", connect_timeout=2):
            return True
    except Exception:  # no PostgreSQL here: SQLite only
        return False


def b5(table: Table, plan: Plan, log: Callable[[str], None]) -> None:
    log(f"B5: {plan.b5_calls} sequential calls through the sync paths")
    with EmulatorProcess(grain=GRAIN) as emulator:
        result = result_of(python("tests.benchmarks.django_side", "sync-path",
                                  emulator.base_url, "--calls", str(plan.b5_calls)))
        on_postgres = None
        if postgres_available():
            on_postgres = result_of(python("tests.benchmarks.django_side", "sync-path",
                                           emulator.base_url, "--calls", str(plan.b5_calls),
                                           "--postgres"))
    if on_postgres is not None:
        figures = on_postgres["service layer"]
        overhead = figures["ms_per_call"] - on_postgres["direct async"]["ms_per_call"]
        table.add(Row("B5", "overhead per call vs direct async", "ours: service layer, PG",
                      "ms", [overhead], f"{figures['connections']} TCP connections opened; "
                      "the same on the local PostgreSQL", compare=False))
    direct = result.pop("direct async")
    calls = f"in {plan.b5_calls} calls after a warm-up call; 1 calling thread"
    table.add(Row("B5", "wall per call", "ours: direct async", "ms", [direct["ms_per_call"]],
                  f"{direct['connections']} TCP connections opened {calls}", compare=False))
    for path, figures in result.items():
        overhead = figures["ms_per_call"] - direct["ms_per_call"]
        note = f"{figures['connections']} TCP connections opened {calls}"
        if path == "service layer":
            note += "; create + run + record a generation, SQLite file with fsync"
        table.add(Row("B5", "overhead per call vs direct async", f"ours: {path}", "ms",
                      [overhead], note, compare=False))


def b6(table: Table, plan: Plan, log: Callable[[str], None]) -> None:
    log(f"B6: REST listings, page of 50, with {' and '.join(map(str, plan.b6_sizes))} rows")
    result = result_of(python("tests.benchmarks.django_side", "listing", "--sizes",
                              ",".join(map(str, plan.b6_sizes)), "--requests",
                              str(plan.b6_requests)))
    for listing, by_size in result.items():
        for size, figures in by_size.items():
            table.add(Row("B6", f"GET /api/{listing}/ at {int(size):,} rows", OURS, "ms",
                          [figures["ms"]], f"{figures['queries']} SQL queries; "
                          f"min {figures['min_ms']:.1f}, max {figures['max_ms']:.1f} over "
                          f"{plan.b6_requests} requests; SQLite file", compare=False))


# -- B7 -------------------------------------------------------------------------------

def b7(table: Table, plan: Plan, log: Callable[[str], None]) -> None:
    log(f"B7: {plan.b7_calls} calls held open at {plan.b7_latency:g} s latency")
    with EmulatorProcess(grain=GRAIN, latency=plan.b7_latency) as emulator:
        for mode in ("async", "threads"):
            emulator.reset()
            result = result_of(python("tests.benchmarks.worker", "in-flight",
                                      emulator.base_url, "--calls", str(plan.b7_calls),
                                      "--mode", mode))
            # Every request that reached the emulator before the first one could be
            # answered was held open at that moment.
            arrivals = sorted(e["wall_time"] for e in emulator.log())
            at_once = sum(1 for t in arrivals if t < arrivals[0] + plan.b7_latency)
            label = f"ours: {'asyncio tasks' if mode == 'async' else 'threads, generate_sync'}"
            note = (f"{result['completed']} of {plan.b7_calls} succeeded, between "
                    f"{result['first_done_s']:.1f} and {result['last_done_s']:.1f} s; "
                    f"baseline {result['baseline'] / MB:.0f} MB")
            table.add(Row("B7", "in flight at once", label, "calls", [at_once],
                          note, compare=False, fmt="{:.0f}"))
            table.add(Row("B7", "RSS while waiting", label, "MB",
                          [result["rss_waiting"] / MB], compare=False, fmt="{:.0f}"))
            table.add(Row("B7", "peak RSS, replies included", label, "MB",
                          [result["rss_peak"] / MB], "~1 MB image per reply",
                          compare=False, fmt="{:.0f}"))


# -- B8 -------------------------------------------------------------------------------

def b8(table: Table, plan: Plan, log: Callable[[str], None]) -> None:
    if not postgres_available():
        log("B8: skipped (needs PostgreSQL on 127.0.0.1:5432)")
        return
    workers = 2
    for engine, count, concurrency in (
            ("procrastinate", plan.b8_generations, plan.b8_concurrency),
            ("db_worker", plan.b8_db_worker_generations, 1)):
        log(f"B8: {count} generations at {plan.b8_latency:g} s through {workers} "
            f"{engine} workers")
        result = result_of(python("tests.benchmarks.engines", engine, "--generations",
                                  str(count), "--latency", str(plan.b8_latency),
                                  "--workers", str(workers), "--concurrency",
                                  str(concurrency)))
        label = f"ours: {engine}" + (f" x{concurrency}" if engine == "procrastinate" else "")
        ended = ", ".join(f"{n} {status}" for status, n in result["statuses"].items())
        wall_note = f"{count} generations ({ended})"
        if engine == "db_worker":
            wall_note += (f"; reduced count, {result['per_minute']:.1f}/min measured, so "
                          f"{plan.b8_generations} would take "
                          f"{plan.b8_generations / result['per_minute']:.0f} min")
        table.add(Row("B8", "wall, all generations settled", label, "s",
                      [result["wall_s"]], wall_note, compare=False, fmt="{:.1f}"))
        table.add(Row("B8", "peak RSS per worker", label, "MB",
                      [max(result["peak_rss_mb"])], compare=False, fmt="{:.0f}"))
        table.add(Row("B8", "peak DB connections, all workers", label, "connections",
                      [result["peak_connections"]], compare=False, fmt="{:.0f}"))
        table.add(Row("B8", "paid calls per generation", label, "calls",
                      [result["paid_per_generation"]], compare=False, fmt="{:.2f}"))


# -- targets --------------------------------------------------------------------------

def verdicts(table: Table, plan: Plan) -> list[str]:
    """The issue's targets for our client, each MET or MISSED with its figures."""
    out: list[str] = []

    def rows(bench: str, measure: str) -> dict[str, Row]:
        return {r.client: r for r in table.rows if r.bench == bench and r.measure == measure}

    def say(bench: str, target: str, met: bool, figures: str) -> None:
        out.append(f"{bench} {'MET   ' if met else 'MISSED'} {target}: {figures}")

    cpu, wall = rows("B1", "client CPU per call"), rows("B1", "wall per call")
    if OURS in cpu:
        peers = {c: r.median for c, r in cpu.items() if c not in (OURS, FLOOR)}
        ours = cpu[OURS].median
        raw = peers.get("raw httpx", float("inf"))
        say("B1", "client CPU <= 0.6x raw httpx and below every peer",
            ours <= 0.6 * raw and all(ours < v for v in peers.values()),
            f"{ours:.2f} ms = {ours / raw:.2f}x raw httpx; peers "
            + ", ".join(f"{c} {v:.2f}" for c, v in peers.items()))
        fastest = min((r.median for c, r in wall.items() if c not in (OURS, FLOOR)),
                      default=float("inf"))
        say("B1", "wall within 1.1x of the fastest peer", wall[OURS].median <= 1.1 * fastest,
            f"{wall[OURS].median:.2f} ms vs {fastest:.2f} ms")
    b2 = rows("B2", f"{plan.b2_calls} concurrent, total wall")
    if OURS in b2:
        floor = f"; floor of this set-up {b2[FLOOR].median:.3f} s" if FLOOR in b2 else ""
        say("B2", f"{plan.b2_calls} calls at {plan.b2_latency:g} s under "
            f"{plan.b2_latency * 1.2:g} s", b2[OURS].median < plan.b2_latency * 1.2,
            f"{b2[OURS].median:.3f} s{floor}")
    cpu, wall = rows("B1 OpenAI", "client CPU per call"), rows("B1 OpenAI", "wall per call")
    if OURS in cpu and "openai" in cpu:
        sdk = cpu["openai"].median
        say("B1 OpenAI", "client CPU below the official openai SDK's",
            cpu[OURS].median < sdk, f"{cpu[OURS].median:.2f} ms vs {sdk:.2f} ms; wall "
            f"{wall[OURS].median:.2f} ms vs {wall['openai'].median:.2f} ms")
    b2 = rows("B2 OpenAI", f"{plan.b2_calls} concurrent, total wall")
    if OURS in b2:
        sdk_wall = f"; openai SDK {b2['openai'].median:.3f} s" if "openai" in b2 else ""
        say("B2 OpenAI", f"{plan.b2_calls} calls at {plan.b2_latency:g} s under "
            f"{plan.b2_latency * 1.2:g} s", b2[OURS].median < plan.b2_latency * 1.2,
            f"{b2[OURS].median:.3f} s{sdk_wall}")
    share, late = rows("B3", "throughput, share of quota"), rows("B3",
                                                                   "429s after the first window")
    if OURS in share and OURS in late:
        say("B3", ">= 95% of the quota, no 429 after the first window",
            share[OURS].median >= 95 and late[OURS].median == 0,
            f"{share[OURS].median:.0f}%, {late[OURS].median:.0f} late 429s ({share[OURS].note})")
    b4 = rows("B4", "peak RSS growth")
    if OURS in b4:
        say("B4", "peak RSS growth <= 3x the decoded image", b4[OURS].median <= 3,
            f"{b4[OURS].median:.2f}x")
    b5 = rows("B5", "overhead per call vs direct async")
    sync = b5.get("ours: generate_sync")
    if sync is not None:
        connections = int(sync.note.split()[0])
        say("B5", "sync path < 5 ms overhead per call, connections <= threads (1)",
            sync.median < 5 and connections <= 1,
            f"generate_sync {sync.median:.2f} ms, {connections} new connections; "
            + "; ".join(f"{c.removeprefix('ours: ')} {r.median:.1f} ms, {r.note.split()[0]} "
                        "connections" for c, r in b5.items() if r is not sync))
    b6: dict[str, list[Row]] = {}
    for row in table.rows:
        if row.bench == "B6":
            b6.setdefault(row.measure.split(" at ")[0], []).append(row)
    for listing, sized in b6.items():
        if len(sized) < 2:
            continue
        queries = {r.note.split()[0] for r in sized}
        say("B6", f"{listing}: same query count at every size, < 25 ms at "
            f"{plan.b6_sizes[-1]:,} rows", len(queries) == 1 and sized[-1].median < 25,
            ", ".join(f"{r.measure.split(' at ')[1]}: {r.median:.1f} ms, "
                      f"{r.note.split()[0]} queries" for r in sized))
    flight = rows("B7", "in flight at once")
    waiting = rows("B7", "RSS while waiting")
    label = "ours: asyncio tasks"
    if label in flight:
        say("B7", f"{plan.b7_calls} in flight under 300 MB RSS",
            flight[label].median >= plan.b7_calls and waiting[label].median < 300,
            "; ".join(f"{c.removeprefix('ours: ')}: {flight[c].median:.0f} in flight, "
                      f"{waiting[c].median:.0f} MB" for c in flight))
    b8 = rows("B8", "wall, all generations settled")
    label = f"ours: procrastinate x{plan.b8_concurrency}"
    if label in b8:
        rss = rows("B8", "peak RSS per worker")[label].median
        say("B8", f"{plan.b8_generations} generations at {plan.b8_latency:g} s through 2 "
            "workers in under 2 minutes", b8[label].median < 120,
            f"{b8[label].median:.1f} s, {rss:.0f} MB peak per worker; {b8[label].note}")
    return out


BENCHMARKS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small and fast")
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help="comma-separated subset, e.g. B1,B2")
    parser.add_argument("--peers", default=None,
                        help="comma-separated clients (default: all installed)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions")
    parser.add_argument("--json", dest="json_path", default=None,
                        help="also write the rows to this file")
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan()
    if args.reps:
        plan.reps = args.reps
    only = {name.strip().upper() for name in args.only.split(",")}
    peers, openai_peers = available_peers(), available_openai_peers()
    if args.peers:
        chosen = {x.strip() for x in args.peers.split(",")}
        peers = [p for p in peers if p in chosen]
        openai_peers = [p for p in openai_peers if p in chosen]
    unknown = set(peers) - set(PEERS)
    if unknown:
        raise SystemExit(f"unknown peers {unknown}")
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr,
              flush=True)

    table = Table()
    if only & {"B1", "B2"}:
        b1_b2(table, plan, peers, log, only)
        if openai_peers:
            b1_b2(table, plan, openai_peers, log, only, openai=True)
    background = None
    if "B3" in only:  # a minute of mostly waiting: B4 and B7 run meanwhile
        background = threading.Thread(target=b3, args=(table, plan, peers, log))
        background.start()
    if "B4" in only:
        b4(table, plan, peers, log)
    if "B7" in only:
        b7(table, plan, log)
    if background is not None:
        background.join()
    if "B5" in only:
        b5(table, plan, log)
    if "B6" in only:
        b6(table, plan, log)
    if "B8" in only:
        b8(table, plan, log)
    log("done")
    table.verdicts = verdicts(table, plan)
    if args.quick:
        table.verdicts.insert(0, "(quick run: sizes differ from the issue's; see the full run)")
    print(table.render())
    if args.json_path:
        with open(args.json_path, "w") as out:
            json.dump([row.__dict__ for row in table.rows], out, indent=1)
