"""A real ``db_worker`` process consuming queued generations, and one killed mid-call."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
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
from aigen_app.models import Generation, GenerationStatus, Turn
from tests.support import TEST_API_KEY, Media, database_url, wait_until

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_tasks")]


@pytest.fixture
def start_worker(
    emulator: EmulatorServer, media_storage: Media
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``manage.py db_worker`` against the test database, media and emulator."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "AIGEN_TASK_BACKEND": "database",
        "AI_API_KEY": TEST_API_KEY,
        "AI_BASE_URL": emulator.base_url,
        **media_storage.process_env(),
        "DJANGO_DEBUG": "0",
    }
    started: list[subprocess.Popen[str]] = []

    def start(*extra: str) -> subprocess.Popen[str]:
        command = [sys.executable, "manage.py", "db_worker", "--no-reload",
                   "--no-startup-delay", "--interval", "0.1", *extra]
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def run_batch(start_worker: Callable[..., subprocess.Popen[str]]) -> str:
    """Run a worker until the queue is empty; return its output."""
    process = start_worker("--batch")
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 0, output
    return output




def test_worker_process_runs_queued_generations(
    make_user: Any, emulator: EmulatorServer, start_worker: Any
) -> None:
    owner = make_user()
    queued = [services.create_generation(f"Poster {i}", owner=owner, width=400, height=300)
              for i in range(3)]
    assert set(Generation.objects.values_list("status", flat=True)) == {"pending"}
    assert DBTaskResult.objects.count() == 3
    assert emulator.requests() == []

    run_batch(start_worker)

    for generation in queued:
        generation.refresh_from_db()
        assert generation.status == GenerationStatus.SUCCEEDED, generation.error_message
        assert (generation.image_width, generation.image_height) == (400, 300)
        assert generation.attempts == 1
    assert len(emulator.requests()) == 3
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}

    # A refinement queued now is run by another worker process, with the stored history.
    refinement = services.refine(queued[0], "Now in blue")
    run_batch(start_worker)
    refinement.refresh_from_db()
    assert refinement.status == GenerationStatus.SUCCEEDED, refinement.error_message
    assert emulator.requests()[-1].status == 200
    assert len(emulator.requests()[-1].body["contents"]) == 3
    assert Turn.objects.filter(conversation_id=refinement.conversation_id).count() == 4


def test_worker_killed_mid_generation_is_recovered(
    make_user: Any, emulator: EmulatorServer, start_worker: Any
) -> None:
    emulator.inject("hang", seconds=60)
    generation = services.create_generation("A slow one", owner=make_user(),
                                            width=256, height=256)
    worker = start_worker()
    wait_until(lambda: Generation.objects.get(pk=generation.pk).status == "running")
    # The emulator took the hang fault: the request is in flight there, hanging on it.
    wait_until(lambda: emulator.pending_faults() == [], what="the call to reach the emulator")
    worker.send_signal(signal.SIGKILL)
    worker.communicate(timeout=30)

    generation.refresh_from_db()
    assert generation.status == GenerationStatus.RUNNING
    assert generation.deadline_at is not None
    # Before the deadline the row may still belong to a live worker: left alone.
    call_command("aigen_recover", stdout=StringIO())
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.RUNNING

    # Time passes beyond AIGEN["GENERATION_DEADLINE"].
    Generation.objects.filter(pk=generation.pk).update(
        deadline_at=timezone.now() - timedelta(seconds=1)
    )
    out = StringIO()
    call_command("aigen_recover", stdout=out)
    # Its worker may have died after the API generated: counted as such.
    assert f"queued again: {generation.pk} (a possible double charge)" in out.getvalue()
    assert "1 queued again (possible double charges)" in out.getvalue()
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.PENDING
    assert generation.error_code == "worker_lost"
    # Running it again changes nothing and queues nothing more.
    tasks_before = DBTaskResult.objects.count()
    call_command("aigen_recover", stdout=StringIO())
    assert DBTaskResult.objects.count() == tasks_before

    run_batch(start_worker)
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.SUCCEEDED, generation.error_message
    assert generation.attempts == 2
    assert generation.error_code == ""
    assert [e.outcome for e in emulator.requests()][-1] == "ok"
