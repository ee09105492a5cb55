"""A worker killed (SIGKILL) while the API generates its image: the one double charge no
system can avoid. The other workers carry on, ``aigen_recover`` queues the lost run
again once its deadline has passed, reports it as a possible double charge (and logs
it), reclaims the dead worker's task row; every generation succeeds, and that one
generation is the only one paid twice."""

from __future__ import annotations

import json
import logging
import signal
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from aigen_app.services.running import run_deadline
from tests.support import Media, wait_until

from .outcome import check_outcome, state_of
from .workers import Workers

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("database_tasks", "postgresql")]

GENERATIONS = 8


def count(status: GenerationStatus) -> int:
    return Generation.objects.filter(status=status).count()


@pytest.mark.timeout(120)
def test_a_killed_worker_costs_one_counted_double_charge(
    make_user: Any, emulator: EmulatorServer, media_storage: Media, tmp_path: Path,
    processes: Callable[..., Any], caplog: pytest.LogCaptureFixture,
) -> None:
    owner = make_user()
    for i in range(GENERATIONS):
        services.create_generation(f"Killed poster {i}", owner=owner, width=64, height=64)
    workers = Workers(processes, tmp_path, emulator, media_storage)
    # The emulator logs a paid reply before its latency: the image is generated (and
    # billed) while the answer is still on its way to the worker.
    emulator.set_latency(5.0)
    workers.start("victim")
    wait_until(lambda: any(e.outcome == "ok" for e in emulator.requests()),
               what="the API to generate the victim's image")
    workers.end("victim", signal.SIGKILL)
    workers.started["victim"].wait(timeout=10)
    [killed] = Generation.objects.filter(status=GenerationStatus.RUNNING)
    [victims_row] = DBTaskResult.objects.filter(status="RUNNING")

    emulator.set_latency(0.2)
    for name in ("w1", "w2"):
        workers.start(name)
    wait_until(lambda: count(GenerationStatus.SUCCEEDED) == GENERATIONS - 1,
               what="the other generations to succeed")
    # Time passes beyond the lost run's deadline. Only the victim's row ages: a live
    # worker may not yet have recorded the task row of a generation that just succeeded.
    Generation.objects.filter(pk=killed.pk).update(
        deadline_at=timezone.now() - timedelta(seconds=1))
    assert DBTaskResult.objects.filter(pk=victims_row.pk, status="RUNNING").update(
        started_at=timezone.now() - timedelta(seconds=run_deadline() + 1)) == 1
    out = StringIO()
    with caplog.at_level(logging.WARNING, logger="aigen.services"):
        call_command("aigen_recover", "--json", stdout=out)
    report = json.loads(out.getvalue())

    assert report["requeued"] == report["possible_double_charges"] == [str(killed.pk)]
    assert report["reclaimed"] == [str(victims_row.pk)]
    assert [r for r in caplog.records if "possible double charge" in r.getMessage()]
    wait_until(lambda: count(GenerationStatus.SUCCEEDED) == GENERATIONS,
               what="the lost run to run again", explain=lambda: state_of(workers, emulator))
    # A row turns succeeded before its run drops its receipt: let the runs end first.
    wait_until(lambda: not DBTaskResult.objects.filter(status__in=("READY", "RUNNING")).exists(),
               timeout=10, what="every task row to be recorded")
    assert workers.stop_all() == {"w1": 0, "w2": 0}
    check_outcome(emulator, media_storage, workers, inherent=[str(killed.pk)])
