"""The shared limiter: one API quota for every process using the same cache.

In-process tests run on LocMem and (with REDIS_URL) on Redis; the multi-process tests
need Redis and start real processes (``tests.scale.probe``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from aigen_app import limits
from aigen_app.checks import check_aigen_settings
from aigen_app.client import GenerationRequest, LocalRateLimiter, RateLimitError
from aigen_app.emulator import EmulatorServer
from aigen_app.gateway import build_client, build_limiter
from aigen_app.limits import SharedRateLimiter
from tests.conftest import TEST_API_KEY

from .conftest import probe_output, process_env, redis_caches, start_together
from .plans import record_plans

MODEL = "gemini-nano-banana-2.1"
EPS = 0.02  # timer slack: a sleep may end a little early by the wall clock


@pytest.fixture(params=["locmem", "redis"])
def limiter_alias(request: pytest.FixtureRequest) -> Iterator[str]:
    """A ``limiter`` cache alias on LocMem, or on Redis when REDIS_URL is set."""
    if request.param == "redis":
        caches = redis_caches(request.getfixturevalue("redis_url"))
    else:
        caches = {**settings.CACHES, "limiter": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": uuid.uuid4().hex}}
    with override_settings(CACHES=caches):
        yield "limiter"


class Span(NamedTuple):
    """One slot: when it really started and ended, and the start and cell the limiter
    scheduled (None without a requests-per-minute limit)."""

    started: float
    ended: float
    planned: float | None = None
    cell: int | None = None


def starts_of(spans: list[Span]) -> list[float]:
    return sorted(span.started for span in spans)


def plans_of(spans: list[Span]) -> list[float]:
    """The scheduled starts, having checked that no slot started before its own."""
    for span in spans:
        assert span.planned is not None
        assert span.started >= span.planned - EPS, span
    return sorted(span.planned for span in spans if span.planned is not None)


def peak_overlap(spans: list[Span]) -> int:
    events = sorted([(span.started, 1) for span in spans] + [(span.ended, -1) for span in spans])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


async def take_slots(limiter: SharedRateLimiter, count: int, hold: float = 0.0,
                     model: str = MODEL) -> list[Span]:
    plans = record_plans(limiter) if limiter.requests_per_minute else {}

    async def one() -> Span:
        async with limiter.slot(model):
            started = time.time()
            await asyncio.sleep(hold)
            return Span(started, time.time(), *plans.get(asyncio.current_task(), ()))

    return list(await asyncio.gather(*(one() for _ in range(count))))


# -- configuration ---------------------------------------------------------------------


def test_the_process_local_limiter_stays_the_default() -> None:
    with override_settings(AIGEN={"API_KEY": TEST_API_KEY}):
        assert build_limiter() is None
    with override_settings(AIGEN={"API_KEY": TEST_API_KEY, "REQUESTS_PER_MINUTE": 30}):
        assert isinstance(build_limiter(), LocalRateLimiter)


def test_naming_a_cache_shares_the_limits_and_cooldowns(limiter_alias: str) -> None:
    with override_settings(AIGEN={"API_KEY": TEST_API_KEY, "LIMITER_CACHE": limiter_alias,
                                  "REQUESTS_PER_MINUTE": 290, "MAX_IN_FLIGHT": 8,
                                  "TIMEOUT": 20}):
        limiter = build_client().limiter
    assert isinstance(limiter, SharedRateLimiter)
    assert (limiter.alias, limiter.requests_per_minute, limiter.max_in_flight) == (
        limiter_alias, 290, 8)
    # A slot is never held longer than one attempt: the lease outlives it.
    assert limiter.lease > 20
    # Cooldowns are shared even when no limit is set.
    with override_settings(AIGEN={"API_KEY": TEST_API_KEY, "LIMITER_CACHE": limiter_alias}):
        assert isinstance(build_limiter(), SharedRateLimiter)


def test_an_unknown_cache_alias_names_the_setting() -> None:
    with (override_settings(AIGEN={"API_KEY": TEST_API_KEY, "LIMITER_CACHE": "nowhere"}),
          pytest.raises(ImproperlyConfigured, match=r"AIGEN\['LIMITER_CACHE'\].*'nowhere'")):
        build_client()


@pytest.mark.parametrize(("backend", "expected"), [
    (None, ["aigen.E005"]),
    ("django.core.cache.backends.dummy.DummyCache", ["aigen.E006"]),
    ("django.core.cache.backends.locmem.LocMemCache", ["aigen.W002"]),
    ("django.core.cache.backends.redis.RedisCache", []),
])
def test_system_checks_name_a_limiter_cache_that_cannot_be_shared(
    backend: str | None, expected: list[str]
) -> None:
    caches = {**settings.CACHES}
    if backend is not None:
        caches["limiter"] = {"BACKEND": backend, "LOCATION": "redis://127.0.0.1:6379/0"}
    with override_settings(CACHES=caches, AIGEN={"API_KEY": TEST_API_KEY,
                                                 "LIMITER_CACHE": "limiter"}):
        ids = [message.id for message in check_aigen_settings()]
    assert [i for i in ids if i in ("aigen.E005", "aigen.E006", "aigen.W002")] == expected


@pytest.mark.parametrize("kwargs", [{"requests_per_minute": 0}, {"max_in_flight": 0},
                                    {"lease": 0}])
def test_nonsense_limits_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be a positive"):
        SharedRateLimiter("default", **kwargs)


# -- behaviour in one process ------------------------------------------------------------


def assert_paced(starts: list[float], interval: float) -> None:
    """One start per ``interval``-long cell: any two starts two apart are at least an
    interval apart (consecutive ones may straddle a cell boundary), and the whole run is
    no slower than the rate. Checked on the scheduled starts (``tests.scale.plans``):
    real ones can only be later, and a stalled machine bunches them."""
    starts = sorted(starts)
    gaps = [later - earlier for earlier, later in zip(starts, starts[2:], strict=False)]
    assert min(gaps) >= interval - EPS, starts
    assert starts[-1] - starts[0] >= (len(starts) - 2) * interval - EPS
    assert starts[-1] - starts[0] < (len(starts) - 1) * interval + 1.0


async def test_requests_per_minute_spaces_starts_evenly(limiter_alias: str) -> None:
    limiter = SharedRateLimiter(limiter_alias, requests_per_minute=600)  # one per 0.1 s
    assert_paced(plans_of(await take_slots(limiter, 10)), 61 / 600)


async def test_no_window_ever_holds_more_than_the_limit(
    limiter_alias: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A one-second "minute" keeps the test short: 4 per window, cells of 0.25 s. The
    # first start falls late in its cell, so the fifth must wait for the first to leave
    # the window, not merely for its own cell.
    monkeypatch.setattr(limits, "WINDOW", 1.0)
    monkeypatch.setattr(limits, "TRANSIT_MARGIN", 0.0)
    limiter = SharedRateLimiter(limiter_alias, requests_per_minute=4)
    now = time.time()
    await asyncio.sleep(0.25 - now % 0.25 + 0.2)  # 0.2 s into a cell
    starts = plans_of(await take_slots(limiter, 1) + await take_slots(limiter, 5))
    for first, fifth in zip(starts, starts[4:], strict=False):
        assert fifth - first >= 1.0 - EPS, starts


async def test_max_in_flight_holds_across_limiter_objects(limiter_alias: str) -> None:
    # Two objects share nothing but the cache, like two processes.
    first, second = (SharedRateLimiter(limiter_alias, max_in_flight=2) for _ in range(2))
    spans = [span for group in await asyncio.gather(
        take_slots(first, 3, hold=0.15), take_slots(second, 3, hold=0.15)) for span in group]
    assert peak_overlap(spans) == 2


async def test_a_cooldown_pauses_every_limiter_on_the_cache(limiter_alias: str) -> None:
    worker_a, worker_b = (SharedRateLimiter(limiter_alias) for _ in range(2))
    worker_a.cooldown(MODEL, 1.0)
    worker_a.cooldown(MODEL, 0.1)  # a shorter delay does not cut the pause short
    started = time.time()
    # Per model: another model starts while the pause is on.
    [other_model] = await take_slots(worker_b, 1, model="gemini-3-pro-image")
    assert other_model.started - started < 0.7
    [paused] = await take_slots(worker_b, 1)
    assert paused.started - started >= 1.0 - EPS


async def test_a_cooldown_longer_than_max_wait_raises_with_the_remaining_wait(
    limiter_alias: str,
) -> None:
    limiter = SharedRateLimiter(limiter_alias)
    limiter.cooldown(MODEL, 90)
    async with asyncio.timeout(1):
        with pytest.raises(RateLimitError) as info:
            async with limiter.slot(MODEL, max_wait=30):
                pass
    assert info.value.retry_after is not None and 88 <= info.value.retry_after <= 90
    # Within max_wait, the pause is waited out.
    limiter.cooldown("gemini-3-pro-image", 0.3)
    started = time.monotonic()
    async with limiter.slot("gemini-3-pro-image", max_wait=30):
        pass
    assert time.monotonic() - started >= 0.2


async def test_a_cancelled_wait_gives_its_turn_back(limiter_alias: str) -> None:
    limiter = SharedRateLimiter(limiter_alias, requests_per_minute=60)  # one per second
    [first] = await take_slots(limiter, 1)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await take_slots(limiter, 1)  # waits for the next cell, then gives up
    [after] = await take_slots(limiter, 1)
    # It got the turn the cancelled request gave back (the next cell), not the one after.
    assert first.cell is not None
    assert after.cell == first.cell + 1


@pytest.fixture
def unreachable_alias() -> Iterator[str]:
    """A ``limiter`` cache on a Redis that is not there (connections are refused)."""
    with socket.socket() as sock:  # a free port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    caches = {**settings.CACHES, "limiter": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{port}/0",
        "OPTIONS": {"socket_connect_timeout": 1}}}
    with override_settings(CACHES=caches):
        yield "limiter"


async def test_an_unreachable_cache_limits_the_process_on_its_own(
    unreachable_alias: str, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = SharedRateLimiter(unreachable_alias, requests_per_minute=600, max_in_flight=2)
    with caplog.at_level(logging.WARNING, logger="aigen.limiter"):
        spans = await take_slots(limiter, 6, hold=0.1)
        limiter.cooldown(MODEL, 0.5)  # does not raise, and pauses this process
        started = time.time()
        [paused] = await take_slots(limiter, 1)

    # Every request went ahead, within this process's own limits, instead of failing.
    assert len(spans) == 6 and peak_overlap(spans) == 2
    assert paused.started - started >= 0.5 - EPS
    warnings = [r for r in caplog.records if r.name == "aigen.limiter"]
    assert len(warnings) == 1  # once a minute at most, not once a request
    assert "limiting this process on its own" in warnings[0].getMessage()


def test_a_generation_goes_ahead_when_the_limiter_cache_is_down(
    unreachable_alias: str, emulator: EmulatorServer
) -> None:
    with override_settings(AIGEN={"API_KEY": TEST_API_KEY, "BASE_URL": emulator.base_url,
                                  "LIMITER_CACHE": unreachable_alias,
                                  "REQUESTS_PER_MINUTE": 60, "MAX_IN_FLIGHT": 4}):
        client = build_client()

    async def generate() -> bytes:
        async with client:
            request = GenerationRequest(prompt="A lighthouse", width=1024, height=1024)
            return (await client.generate(request)).image_data

    assert asyncio.run(generate())
    assert [entry.outcome for entry in emulator.requests()] == ["ok"]


# -- several processes -------------------------------------------------------------------


@pytest.fixture
def start_probe(
    processes: Callable[..., Any], redis_url: str
) -> Iterator[Callable[..., Any]]:
    """``start_probe(command, *args, aigen={...})``: a probe process whose ``limiter``
    cache is this test's Redis key space."""
    caches = redis_caches(redis_url)

    def start(command: str, *args: str, aigen: dict[str, Any] | None = None) -> Any:
        overrides = {"CACHES": caches, "AIGEN": {"API_KEY": TEST_API_KEY, **(aigen or {})}}
        return processes(["-m", "tests.scale.probe", command, *args], process_env(overrides))

    with override_settings(CACHES=caches):
        yield start


