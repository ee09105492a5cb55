"""The background task that runs a generation, and how it is queued.

Django 6 ships ``django.tasks``; on Django 5.2 the ``django-tasks`` backport stands in.
The task takes the generation's primary key as a string; the ``Generation`` row, not
the task result, is the status clients poll. The tasks framework has no retries or time
limits, so the app keeps its own: ``Generation.attempts`` against
``AIGEN["TASK_MAX_ATTEMPTS"]`` and ``Generation.deadline_at`` for ``aigen_recover``.

Backends (``settings.TASKS``, alias ``AIGEN["TASK_BACKEND"]``, queue
``AIGEN["TASK_QUEUE"]``):

- ``ImmediateBackend`` (Django's default): runs the generation in the request that
  created it, right after its transaction commits. Good for scripts and tests.
- ``aigen_app.inprocess.InProcessBackend`` (the demo project's default): the same, on a
  thread of the process, so a create answers at once. Nothing survives a restart but
  what ``aigen_recover`` settles. For development and small sites.
- ``django_tasks_db.DatabaseBackend``: rows in the database, consumed by
  ``python manage.py aigen_worker --queue-name <TASK_QUEUE>`` (``db_worker`` made to
  outlive database outages; docs/workers.md) on one machine or several
  sharing PostgreSQL. It can defer work, so rate-limited generations wait and retry.
- ``aigen_app.procrastinate_backend.ProcrastinateBackend`` (the ``procrastinate`` extra,
  PostgreSQL only): generations run as ``async def`` jobs of ``manage.py procrastinate
  worker --concurrency 256``, hundreds in flight per process on a handful of database
  connections; it can defer. Add ``procrastinate.contrib.django`` to INSTALLED_APPS and
  set ``PROCRASTINATE_ON_APP_READY`` (docs/workers.md).
- RQ (the ``rq`` extra: ``django-tasks-rq`` and ``django-rq``): add ``django_rq`` to
  INSTALLED_APPS, set ``"BACKEND": "django_tasks_rq.RQBackend"``, list every queue in
  ``RQ_QUEUES`` (``default`` too: the task is declared on it) with a
  ``DEFAULT_TIMEOUT`` longer than a generation may run, and run ``manage.py rqworker
  <TASK_QUEUE> --with-scheduler --job-class django_tasks_rq.Job`` (the scheduler runs
  deferred generations) on as many machines as you like. The demo project does all
  this with ``AIGEN_TASK_BACKEND=rq``. Celery: a tasks backend for Celery plugs in the
  same way. Running needs nothing of the backend beyond ``enqueue`` and the
  ``supports_defer`` flag (``aigen_recover`` also reads the queue of the two that keep it
  in the database: ``services.task_rows``); where it cannot defer, a generation
  told by the API to wait longer than ``AIGEN["MAX_RETRY_WAIT"]`` (a 429, or a 5xx with
  Retry-After) fails with that reason.

Run ``manage.py aigen_recover`` on a schedule (cron, every few minutes) whatever the
backend: it settles generations whose worker died.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .conf import aigen_settings

if TYPE_CHECKING:
    from django.tasks import task, task_backends
    from django.tasks.backends.base import BaseTaskBackend
else:
    try:
        from django.tasks import task, task_backends
        from django.tasks.backends.base import BaseTaskBackend
    except ImportError:  # Django 5.2: the backport
        from django_tasks import task, task_backends
        from django_tasks.backends.base import BaseTaskBackend

__all__ = ["enqueue_generation", "get_backend", "run_generation_task"]


@task()
def run_generation_task(generation_id: str) -> str:
    """Run one generation; returns its status afterwards. Safe to run more than once."""
    from .services import run_generation

    return run_generation(generation_id)


def get_backend() -> BaseTaskBackend:
    """The task backend generations run on (``AIGEN["TASK_BACKEND"]``)."""
    return task_backends[aigen_settings.TASK_BACKEND]


def enqueue_generation(generation_id: str, *, run_after: datetime | None = None) -> Any:
    """Queue a run of ``generation_id`` (no earlier than ``run_after``, when given)."""
    bound = run_generation_task.using(
        backend=aigen_settings.TASK_BACKEND,
        queue_name=aigen_settings.TASK_QUEUE,
        run_after=run_after,
    )
    return bound.enqueue(str(generation_id))
