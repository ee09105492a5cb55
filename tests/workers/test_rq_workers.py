"""The Redis-backed alternative to ``db_worker``: django-tasks-rq's backend and several
``manage.py rqworker`` processes consuming one queue."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.test import override_settings

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from aigen_app.tasks import enqueue_generation, get_backend
from tests.support import Media, aigen_settings_for, database_url, wait_until
from tests.support.processes import process_env, stop_group

pytest.importorskip("django_tasks_rq", reason="needs the rq extra (django-tasks-rq)")

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = 3




@pytest.mark.timeout(180)
def test_several_rq_workers_run_each_generation_once(
    redis_url: str, make_user: Any, emulator: EmulatorServer, media_storage: Media,
    processes: Callable[..., Any],
) -> None:
    queue = f"aigen-test-{uuid.uuid4().hex[:8]}"  # no other run's jobs, nor ours for them
    overrides: dict[str, Any] = {
        # The task is declared on the "default" queue (which the backend checks when the
        # task module is imported); generations go to AIGEN["TASK_QUEUE"].
        "RQ_QUEUES": {name: {"URL": redis_url, "DEFAULT_TIMEOUT": 900}
                      for name in ("default", queue)},
        "TASKS": {"default": {"BACKEND": "django_tasks_rq.RQBackend",
                              "QUEUES": ["default", queue]}},
        # A 429 asking for longer than MAX_RETRY_WAIT defers the generation (run_after),
        # which RQ's scheduler must then run.
        "AIGEN": aigen_settings_for(emulator, TASK_QUEUE=queue, MAX_RETRY_WAIT=1),
    }
    env = process_env({**overrides, **media_storage.process_settings()},
                      DATABASE_URL=database_url())
    workers = [processes(["manage.py", "rqworker", queue, "--with-scheduler",
                          "--job-class", "django_tasks_rq.Job", "--name", f"w{i}-{queue}"],
                         env)
               for i in range(WORKERS)]

    with override_settings(**overrides):
        import django_rq
        from rq import Worker

        connection = django_rq.get_connection(queue)
        wait_until(lambda: len(Worker.all(connection=connection)) >= WORKERS
                 and all(w.poll() is None for w in workers), 60, "the workers to start")
        # Longer than services.EARLY_RUN_TOLERANCE: only RQ's scheduler can run it again.
        emulator.inject("rate_limit", retry_delay="7s")
        owner = make_user()
        generations = [services.create_generation(f"RQ poster {i}", owner=owner,
                                                  width=256, height=256)
                       for i in range(12)]
        # Every generation delivered twice, as when aigen_recover re-sends one that was
        # in fact still queued: only one delivery may call the API.
        duplicates = [enqueue_generation(str(g.pk)) for g in generations]

        def settled() -> bool:
            statuses = Generation.objects.values_list("status", flat=True)
            return all(status == GenerationStatus.SUCCEEDED for status in statuses)

        try:
            wait_until(settled, 120, "every generation to succeed")
        except AssertionError:
            details = [stop_group(worker)[1][-2000:] for worker in workers]
            states = list(Generation.objects.values_list("status", "error_message"))
            raise AssertionError(f"{states}\n" + "\n---\n".join(details)) from None
        backend = get_backend()
        wait_until(lambda: all(backend.get_result(r.id).status == "SUCCESSFUL"
                             for r in duplicates), 30, "the duplicate deliveries to run")
        ran_on = Counter(name for r in duplicates
                         for name in backend.get_result(r.id).worker_ids)

    for worker in workers:
        assert worker.poll() is None, worker.communicate()[1][-3000:]
    log = emulator.requests()
    assert Counter(entry.outcome for entry in log) == {"ok": 12, "rate_limit": 1}
    assert sorted(e.prompt for e in log if e.outcome == "ok") == sorted(
        g.prompt for g in generations)  # each generation's call exactly once
    attempts = Counter(Generation.objects.values_list("attempts", flat=True))
    # The rate-limited one ran again after its delay (below); its deferral gave its
    # attempt back (a long wait is not a failed run).
    assert attempts == {1: 12}
    [refused] = [entry for entry in log if entry.outcome == "rate_limit"]
    [again] = [e for e in log if e.outcome == "ok" and e.prompt == refused.prompt]
    assert again.wall_time >= refused.wall_time + 7
    assert len(ran_on) > 1  # the queue was shared, not drained by one worker
