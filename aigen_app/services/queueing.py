"""Handing generations to the task backend, always after the rows are committed.

The services decide *that* a generation is to run (now, or after a rate limit's wait);
the task layer (``aigen_app.tasks``) decides *how*. So data flows one way, services never
import the task layer: it registers itself here when the app is ready
(``AigenConfig.ready``), through the small ``Queue`` interface below.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

logger = logging.getLogger("aigen.services")


class Queue(Protocol):
    """What the services need of the task layer."""

    def enqueue(self, generation_id: str, *, run_after: datetime | None = None) -> Any:
        """Queue ``run_generation(generation_id)``, not before ``run_after``."""

    def backend(self) -> Any:
        """The configured task backend (``supports_defer``, ``alias``...)."""

    @property
    def task_path(self) -> str:
        """The module path of the task that runs a generation."""


_queue: Queue | None = None


def register_queue(queue: Queue) -> None:
    """Make ``queue`` the one generations are handed to (the task layer, at app ready)."""
    global _queue
    _queue = queue


def registered() -> Queue:
    if _queue is None:
        raise ImproperlyConfigured(
            "No task queue is registered: add 'aigen_app' to INSTALLED_APPS (its "
            "AppConfig.ready registers aigen_app.tasks).")
    return _queue


def enqueue_on_commit(generation_id: Any, *, run_after: datetime | None = None) -> None:
    """Queue ``generation_id`` once the current transaction commits (at once outside one).

    ``robust``: the rows are already committed when this runs, so a failing backend must
    not turn into an error for the caller; the generation stays ``pending`` and
    ``aigen_recover`` queues it again later.
    """
    queue = registered()

    def enqueue() -> None:
        queue.enqueue(str(generation_id), run_after=run_after)

    transaction.on_commit(enqueue, robust=True)


def can_defer() -> bool:
    """Whether the configured task backend can run work later (``run_after``)."""
    return bool(registered().backend().supports_defer)
