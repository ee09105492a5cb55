"""The shared limiter across processes: several probe processes (``tests.workers.probe``)
share one quota through Redis, and a killed holder's slot comes back when its lease ends.
Needs REDIS_URL."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import override_settings

from aigen_app.emulator import EmulatorServer
from aigen_app.shared_limiter import SharedRateLimiter
from tests.support import TEST_API_KEY
from tests.support.plans import Span, assert_paced, peak_overlap, take_slots
from tests.support.processes import probe_output, process_env, redis_caches, start_together


@pytest.fixture
def start_probe(
    processes: Callable[..., Any], redis_url: str
) -> Iterator[Callable[..., Any]]:
    """``start_probe(command, *args, aigen={...})``: a probe process whose ``limiter``
    cache is this test's Redis key space."""
    caches = redis_caches(redis_url)

    def start(command: str, *args: str, aigen: dict[str, Any] | None = None) -> Any:
        overrides = {"CACHES": caches, "AIGEN": {"API_KEY": TEST_API_KEY, **(aigen or {})}}
        return processes(["-m", "tests.workers.probe", command, *args], process_env(overrides))

    with override_settings(CACHES=caches):
        yield start


def test_processes_share_requests_per_minute(start_probe: Callable[..., Any]) -> None:
    aigen = {"LIMITER_CACHE": "limiter", "REQUESTS_PER_MINUTE": 300}  # one per 0.2 s
    probes = [start_probe("slots", "--count", "5", aigen=aigen) for _ in range(4)]
    start_together(probes)
    spans = [Span(*span) for probe in probes for span in probe_output(probe)["spans"]]
    assert len(spans) == 20
    assert_paced(spans, 61 / 300)  # each process alone would start 5 at once


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