def test_processes_share_requests_per_minute(start_probe: Callable[..., Any]) -> None:
    aigen = {"LIMITER_CACHE": "limiter", "REQUESTS_PER_MINUTE": 300}  # one per 0.2 s
    probes = [start_probe("slots", "--count", "5", aigen=aigen) for _ in range(4)]
    start_together(probes)
    spans = [Span(*span) for probe in probes for span in probe_output(probe)["spans"]]
    assert len(spans) == 20
    assert_paced(plans_of(spans), 61 / 300)  # each process alone would start 5 at once


def test_processes_share_max_in_flight(start_probe: Callable[..., Any]) -> None:
    aigen = {"LIMITER_CACHE": "limiter", "MAX_IN_FLIGHT": 2}
    probes = [start_probe("slots", "--count", "3", "--hold", "0.3", aigen=aigen)
              for _ in range(4)]
    start_together(probes)
    spans = [Span(*span) for probe in probes for span in probe_output(probe)["spans"]]
    assert len(spans) == 12
    assert peak_overlap(spans) == 2


def test_a_killed_process_frees_its_slot_when_the_lease_ends(
    start_probe: Callable[..., Any],
) -> None:
    holder = start_probe("hold", "--seconds", "2")
    assert holder.stdout.readline().strip() == '{"held": true}'
    holder.send_signal(signal.SIGKILL)
    holder.communicate(timeout=30)
    killed_at = time.time()

    limiter = SharedRateLimiter("limiter", max_in_flight=1, lease=2)
    [slot] = asyncio.run(take_slots(limiter, 1))
    # Not before the dead holder's lease ran out, but soon after it.
    assert 0.5 < slot.started - killed_at < 5


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "process-local"])
def test_a_429_with_a_delay_pauses_every_process(
    start_probe: Callable[..., Any], emulator: EmulatorServer, shared: bool
) -> None:
    """Process A's first request is refused with a 4 s retry delay; process B calls a
    second later and, with the shared limiter, waits out the same 4 s."""
    emulator.inject("rate_limit", retry_delay="4s")
    aigen = {"BASE_URL": emulator.base_url, "MAX_RETRIES": 2,
             **({"LIMITER_CACHE": "limiter"} if shared else {"MAX_IN_FLIGHT": 10})}
    worker_a = start_probe("generate", "--prompt", "A", aigen=aigen)
    worker_b = start_probe("generate", "--prompt", "B", "--after", "1", aigen=aigen)
    start_together([worker_a, worker_b])
    result_a, result_b = probe_output(worker_a), probe_output(worker_b)

    assert "error" not in result_a and "error" not in result_b
    log = emulator.requests()
    refused = [entry for entry in log if entry.status == 429]
    assert [entry.prompt for entry in refused] == ["A"]
    [b_request] = [entry for entry in log if entry.prompt == "B"]
    paused_until = refused[0].wall_time + 4
    assert result_b["started"] < paused_until - 2  # B called while the pause was on
    if shared:
        assert b_request.wall_time >= paused_until - 0.1
        assert all(entry.wall_time >= paused_until - 0.1 for entry in log[1:])
    else:  # the control: a process-local limiter leaves B alone
        assert b_request.wall_time < paused_until - 2
