"""Starting ``manage.py procrastinate worker`` processes (the procrastinate backend,
``aigen_app.procrastinate_backend``) against the test's database, media and emulator."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.db import connection
from django.test import override_settings

from aigen_app.emulator import EmulatorServer
from tests.support import Media, database_url

from .workers import WorkerCommand, Workers

BACKEND = {"BACKEND": "aigen_app.procrastinate_backend.ProcrastinateBackend"}
APPLICATION_NAME = "aigen-engine-worker"


@contextmanager
def procrastinate_tasks() -> Iterator[None]:
    """The procrastinate backend in the test process (enqueue defers jobs), over an empty
    queue: procrastinate's models are unmanaged, so the flush between tests leaves its
    jobs behind, and one test's jobs would show in the next one's."""
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE procrastinate_jobs CASCADE")
    with override_settings(TASKS={"default": BACKEND}):
        yield


def jobs() -> Any:
    """procrastinate's jobs (imported here: its app is installed on PostgreSQL only)."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    return ProcrastinateJob.objects.all()


def worker_connections() -> int:
    """PostgreSQL connections the worker processes hold now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                       [APPLICATION_NAME])
        return int(cursor.fetchone()[0])


# procrastinate's worker, started through the same helper as ``aigen_worker``.
PROCRASTINATE_WORKER = WorkerCommand(
    argv=("manage.py", "procrastinate", "worker", "--name", "{name}",
          "--fetch-job-polling-interval", "0.5"),
    ready="Starting worker",
    env={"AIGEN_TASK_BACKEND": "procrastinate"},
)


def engine_workers(processes: Callable[..., subprocess.Popen[str]], logs: Path,
                   emulator: EmulatorServer, media: Media,
                   database: str | None = None,
                   settings: Mapping[str, Any] | None = None) -> Workers:
    """procrastinate workers (``Workers`` with ``PROCRASTINATE_WORKER``) whose database
    connections carry ``APPLICATION_NAME``, so ``worker_connections`` counts them."""
    url = database or database_url()
    return Workers(processes, logs, emulator, media,
                   f"{url}?application_name={APPLICATION_NAME}",
                   command=PROCRASTINATE_WORKER, settings=settings)
