"""``manage.py aigen_worker`` outlives a database outage: real worker processes, their
database behind a proxy the test cuts, first while they wait for work, then for 15 s
while generations are in flight. No worker exits, every generation succeeds with one
API call each, and no task row is left RUNNING. A claim whose answer an outage lost is
handed back by its worker, not left RUNNING until recovery."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from tests.support import Media, wait_until

from .outcome import check_outcome, state_of
from .proxy import TcpProxy
from .workers import Workers, through

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_tasks")]

GENERATIONS = 8


def count(status: GenerationStatus) -> int:
    return Generation.objects.filter(status=status).count()


OUTAGE = 15.0  # seconds: the outage that killed every db_worker in the measurement


@pytest.fixture
def workers(processes: Callable[..., Any], tmp_path: Path, emulator: EmulatorServer,
            media_storage: Media, database_proxy: TcpProxy) -> Workers:
    """Workers whose database is behind the proxy the test cuts."""
    return Workers(processes, tmp_path, emulator, media_storage,
                   database=through(database_proxy.port))


@pytest.mark.timeout(150)
def test_workers_wait_out_a_database_outage(
    make_user: Any, emulator: EmulatorServer, media_storage: Media, workers: Workers,
    database_proxy: TcpProxy,
) -> None:
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

    # And for 15 s while generations are in flight: their results are saved afterwards.
    # The next call answers 5 s late, well inside the outage, so a save surely meets it.
    wait_until(lambda: count(GenerationStatus.SUCCEEDED) >= 1, what="a first success")
    emulator.inject("latency", seconds=5)
    wait_until(lambda: any(e.outcome == "latency" for e in emulator.requests()),
               what="the late call to start")
    with database_proxy.outage("cut"):
        time.sleep(OUTAGE)
        assert workers.exited_on_their_own() == {}

    explain = functools.partial(state_of, workers, emulator)
    wait_until(lambda: count(GenerationStatus.SUCCEEDED) == GENERATIONS, timeout=60,
               what="every generation to succeed", explain=explain)
    wait_until(lambda: not DBTaskResult.objects.exclude(status="SUCCESSFUL").exists(),
               timeout=10, what="every task row to be recorded", explain=explain)
    check_outcome(emulator, media_storage, workers)
    assert any("saving its paid result: the database is unreachable" in workers.log(n)
               for n in ("w1", "w2")), state_of(workers, emulator)
    assert workers.stop_all() == {"w1": 0, "w2": 0}


@pytest.mark.timeout(90)
def test_a_claim_whose_answer_the_outage_lost_is_handed_back(
    make_user: Any, emulator: EmulatorServer, media_storage: Media, workers: Workers,
    database_proxy: TcpProxy,
) -> None:
    generation = services.create_generation("Lost claim poster", owner=make_user(),
                                            width=64, height=64)
    # The worker's claim committed, then the connection went before the answer came:
    # its task row is RUNNING, claimed by w1, and w1 never heard of it.
    DBTaskResult.objects.get().claim("w1")
    workers.start("w1")
    with database_proxy.outage("cut"):
        wait_until(lambda: "the task queue: the database is unreachable" in workers.log("w1"),
                   what="the worker to meet the outage")

    wait_until(lambda: Generation.objects.filter(pk=generation.pk,
                                                 status=GenerationStatus.SUCCEEDED).exists(),
               timeout=30, what="the lost claim to run",
               explain=functools.partial(state_of, workers, emulator))
    assert "handed back 1 task row(s) it claimed as the database went away" in workers.log("w1")
    assert workers.stop_all() == {"w1": 0}
    check_outcome(emulator, media_storage, workers)
