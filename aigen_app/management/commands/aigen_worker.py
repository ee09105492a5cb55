"""``manage.py aigen_worker``: django-tasks-db's ``db_worker``, made to outlive outages
and to stop within a bounded time.

A thin subclass of the maintained worker rather than a loop of our own: claiming,
running and recording tasks stay django-tasks-db's. It adds what production needs and
that worker does not do (it exits on any database error but a locked SQLite file):

- **Database outages**: the worker waits with backoff until the database answers again
  (one warning per outage) and carries on; a task's outcome is saved the same way, so
  no task row is left RUNNING because the outage began just as its task ended. A claim
  whose commit went through but whose answer was lost with the connection would leave
  its row RUNNING with no worker running it (and its generation pending until
  ``aigen_recover`` reclaims the row after the run deadline): after an outage the worker
  hands such rows of its own back to the queue before it fetches again.
- **Stop timeout**: on SIGTERM (or SIGINT) the task in flight may finish for at most
  ``--stop-timeout`` seconds; then, or at a second signal, the generation goes back to
  the queue at once (its result, if the API already answered, is kept: see
  ``services.receipts``) and the worker exits. Give the supervisor a longer timeout
  than this one (systemd's ``TimeoutStopSec``; see docs/workers.md). An idle worker
  exits at once, but one the signal meets inside its fetch's transaction lets the fetch
  end first (exiting mid-query left the transaction unable to roll back: exit status 1).

Options are ``db_worker``'s, plus ``--stop-timeout``.
"""

from __future__ import annotations

import logging
import signal
from argparse import ArgumentParser
from types import FrameType
from typing import Any

from django.db import connection
from django_tasks_db.compat import TaskResultStatus  # django.tasks' or the backport's
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

from ...services.outages import DATABASE_UNREACHABLE, through_outage
from .aigen_recover import seconds

logger = logging.getLogger("aigen.worker")

# Seconds a stopping worker lets its task run before handing it back.
DEFAULT_STOP_TIMEOUT = 30.0


class Worker(db_worker.Worker):
    def __init__(self, *, stop_timeout: float, **options: Any) -> None:
        super().__init__(**options)
        self.stop_timeout = stop_timeout

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        if self.running and self.running_task:
            # The first signal: let the task finish, within the stop timeout.
            self._arm_stop_timeout()
        elif self.running and connection.in_atomic_block:
            # Idle, but inside the fetch's transaction: db_worker would sys.exit() here,
            # in the middle of its query, fail to roll back and exit 1. The loop ends
            # when the fetch does (a task it claimed meanwhile runs under the timeout).
            logger.warning("Received %s - shutting down gracefully... (press Ctrl+C again "
                           "to force)", signal.strsignal(signum))
            self.running = False
            return
        super().shutdown(signum, frame)

    def _arm_stop_timeout(self) -> None:
        signal.signal(signal.SIGALRM, self._stop_now)
        signal.setitimer(signal.ITIMER_REAL, max(self.stop_timeout, 0.001))

    def _stop_now(self, signum: int, frame: FrameType | None) -> None:
        logger.warning("worker %s: the %gs stop timeout passed; handing its task back",
                       self.worker_id, self.stop_timeout)
        # As a second signal: SystemExit in the task, which hands its generation back.
        super().shutdown(signal.SIGTERM, frame)

    def run(self) -> None:
        while True:
            try:
                super().run()
                return
            except DATABASE_UNREACHABLE as exc:
                if not self.running:
                    return
                logger.info("worker %s: the database failed (%s); waiting for it",
                            self.worker_id, exc)
            # No thundering herd of workers at start-up: only after an outage.
            self.startup_delay = False
            # Waits for the database to answer, then hands back what the outage lost.
            through_outage(self._hand_back_lost_claims, until=None,
                           what=f"worker {self.worker_id}: the task queue")

    def _hand_back_lost_claims(self) -> None:
        """Put back to READY the rows this worker claimed last but does not run: between
        tasks, it runs none, so a RUNNING row it claimed last is a claim whose answer
        the outage lost. Were the row still run somewhere (two workers given one
        ``--worker-id``), its generation's own claim keeps it from running twice."""
        rows = DBTaskResult.objects.running().filter(backend_name=self.backend_name)
        lost = [row.pk for row in rows.only("pk", "worker_ids")
                if row.worker_ids and row.worker_ids[-1] == self.worker_id]
        if lost and (handed_back := rows.filter(pk__in=lost).update(
                status=TaskResultStatus.READY, started_at=None)):
            logger.warning("worker %s: handed back %d task row(s) it claimed as the "
                           "database went away", self.worker_id, handed_back)

    def run_task(self, db_task_result: DBTaskResult[Any, Any]) -> None:
        if not self.running:  # the stop came while this task was being claimed
            self._arm_stop_timeout()
        save = db_task_result.save

        def save_through_outage(*args: Any, **kwargs: Any) -> None:
            through_outage(lambda: save(*args, **kwargs), until=None,
                           what=f"task {db_task_result.pk}: recording its outcome")

        db_task_result.save = save_through_outage  # type: ignore[method-assign]
        super().run_task(db_task_result)


class Command(db_worker.Command):
    help = ("Run a database background worker (django-tasks-db's db_worker) that waits "
            "out database outages and stops within --stop-timeout.")

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--stop-timeout", type=seconds, default=DEFAULT_STOP_TIMEOUT, metavar="SECONDS",
            help="On SIGTERM, let the task in flight finish for at most this long, then "
                 "hand it back to the queue and exit (default: %(default)g). A second "
                 "SIGTERM hands it back at once.",
        )

    def handle(self, **options: Any) -> None:  # type: ignore[override]
        # db_worker's handle() builds its ``Worker`` by module-level name; swapping it
        # for the duration keeps all of handle() (options, logging, autoreload) theirs
        # instead of a copy here that would drift from the maintained one.
        original = db_worker.Worker
        db_worker.Worker = _worker_with(options.pop("stop_timeout"))  # type: ignore[misc]
        try:
            super().handle(**options)
        finally:
            db_worker.Worker = original  # type: ignore[misc]


def _worker_with(stop_timeout: float) -> type[Worker]:
    class Configured(Worker):
        def __init__(self, **options: Any) -> None:
            super().__init__(stop_timeout=stop_timeout, **options)

    return Configured
