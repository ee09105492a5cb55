"""A task backend that runs generations in the background of the process that queued
them: the embedded default, so a create answers ``202`` at once instead of holding the
request for the whole generation (10-120 s against the real API).

Why our own: no maintained in-process backend serves both Django versions this app
supports. ``django-tasks-local`` (thread and process pools) imports ``django.tasks`` and
is for Django 6 only; ``django-tasks-local-db`` adds its own tables, migrations and a
polling watcher thread on top of django-tasks-db; ``django-tasks-inprocess`` is a 0.0.1.
This is the immediate backend of the installed tasks framework (Django 6's or the
backport's, which share ``ImmediateBackend._execute_task``) with that one call handed
to a few threads of this process.

Nothing is persisted beyond the ``Generation`` row: work queued when the process stops
stays ``pending`` (or ``running``), and ``manage.py aigen_recover`` re-queues or fails it
like any lost run. ``supports_defer`` stays False, as for the immediate backend. For
several processes or machines use a worker-backed backend (README: Background work).

``OPTIONS``: ``{"MAX_WORKERS": 4}``, generations running at once per process.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from typing import TYPE_CHECKING, Any

from django.db import connections

if TYPE_CHECKING:
    from django.tasks import TaskResult
    from django.tasks.backends.immediate import ImmediateBackend
else:
    try:
        from django.tasks import TaskResult
        from django.tasks.backends.immediate import ImmediateBackend
    except ImportError:  # Django 5.2: the backport
        from django_tasks import TaskResult
        from django_tasks.backends.immediate import ImmediateBackend

logger = logging.getLogger("aigen.tasks")

DEFAULT_MAX_WORKERS = 4


class InProcessBackend(ImmediateBackend):
    """Runs each task on a thread of this process; ``enqueue`` returns at once.

    The threads are daemons: a process that exits (a server restarting, Ctrl-C in
    ``generate``) does not wait for a generation in flight; its row is fenced by its run
    token and settled by ``aigen_recover``, as a dead worker's would be."""

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        options = params.get("OPTIONS") or {}
        self.max_workers = int(options.get("MAX_WORKERS", DEFAULT_MAX_WORKERS))
        self._queue: queue.Queue[TaskResult[Any, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._started_in = 0  # the pid that started the threads (a fork has none)

    def _execute_task(self, task_result: TaskResult[Any, Any]) -> None:
        self._start_threads()
        self._queue.put(task_result)

    def _start_threads(self) -> None:
        with self._lock:
            if self._started_in == os.getpid():
                return
            self._started_in = os.getpid()
            for number in range(self.max_workers):
                threading.Thread(target=self._work, daemon=True,
                                 name=f"aigen-{self.alias}-{number}").start()

    def _work(self) -> None:
        while True:
            task_result = self._queue.get()
            try:
                super()._execute_task(task_result)  # type: ignore[misc]
            except BaseException:  # the immediate backend lets KeyboardInterrupt through
                logger.exception("task %s stopped", task_result.id)
            finally:
                connections.close_all()  # this thread's connections only
                self._queue.task_done()

    def drain(self) -> None:
        """Wait until every task queued so far has run (tests, a clean shutdown)."""
        self._queue.join()
