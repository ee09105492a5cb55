"""Handing generations to the task backend, always after the rows are committed."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction

logger = logging.getLogger("aigen.services")


def enqueue_on_commit(generation_id: Any, *, run_after: datetime | None = None) -> None:
    """Queue ``generation_id`` once the current transaction commits (at once outside one).

    ``robust``: the rows are already committed when this runs, so a failing backend must
    not turn into an error for the caller; the generation stays ``pending`` and
    ``aigen_recover`` queues it again later.
    """
    from ..tasks import enqueue_generation

    def enqueue() -> None:
        enqueue_generation(str(generation_id), run_after=run_after)

    transaction.on_commit(enqueue, robust=True)


def can_defer() -> bool:
    """Whether the configured task backend can run work later (``run_after``)."""
    from ..tasks import get_backend

    return bool(get_backend().supports_defer)
