"""Workers run generations through a 15 s Redis outage and a Redis stall: the shared
limiter falls back to per-process limits (and says so), no worker exits, every
generation succeeds once. Redis sits behind a proxy the test cuts or stalls."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from tests.support import Media, wait_until

from .outcome import check_outcome, state_of
from .proxy import TcpProxy
from .workers import Workers, shared_limiter

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("database_tasks", "postgresql")]

OUTAGE = 15.0  # seconds Redis refuses connections, as in the issue
STALL = 5.0  # seconds Redis accepts connections but answers nothing
BEFORE, DURING = 12, 8  # generations queued before the outage, and before the stall


def succeeded() -> int:
    return Generation.objects.filter(status=GenerationStatus.SUCCEEDED).count()


@pytest.mark.timeout(150)
def test_workers_run_generations_while_redis_is_away(
    make_user: Any, emulator: EmulatorServer, media_storage: Media, tmp_path: Path,
    processes: Callable[..., Any], redis_proxy: tuple[TcpProxy, str],
) -> None:
    proxy, url = redis_proxy
    workers = Workers(processes, tmp_path, emulator, media_storage,
                      settings=shared_limiter(url))
    for name in ("w1", "w2"):
        workers.start(name)
    owner = make_user()
    for i in range(BEFORE):
        services.create_generation(f"Redis cut {i}", owner=owner, width=64, height=64)
    emulator.set_latency(1.0)

    wait_until(lambda: succeeded() >= 1, what="a first success, through Redis")
    with proxy.outage("cut"):
        began = time.monotonic()
        # The backlog runs meanwhile, limited per process: the outage holds none back.
        wait_until(lambda: succeeded() == BEFORE, what="the backlog to run without Redis")
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - began)))
        assert workers.exited_on_their_own() == {}

    for i in range(DURING):
        services.create_generation(f"Redis stall {i}", owner=owner, width=64, height=64)
    with proxy.outage("stall"):
        time.sleep(STALL)
        assert workers.exited_on_their_own() == {}
    wait_until(lambda: succeeded() == BEFORE + DURING, what="every generation to succeed",
               explain=lambda: state_of(workers, emulator))
    # A row turns succeeded before its run drops its receipt: let the runs end first.
    assert workers.stop_all() == {"w1": 0, "w2": 0}

    check_outcome(emulator, media_storage, workers)
    assert all("limiting this process on its own" in workers.log(n) for n in ("w1", "w2"))
