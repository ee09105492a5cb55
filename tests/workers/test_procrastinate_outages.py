"""The procrastinate worker outlives faults: its database cut for 0.3 s while paid
results are being saved and for 15 s while generations are in flight (no exit, every
one succeeds with one paid call), a SIGKILL mid-run (the stalled jobs are settled
by ``aigen_recover``), and a fetch whose answer was lost (``aigen_recover`` settles the job
its live worker never ran). Each ends with the shared outcome check. PostgreSQL only."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from aigen_app.services.running import run_deadline
from tests.support import Media, wait_until

from .engine_workers import engine_workers, jobs, procrastinate_tasks
from .outcome import check_outcome, state_of
from .proxy import TcpProxy
from .workers import Workers, through

pytestmark = pytest.mark.django_db(transaction=True)

GENERATIONS = 24


@pytest.fixture(autouse=True)
def _procrastinate_tasks(postgresql: None) -> Iterator[None]:
    # Requesting ``postgresql`` here skips the test on SQLite before the queue is
    # emptied (an autouse fixture runs before those a mark names).
    with procrastinate_tasks():
        yield


def count(status: GenerationStatus) -> int:
    return Generation.objects.filter(status=status).count()


def paid_calls(emulator: EmulatorServer) -> Counter[str]:
    return Counter(e.prompt for e in emulator.requests() if e.outcome == "ok")


@pytest.fixture
def in_flight(make_user: Any, emulator: EmulatorServer, media_storage: Media, tmp_path: Path,
              database_proxy: TcpProxy, processes: Callable[..., Any]) -> Workers:
    """One worker ("w1"), its database behind ``database_proxy``, with GENERATIONS
    generations waiting for the API (2 s)."""
    workers = engine_workers(processes, tmp_path, emulator, media_storage,
                            database=through(database_proxy.port))
    emulator.set_latency(2.0)
    owner = make_user()
    for i in range(GENERATIONS):
        services.create_generation(f"Poster {i}", owner=owner, width=64, height=64)
    workers.start("w1", "--concurrency", "64")
    wait_until(lambda: len(emulator.requests()) == GENERATIONS, what="every call to start")
    return workers


def check_all_settled(emulator: EmulatorServer, media: Media, workers: Workers) -> None:
    """Every generation succeeded and every job is recorded; then the outcome check, and
    the worker, still up, stops cleanly."""
    wait_until(lambda: count(GenerationStatus.SUCCEEDED) == Generation.objects.count(),
               timeout=60, what="every generation to succeed",
               explain=lambda: state_of(workers, emulator))
    wait_until(lambda: not jobs().exclude(status="succeeded").exists(),
               timeout=30, what="every job to be recorded")
    check_outcome(emulator, media, workers)
    assert workers.stop_all() == {"w1": 0}


@pytest.mark.timeout(120)
def test_a_worker_waits_out_a_15_s_database_outage_with_generations_in_flight(
    in_flight: Workers, emulator: EmulatorServer, media_storage: Media,
    database_proxy: TcpProxy,
) -> None:
    # The answers arrive during the cut: every result is saved once it lifts.
    with database_proxy.outage("cut"):
        time.sleep(15)  # the outage's length, not a synchronisation
        assert in_flight.alive() == {"w1": None}

    check_all_settled(emulator, media_storage, in_flight)
    assert "saving its paid result: the database is unreachable" in in_flight.log("w1")


@pytest.mark.timeout(120)
def test_a_0_3_s_database_blip_while_results_are_saved_loses_none(
    in_flight: Workers, emulator: EmulatorServer, media_storage: Media,
    database_proxy: TcpProxy,
) -> None:
    # The answers land within moments of each other: the first one recorded means the
    # others are being saved now, and the blip meets them there.
    wait_until(lambda: count(GenerationStatus.SUCCEEDED) >= 1, interval=0.01,
               what="a first result to be recorded")
    with database_proxy.outage("cut"):
        time.sleep(0.3)  # the blip's length, not a synchronisation
    # The worker still works: the blip also cut its LISTEN connection and the
    # connections its heartbeat and fetching use (a 0.3 s cut used to stop it).
    services.create_generation("After the blip", width=64, height=64)

    check_all_settled(emulator, media_storage, in_flight)
    # The blip did meet saves (else this test would prove nothing).
    assert "the database is unreachable" in in_flight.log("w1")


@pytest.mark.timeout(120)
def test_a_killed_worker_s_generations_are_recovered_and_run_again(
    make_user: Any, emulator: EmulatorServer, media_storage: Media, tmp_path: Path,
    processes: Callable[..., Any],
) -> None:
    workers = engine_workers(processes, tmp_path, emulator, media_storage)
    emulator.inject("hang", times=3, seconds=300)
    owner = make_user()
    for i in range(3):
        services.create_generation(f"Killed poster {i}", owner=owner, width=64, height=64)
    killed = workers.start("killed", "--concurrency", "8")
    wait_until(lambda: len(emulator.requests()) == 3, what="the calls to start")
    workers.end("killed", signal.SIGKILL)
    killed.wait(timeout=30)
    assert count(GenerationStatus.RUNNING) == 3
    assert jobs().filter(status="doing").count() == 3

    # Once the runs' deadline has passed, aigen_recover fails the dead jobs and queues
    # each generation once more (no duplicate job).
    later = timezone.now() + timedelta(seconds=run_deadline() + 1)
    report = services.recover_generations(now=later)
    assert sorted(report.requeued) == sorted(str(pk) for pk in
                                             Generation.objects.values_list("pk", flat=True))
    assert len(report.reclaimed) == 3
    assert jobs().filter(status="todo").count() == 3
    assert services.recover_generations(now=later).requeued == []  # settled once

    workers.start("next", "--concurrency", "8")
    wait_until(lambda: count(GenerationStatus.SUCCEEDED) == 3, timeout=60,
               what="every generation to succeed", explain=lambda: state_of(workers, emulator))
    # The killed run's requests were never answered: one paid call each.
    assert sorted(paid_calls(emulator).values()) == [1, 1, 1]
    wait_until(lambda: not jobs().filter(status__in=("doing", "todo")).exists(), timeout=30,
               what="every job to be recorded")
    check_outcome(emulator, media_storage, workers)
    assert workers.stop_all() == {"next": 0}


def test_a_job_fetched_but_never_run_by_a_live_worker_is_recovered(make_user: Any) -> None:
    # A fetch whose commit landed but whose answer was lost with the connection: the
    # job is ``doing`` under a worker that never heard of it, and that worker beats on.
    from procrastinate import sql
    from procrastinate.contrib.django import app

    generation = services.create_generation("Fetched, never run", owner=make_user(),
                                            width=64, height=64)
    database = app.connector.get_sync_connector()
    worker_id = database.execute_query_one(query=sql.queries["register_worker"])["worker_id"]
    fetched = database.execute_query_one(query=sql.queries["fetch_job"], queues=None,
                                         worker_id=worker_id)
    assert jobs().get(pk=fetched["id"], status="doing").args == {
        "generation_id": str(generation.pk)}

    # While a live run could still hold it, the job is left alone.
    assert services.recover_generations(pending_after=0).waiting == 1

    later = timezone.now() + timedelta(seconds=run_deadline() + 1)
    with connection.cursor() as cursor:  # the worker is still beating then
        cursor.execute("UPDATE procrastinate_workers SET last_heartbeat = %s WHERE id = %s",
                       [later, worker_id])
    report = services.recover_generations(now=later)
    assert report.reclaimed == [str(fetched["id"])]
    assert report.resent == [str(generation.pk)]
    assert jobs().get(pk=fetched["id"]).status == "failed"
    assert jobs().filter(status="todo").count() == 1
