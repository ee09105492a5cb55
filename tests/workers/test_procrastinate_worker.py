"""The procrastinate backend (``aigen_app.procrastinate_backend``): one worker process
holds many generations in flight on a few database connections, and a second SIGTERM
hands them all back at once; the next worker finishes them, one paid call each
(PostgreSQL only)."""

from __future__ import annotations

import functools
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from tests.support import Media, wait_until

from .engine_workers import engine_workers, procrastinate_tasks, worker_connections
from .workers import Workers

pytestmark = pytest.mark.django_db(transaction=True)

IN_FLIGHT = 64
PROCRASTINATE_POOL = 4  # psycopg-pool's default size, which procrastinate keeps
DATABASE_THREADS = 2  # AIGEN["DATABASE_THREADS"] of these workers (the default is 4)


@pytest.fixture(autouse=True)
def _procrastinate_tasks(postgresql: None) -> Iterator[None]:
    # Requesting ``postgresql`` here skips the test on SQLite before the queue is
    # emptied (an autouse fixture runs before those a mark names).
    with procrastinate_tasks():
        yield


@pytest.fixture
def workers(processes: Callable[..., Any], tmp_path: Path, emulator: EmulatorServer,
            media_storage: Media) -> Workers:
    return engine_workers(processes, tmp_path, emulator, media_storage,
                          settings={"AIGEN": {"DATABASE_THREADS": DATABASE_THREADS}})


def count(status: GenerationStatus) -> int:
    return Generation.objects.filter(status=status).count()


def hung(emulator: EmulatorServer) -> int:
    return sum(e.outcome == "hang" for e in emulator.requests())


@pytest.mark.timeout(120)
def test_one_worker_holds_many_generations_in_flight_and_hands_them_back(
    make_user: Any, emulator: EmulatorServer, workers: Workers,
) -> None:
    # The emulator holds every request until the worker lets go: all of them are in
    # flight at once, in one process.
    emulator.inject("hang", times=IN_FLIGHT, seconds=300)
    owner = make_user()
    for i in range(IN_FLIGHT):
        services.create_generation(f"Flight poster {i}", owner=owner, width=64, height=64)
    worker = workers.start("many", "--concurrency", str(IN_FLIGHT * 2),
                           "--shutdown-graceful-timeout", "120")

    wait_until(lambda: hung(emulator) == IN_FLIGHT, what="every request to be in flight")
    assert count(GenerationStatus.RUNNING) == IN_FLIGHT
    # procrastinate's pool, its LISTEN connection and the database threads' own
    # connections: not one per generation.
    assert 1 <= worker_connections() <= PROCRASTINATE_POOL + 1 + DATABASE_THREADS

    # The first SIGTERM waits for the runs (up to the graceful timeout); the second
    # hands them back at once.
    for sent in (1, 2):
        worker.send_signal(signal.SIGTERM)
        if sent == 1:
            wait_until(functools.partial(lambda: "Stop requested" in workers.log("many")),
                       what="the first signal to be handled")
    assert worker.wait(timeout=30) == 0
    assert count(GenerationStatus.PENDING) == IN_FLIGHT
    assert set(Generation.objects.values_list("error_code", flat=True)) == {"worker_stopped"}

    workers.start("next", "--concurrency", str(IN_FLIGHT * 2))
    wait_until(lambda: count(GenerationStatus.SUCCEEDED) == IN_FLIGHT, timeout=60,
               what="every generation to succeed")
    paid = Counter(e.prompt for e in emulator.requests() if e.outcome == "ok")
    assert sorted(paid.values()) == [1] * IN_FLIGHT  # the held requests were never answered
    assert count(GenerationStatus.RUNNING) == 0
