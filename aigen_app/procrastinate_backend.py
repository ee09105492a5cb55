"""A ``django.tasks`` backend on procrastinate: hundreds of generations in flight per
worker process, on PostgreSQL (the ``procrastinate`` extra).

Why procrastinate: measured against the other engines (docs/workers.md), it is the
maintained one that holds hundreds of ``async def`` jobs per process on a handful of
database connections, outlives a database outage, can run work later, and installs on
both supported legs (Python 3.11 + Django 5.2, Python 3.12 + Django 6). It is no
``django.tasks`` backend itself, so this module maps ``enqueue`` (and ``run_after``)
onto procrastinate's ``defer`` (and ``schedule_at``). A generation runs as an
``async def`` job awaiting the API (``services.arun_generation``), so a worker holds as
many as its ``--concurrency``; any other task runs in procrastinate's thread pool.

Settings::

    INSTALLED_APPS += ["procrastinate.contrib.django"]
    TASKS = {"default": {"BACKEND": "aigen_app.procrastinate_backend.ProcrastinateBackend"}}
    PROCRASTINATE_ON_APP_READY = "aigen_app.procrastinate_backend.on_app_ready"

and run ``manage.py procrastinate worker --concurrency 256
--shutdown-graceful-timeout 30 --queues <TASK_QUEUE>``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from django.utils import timezone
from django.utils.module_loading import import_string
from procrastinate import App, PsycopgConnector, exceptions, sql
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.contrib.django.utils import connector_params

if TYPE_CHECKING:
    from django.tasks import TaskResult, TaskResultStatus
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import Task
    from django.tasks.exceptions import InvalidTask
else:
    try:
        from django.tasks import TaskResult, TaskResultStatus
        from django.tasks.backends.base import BaseTaskBackend
        from django.tasks.base import Task
        from django.tasks.exceptions import InvalidTask
    except ImportError:  # Django 5.2: the backport
        from django_tasks import TaskResult, TaskResultStatus
        from django_tasks.backends.base import BaseTaskBackend
        from django_tasks.base import Task
        from django_tasks.exceptions import InvalidTaskError as InvalidTask

logger = logging.getLogger("aigen.tasks")
T = TypeVar("T")

GENERATION_JOB = "aigen.run_generation"
TASK_JOB = "aigen.run_task"
# How long (seconds) the worker's pool waits for a database connection before giving up.
# psycopg-pool's default (30 s) ends the worker with PoolTimeout during a longer outage
# (procrastinate issue #1116); a day makes it wait the outage out, as aigen_worker does.
POOL_TIMEOUT = 24 * 3600.0


@app.task(name=GENERATION_JOB)
async def run_generation_job(generation_id: str) -> str:
    """Run one generation on the worker's event loop; returns its status."""
    from .services import arun_generation

    return await arun_generation(generation_id)


