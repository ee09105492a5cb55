"""What the task queue still holds for generations, where the backend lets us look.

django-tasks-db keeps its queue in the database (``DBTaskResult`` rows), so
``aigen_recover`` can tell a generation waiting in a long but healthy backlog (its task
row is still READY) from one whose task was lost, and re-send only the latter; and it
can reclaim the rows of workers that died mid-task, which that backend leaves RUNNING
forever. procrastinate's jobs (``aigen_app.procrastinate_backend``) are read the same
way: ``todo`` jobs wait, ``doing`` jobs of a worker whose heartbeat is older than any
live run (SIGKILL, a lost machine), or started longer ago than any live run, are dead
and are failed so that the generation is queued once more. Other backends (RQ, Celery)
keep their queue out of sight: there, pending generations are re-sent after a while as
before (a duplicate delivery is harmless, as only one run can claim a generation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max, Q

from . import queueing

logger = logging.getLogger("aigen.services")


class WorkerLost(Exception):
    """Recorded on a task row whose worker died mid-task (``reclaim_dead_task_rows``)."""


@dataclass(frozen=True)
class QueuedTasks:
    """Generations with a task the database backend still holds: ``waiting`` (READY,
    maybe deferred) or ``running`` (claimed by a worker whose run may still be alive)."""

    waiting: frozenset[str]
    running: frozenset[str]

    def holds(self, generation_id: object) -> bool:
        return str(generation_id) in self.waiting | self.running


def _task_rows() -> Any | None:
    """The generation task's rows on the configured backend, when it keeps them in the
    database (django-tasks-db); None otherwise."""
    queue = queueing.registered()
    backend = queue.backend()
    try:
        from django_tasks_db.backend import DatabaseBackend
        from django_tasks_db.models import DBTaskResult
    except (ImportError, RuntimeError):  # not installed, or not in INSTALLED_APPS
        return None
    if not isinstance(backend, DatabaseBackend):
        return None
    return DBTaskResult.objects.filter(backend_name=backend.alias,
                                       task_path=queue.task_path)


def _procrastinate_jobs() -> tuple[Any, str] | None:
    """The generation jobs, and the job argument naming the generation, when the
    configured backend is procrastinate's; else None.

    The backend names both (``generation_job``, ``generation_argument``), so the
    services need not import the task layer to recognise them."""
    backend = queueing.registered().backend()
    job_name = getattr(backend, "generation_job", None)
    if job_name is None:
        return None
    from procrastinate.contrib.django.models import ProcrastinateJob

    return ProcrastinateJob.objects.filter(task_name=job_name), backend.generation_argument


def _dead_jobs(jobs: Any, stale_before: datetime) -> Any:
    """``doing`` jobs whose worker is gone or silent since before ``stale_before``, or
    that started before it (longer ago than any live run lasts). The latter catches a
    live worker's job it never ran: its fetch committed but the answer was lost with the
    connection, so the worker fetched again and the job stays ``doing`` for as long as
    that worker beats."""
    started = Max("procrastinateevent__at", filter=Q(procrastinateevent__type="started"))
    return jobs.filter(status="doing").annotate(started_at=started).filter(
        Q(worker__isnull=True) | Q(worker__last_heartbeat__lt=stale_before)
        | Q(started_at__lt=stale_before))


def _queued_jobs(jobs: Any, argument: str, stale_before: datetime) -> QueuedTasks:
    waiting = {str(args.get(argument)) for args in
               jobs.filter(status="todo").values_list("args", flat=True)}
    dead = _dead_jobs(jobs, stale_before).values_list("pk", flat=True)
    running = {str(args.get(argument)) for args in
               jobs.filter(status="doing").exclude(pk__in=dead).values_list("args", flat=True)}
    return QueuedTasks(frozenset(waiting), frozenset(running))


def _reclaim_dead_jobs(jobs: Any, stale_before: datetime) -> list[str]:
    """Fail the dead workers' ``doing`` jobs through procrastinate's own function."""
    from procrastinate import sql
    from procrastinate.contrib.django import app

    reclaimed = []
    for pk in _dead_jobs(jobs, stale_before).values_list("pk", flat=True):
        try:
            with transaction.atomic():
                app.connector.get_sync_connector().execute_query(
                    query=sql.queries["finish_job"], job_id=pk, status="failed",
                    delete_job=False)
        except Exception:
            if jobs.filter(pk=pk, status="doing").exists():
                raise  # a real failure (the database, the query), not a race
            logger.info("procrastinate job %s finished meanwhile", pk)
            continue
        reclaimed.append(str(pk))
    if reclaimed:
        logger.warning("reclaimed %d procrastinate job(s) of dead workers", len(reclaimed))
    return reclaimed


def queued_tasks(*, stale_before: datetime) -> QueuedTasks | None:
    """The generations the database backend still holds a task for (RUNNING rows
    started before ``stale_before`` count as dead, not running); None when the
    backend's queue cannot be seen."""
    generation_jobs = _procrastinate_jobs()
    if generation_jobs is not None:
        jobs, argument = generation_jobs
        return _queued_jobs(jobs, argument, stale_before)
    rows = _task_rows()
    if rows is None:
        return None
    waiting: set[str] = set()
    running: set[str] = set()
    found = rows.filter(status__in=("READY", "RUNNING")).values_list(
        "status", "started_at", "args_kwargs")
    for status, started_at, args_kwargs in found.iterator():
        generation_id = str((args_kwargs.get("args") or [""])[0])
        if status == "READY":
            waiting.add(generation_id)
        elif started_at is not None and started_at >= stale_before:
            running.add(generation_id)
    return QueuedTasks(frozenset(waiting), frozenset(running))


def reclaim_dead_task_rows(*, stale_before: datetime, now: datetime) -> list[str]:
    """Mark FAILED the generation task's rows still RUNNING that started before
    ``stale_before`` (longer ago than any live run lasts: their worker died); returns
    their ids. Their generations are settled by ``recover_generations`` itself.
    procrastinate: its dead workers' jobs (``_dead_jobs``) are failed likewise."""
    generation_jobs = _procrastinate_jobs()
    if generation_jobs is not None:
        return _reclaim_dead_jobs(generation_jobs[0], stale_before)
    rows = _task_rows()
    if rows is None:
        return []
    dead = list(rows.filter(status="RUNNING", started_at__lt=stale_before)
                .values_list("pk", flat=True))
    if dead:
        rows.filter(pk__in=dead, status="RUNNING").update(
            status="FAILED", finished_at=now,
            exception_class_path=f"{__name__}.{WorkerLost.__qualname__}",
            traceback="The worker running this task stopped before it finished "
                      "(reclaimed by aigen_recover).")
        logger.warning("reclaimed %d task row(s) of dead workers", len(dead))
    return [str(pk) for pk in dead]


def stale_before(now: datetime, run_deadline: float) -> datetime:
    """Task rows RUNNING since before this have outlived any live run."""
    return now - timedelta(seconds=run_deadline)
