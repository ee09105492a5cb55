"""Stopping ``manage.py aigen_worker``: a SIGTERM lets the generation in flight finish;
past ``--stop-timeout``, or at a second SIGTERM, the generation goes back to the queue
at once (not after its run deadline) and the next worker runs it, without a second
paid call."""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django_tasks_db.models import DBTaskResult

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from tests.support import Media, wait_until

from .outcome import check_outcome
from .workers import Workers

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_tasks")]


@pytest.fixture
def workers(processes: Callable[..., Any], tmp_path: Path, emulator: EmulatorServer,
            media_storage: Media) -> Workers:
    return Workers(processes, tmp_path, emulator, media_storage)


def in_flight(make_user: Any, emulator: EmulatorServer, workers: Workers,
              *options: str) -> tuple[Generation, subprocess.Popen[str]]:
    """A generation whose request the emulator holds (a hang), and its worker."""
    emulator.inject("hang", seconds=120)
    generation = services.create_generation("Stopped poster", owner=make_user(),
                                            width=64, height=64)
    worker = workers.start("stopping", *options)
    wait_until(lambda: [e.outcome for e in emulator.requests()] == ["hang"],
               what="the request to reach the API")
    return generation, worker


def handled(workers: Workers, signals: int) -> bool:
    return workers.log("stopping").count("Received Terminated") >= signals


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("stop_timeout", "signals"), [("60", 2), ("0.5", 1)],
                         ids=["second-sigterm", "stop-timeout"])
def test_a_stopped_worker_hands_its_generation_back_at_once(
    make_user: Any, emulator: EmulatorServer, workers: Workers, media_storage: Media,
    stop_timeout: str, signals: int,
) -> None:
    generation, worker = in_flight(make_user, emulator, workers, "--stop-timeout", stop_timeout)

    for sent in range(1, signals + 1):
        workers.end("stopping")
        # Signals sent together would arrive as one: wait for each to be handled.
        wait_until(functools.partial(handled, workers, sent), what="the signal to be handled")
    assert worker.wait(timeout=30) == 0

    generation.refresh_from_db()
    assert generation.status == GenerationStatus.PENDING
    assert generation.error_code == "worker_stopped"
    assert DBTaskResult.objects.filter(status="RUNNING").count() == 0
    assert DBTaskResult.objects.filter(status="READY").count() == 1  # queued once more
    workers.start("next")
    wait_until(lambda: Generation.objects.filter(status=GenerationStatus.SUCCEEDED).exists(),
               what="the next worker to run it")
    # The held request was never answered: one paid call in all.
    assert [e.outcome for e in emulator.requests()] == ["hang", "ok"]
    # The row turns succeeded before the run drops its receipt: let the run end first.
    assert workers.stop_all() == {"next": 0}
    check_outcome(emulator, media_storage, workers)


@pytest.mark.timeout(60)
def test_a_sigterm_lets_the_generation_in_flight_finish(
    make_user: Any, emulator: EmulatorServer, workers: Workers, media_storage: Media,
) -> None:
    emulator.set_latency(1.0)
    generation = services.create_generation("Finished poster", owner=make_user(),
                                            width=64, height=64)
    worker = workers.start("finishing")
    wait_until(lambda: emulator.requests() or Generation.objects.filter(
        pk=generation.pk, status=GenerationStatus.RUNNING).exists(), what="the run")

    workers.end("finishing")

    assert worker.wait(timeout=30) == 0
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.SUCCEEDED
    check_outcome(emulator, media_storage, workers)