@app.task(name=TASK_JOB)
def run_task_job(module_path: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Run any other ``django.tasks`` task (a ``def``) in the worker's thread pool."""
    task: Task[Any, Any] = import_string(module_path)
    return task.func(*args, **kwargs)


class ProcrastinateBackend(BaseTaskBackend):
    """``enqueue`` defers a procrastinate job on the task's queue; the job runs in
    ``manage.py procrastinate worker`` processes on any machine sharing the database."""

    # The job recovery reads (services.task_rows), and its argument naming the generation.
    generation_job = GENERATION_JOB
    generation_argument = "generation_id"  # run_generation_job's parameter

    supports_defer = True
    supports_async_task = False

    def validate_task(self, task: Task[Any, Any]) -> None:
        super().validate_task(task)
        if task.takes_context:  # run_task_job calls the function with its own arguments
            raise InvalidTask(f"{task.module_path} takes a context (takes_context=True); "
                              "the procrastinate backend runs tasks without one.")

    def enqueue(self, task: Task[Any, Any], args: Any,
                kwargs: Any) -> TaskResult[Any, Any]:
        self.validate_task(task)
        from .tasks import run_generation_task

        job_kwargs: dict[str, Any]
        if task.module_path == run_generation_task.module_path:
            name, job_kwargs = GENERATION_JOB, {self.generation_argument: str(args[0])}
        else:
            name, job_kwargs = TASK_JOB, {"module_path": task.module_path,
                                          "args": list(args), "kwargs": dict(kwargs)}
        job_id = app.configure_task(name, queue=task.queue_name,
                                    schedule_at=_aware(task.run_after)).defer(**job_kwargs)
        return TaskResult(task=task, id=str(job_id), status=TaskResultStatus.READY,
                          enqueued_at=timezone.now(), started_at=None,
                          last_attempted_at=None, finished_at=None, args=list(args),
                          kwargs=dict(kwargs), backend=self.alias, errors=[], worker_ids=[])


def _aware(run_after: datetime | None) -> datetime | None:
    if run_after is None or timezone.is_aware(run_after):
        return run_after
    return timezone.make_aware(run_after)


# Queries a repeat could do twice: they are not retried through an outage.
_NOT_REPEATABLE = frozenset({sql.queries["defer_jobs"], sql.queries["defer_periodic_job"],
                             sql.queries["retry_job"]})


class _OutageProofConnector(PsycopgConnector):
    """procrastinate's worker connector, whose queries wait out an outage.

    procrastinate stops its worker when a side task (heartbeat, abort polling, the
    LISTEN connection) meets a lost connection, and a job whose ``finish_job`` met one
    stayed ``doing`` for good. Measured: a 0.3 s cut stopped a worker; a 15 s cut left
    some of 24 jobs ``doing``. So every query but the ones a repeat could do twice
    (``_NOT_REPEATABLE``) is retried while the error is a lost or refused connection,
    with the services' backoff (``services.outages.pauses``), and the listener reconnects
    the same way.
    A repeat of one whose first try committed is harmless but not silent: a repeated
    ``finish_job`` raises (the job is no longer ``doing``) and procrastinate logs it; a
    repeated ``register_worker`` leaves a worker row that stops beating, which
    procrastinate prunes.
    A ``fetch_job`` whose commit landed but whose answer was lost leaves that job
    ``doing`` under this live worker, which never runs it (a window of one round trip):
    ``aigen_recover`` fails it once it is older than any live run, and its generation,
    still pending, is queued again (``services.task_rows``)."""

    async def execute_query_async(self, query: Any, **arguments: Any) -> None:
        await self._through_outage(super().execute_query_async, query, arguments)

    async def execute_query_one_async(self, query: Any, **arguments: Any) -> Any:
        return await self._through_outage(super().execute_query_one_async, query, arguments)

    async def execute_query_all_async(self, query: Any, **arguments: Any) -> Any:
        return await self._through_outage(super().execute_query_all_async, query, arguments)

    async def listen_notify(self, on_notification: Any, channels: Any) -> None:
        listen = super().listen_notify
        await _through_outage(lambda: listen(on_notification=on_notification,
                                             channels=channels), "listening for new jobs")

    async def _through_outage(self, execute: Callable[..., Awaitable[T]], query: Any,
                              arguments: dict[str, Any]) -> T:
        if query in _NOT_REPEATABLE:
            return await execute(query, **arguments)
        return await _through_outage(lambda: execute(query, **arguments),
                                     _describe(query, arguments))


async def _through_outage(attempt: Callable[[], Awaitable[T]], what: str) -> T:
    """Await ``attempt()`` until it gets through a lost or refused connection, with the
    services' backoff; logs once per outage."""
    from .services.outages import pauses

    waits, warned = pauses(), False
    while True:
        try:
            result = await attempt()
        except exceptions.ConnectorException as exc:
            if not isinstance(exc.__cause__, psycopg.OperationalError):
                raise
            if not warned:
                logger.warning("%s: the database is unreachable; retrying", what)
                warned = True
            await asyncio.sleep(next(waits))
        else:
            if warned:
                logger.warning("%s: the database answers again", what)
            return result


def _describe(query: Any, arguments: dict[str, Any]) -> str:
    name = next((name for name, text in sql.queries.items() if text == query), "a query")
    job = arguments.get("job_id")
    return f"procrastinate {name}" + (f" (job {job})" if job is not None else "")


class _WorkerConnector(DjangoConnector):
    """Django's connector, whose worker connection pool waits out database outages."""

    def get_worker_connector(self) -> PsycopgConnector:
        return _OutageProofConnector(kwargs=connector_params(self.alias),
                                     timeout=POOL_TIMEOUT)


def on_app_ready(ready_app: App) -> None:
    """``PROCRASTINATE_ON_APP_READY``: the outage-proof worker connector, and a second
    stop signal that hands the generations in flight back at once."""
    connector = _WorkerConnector(alias=ready_app.connector.alias)  # type: ignore[attr-defined]
    ready_app.connector = connector
    ready_app.job_manager.connector = connector
    _install_second_signal()


def _install_second_signal() -> None:
    """procrastinate's worker handles the first SIGTERM/SIGINT (stop fetching, wait up
    to ``--shutdown-graceful-timeout``) and then restores the handlers it found, which
    by default end the process at once: the generations in flight would stay running
    until their deadline. This handler, installed before the worker starts, cancels
    them instead (each goes back to the queue, ``worker_stopped``), so the worker
    exits within a second or two. In a process with no run in flight (a web server,
    a shell) it does what the default did."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if previous in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(signum, _stop_runs_now)


def _stop_runs_now(signum: int, frame: FrameType | None) -> None:
    from .services.running import cancel_runs_in_flight

    if cancel_runs_in_flight():
        logger.warning("second stop signal: generations in flight go back to the queue")
        return
    signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT
                  else signal.SIG_DFL)
    os.kill(os.getpid(), signum)


__all__ = ["ProcrastinateBackend", "on_app_ready", "run_generation_job"]
