"""``manage.py aigen_worker`` outlives a database outage: real worker processes, their
database behind a proxy the test cuts while generations are in flight. No worker exits,
every generation succeeds with one API call each, and no task row is left RUNNING."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from tests.conftest import Media

from .proxy import TcpProxy
from .workers import Workers, through, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_tasks")]

GENERATIONS = 6


def count(status: GenerationStatus) -> int:
    return Generation.objects.filter(status=status).count()


# The production measurement used 15 s; a shorter cut exercises the same path
# (workers meet it while claiming, running and saving) within the CI budget.
@pytest.mark.timeout(120)
@pytest.mark.parametrize("outage", [4.0])
def test_workers_wait_out_a_database_outage(
    make_user: Any, emulator: EmulatorServer, media_storage: Media, tmp_path: Path,
    database_proxy: TcpProxy, processes: Callable[..., Any], outage: float,
) -> None:
    workers = Workers(processes, tmp_path, emulator, media_storage,
                      database=through(database_proxy.port))
    for name in ("w1", "w2"):
        workers.start(name)
    # Idle workers poll the queue: the outage meets them there.
    with database_proxy.outage("cut"):
        wait_until(lambda: all("the task queue: the database is unreachable" in workers.log(n)
                               for n in ("w1", "w2")), what="both workers to wait")
    owner = make_user()
    for i in range(GENERATIONS):
        services.create_generation(f"Outage poster {i}", owner=owner, width=64, height=64)
    emulator.set_latency(1.0)

    # And again while generations are in flight: their results are saved afterwards.
    wait_until(lambda: count(GenerationStatus.SUCCEEDED) >= 1, what="a first success")
    with database_proxy.outage("cut"):
        time.sleep(outage)
    assert workers.alive() == {"w1": None, "w2": None}  # no worker exited

    wait_until(lambda: count(GenerationStatus.SUCCEEDED) == GENERATIONS, timeout=60,
               what="every generation to succeed")
    calls = Counter(e.prompt for e in emulator.requests() if e.outcome == "ok")
    assert sorted(calls.values()) == [1] * GENERATIONS  # none paid for twice
    wait_until(lambda: not DBTaskResult.objects.exclude(status="SUCCESSFUL").exists(),
               timeout=10, what="every task row to be recorded")
    assert workers.alive() == {"w1": None, "w2": None}
    assert any("saving its paid result: the database is unreachable" in workers.log(n)
               for n in ("w1", "w2"))
    for process in workers.started.values():
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
