"""Recovery is exact on the database queue (django-tasks-db): ``aigen_recover`` re-sends
only generations whose task is gone, leaves a long but healthy backlog alone, never
leaves two queued tasks for one generation, and reclaims the task rows of dead workers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from aigen_app import services
from aigen_app.models import Generation, GenerationStatus
from aigen_app.services import running

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_tasks")]

LONG_AGO = timedelta(hours=2)  # past GENERATION_DEADLINE (900 s) and any run deadline


def tasks_of(generation: Generation, status: str = "READY") -> list[Any]:
    return [row for row in DBTaskResult.objects.filter(status=status)
            if row.args_kwargs["args"] == [str(generation.pk)]]


def backlog(owner: Any, count: int) -> list[Generation]:
    """Pending generations queued long ago, their tasks still waiting in the queue."""
    generations = [services.create_generation(f"Backlog {i}", owner=owner, width=64,
                                              height=64) for i in range(count)]
    Generation.objects.update(queued_at=timezone.now() - LONG_AGO)
    return generations


def test_a_long_healthy_backlog_is_left_alone(make_user: Any) -> None:
    generations = backlog(make_user(), 3)

    report = services.recover_generations()

    assert (report.resent, report.waiting) == ([], 3)
    assert all(len(tasks_of(g)) == 1 for g in generations)
    assert DBTaskResult.objects.count() == 3


def test_a_lost_task_is_sent_once(make_user: Any) -> None:
    [lost, kept] = backlog(make_user(), 2)
    DBTaskResult.objects.filter(pk=tasks_of(lost)[0].pk).delete()

    report = services.recover_generations()
    again = services.recover_generations(now=timezone.now() + LONG_AGO)

    assert (report.resent, report.waiting) == ([str(lost.pk)], 1)
    assert (again.resent, again.waiting) == ([], 2)
    assert len(tasks_of(lost)) == len(tasks_of(kept)) == 1


def claimed_by_a_dead_worker(owner: Any) -> tuple[Generation, Any]:
    """A generation whose worker took its task and claimed it, then died long ago."""
    generation = services.create_generation("Lost run", owner=owner, width=64, height=64)
    [task] = tasks_of(generation)
    task.claim("dead-worker")
    assert running._claim(str(generation.pk)) is not None
    past = timezone.now() - LONG_AGO
    DBTaskResult.objects.filter(pk=task.pk).update(started_at=past)
    Generation.objects.filter(pk=generation.pk).update(deadline_at=past)
    return generation, task


def test_a_dead_workers_task_row_is_reclaimed_and_its_generation_queued_once(
    make_user: Any,
) -> None:
    generation, task = claimed_by_a_dead_worker(make_user())

    report = services.recover_generations()
    again = services.recover_generations()

    assert report.reclaimed == [str(task.pk)] and report.requeued == [str(generation.pk)]
    assert (again.reclaimed, again.requeued, again.resent) == ([], [], [])
    task.refresh_from_db()
    assert task.status == "FAILED" and "dead-worker" in task.worker_ids
    assert len(tasks_of(generation)) == 1  # the new one
    assert tasks_of(generation, "RUNNING") == []


def test_a_live_workers_task_is_not_reclaimed(make_user: Any) -> None:
    # Claimed by a worker moments ago: the run is alive however long the row waited.
    [generation] = backlog(make_user(), 1)
    [task] = tasks_of(generation)
    task.claim("live-worker")

    report = services.recover_generations()

    assert (report.reclaimed, report.resent, report.waiting) == ([], [], 1)
    task.refresh_from_db()
    assert task.status == "RUNNING"
    assert Generation.objects.get(pk=generation.pk).status == GenerationStatus.PENDING
