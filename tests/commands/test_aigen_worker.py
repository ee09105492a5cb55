"""``aigen_worker``'s signal handling, in process: an idle worker that a SIGTERM meets
inside its fetch's transaction lets the fetch end (db_worker would exit there, in the
middle of a query, and the transaction could not roll back: exit status 1 and a
traceback, seen once in CI); between fetches it exits at once, as db_worker does. The
stops of a worker with a task in flight are tested on real processes
(tests/workers/test_worker_stop.py)."""

from __future__ import annotations

import signal

import pytest
from django.db import transaction

from aigen_app.management.commands.aigen_worker import Worker

pytestmark = pytest.mark.django_db(transaction=True)


def idle_worker() -> Worker:
    # Only the loop's state: the signal handler reads nothing else, and a worker built
    # through its command would need every db_worker option of the installed version.
    worker = Worker.__new__(Worker)
    worker.running, worker.running_task = True, False
    worker.stop_timeout, worker.worker_id = 1.0, "idle"
    return worker


def test_a_sigterm_inside_the_fetch_transaction_lets_the_fetch_end() -> None:
    worker = idle_worker()
    with transaction.atomic():
        worker.shutdown(signal.SIGTERM, None)  # no SystemExit in the transaction
        assert worker.running is False


def test_a_sigterm_between_fetches_exits_at_once() -> None:
    worker = idle_worker()
    with pytest.raises(SystemExit) as exited:
        worker.shutdown(signal.SIGTERM, None)
    assert exited.value.code == 0
    assert worker.running is False
