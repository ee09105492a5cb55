"""Riding out a database that is briefly unreachable (a failover, a restart, a network
blip), so work already paid for is not thrown away because of it.

Django reconnects lazily: a connection that broke stays broken until it is closed, and
the next query then opens a new one. ``through_outage`` does exactly that between tries.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.utils import timezone

logger = logging.getLogger("aigen.services")

T = TypeVar("T")

# What a lost or refused database connection raises (psycopg and sqlite3 both map onto
# these); anything else is a real error and is not retried.
DATABASE_UNREACHABLE = (OperationalError, InterfaceError)
# Backoff between tries (seconds): doubled each time, jittered, capped.
FIRST_WAIT, LONGEST_WAIT = 0.1, 5.0


def pauses() -> Iterator[float]:
    """The waits between tries of one outage: from ``FIRST_WAIT``, doubled each time up
    to ``LONGEST_WAIT``, each jittered (so many waiters do not retry in step)."""
    wait = FIRST_WAIT
    while True:
        yield wait * random.uniform(0.5, 1.0)  # noqa: S311 - jitter
        wait = min(LONGEST_WAIT, wait * 2)


def through_outage(write: Callable[[], T], *, until: datetime | None, what: str) -> T:
    """Call ``write`` (one whole transaction) until it gets through, reconnecting and
    backing off while the database is unreachable, until ``until`` (None: for as long
    as it takes); the last error is raised after that. Logs one warning per outage.

    Inside a transaction of the caller's nothing can be retried (the transaction is
    lost with its connection), so the first error is raised at once.
    """
    waits, warned = pauses(), False
    while True:
        try:
            result = write()
        except DATABASE_UNREACHABLE as exc:
            if connection.in_atomic_block:
                raise
            pause = next(waits)
            if until is not None and timezone.now().timestamp() + pause >= until.timestamp():
                logger.error("%s: the database stayed unreachable until %s; giving up (%s)",
                             what, until.isoformat(), exc)
                raise
            if not warned:
                logger.warning("%s: the database is unreachable (%s: %s); retrying until %s",
                               what, type(exc).__name__, exc,
                               "it answers" if until is None else until.isoformat())
                warned = True
            time.sleep(pause)
            # Drops the broken connection (only an unusable one: outside a transaction
            # of ours there is nothing else to lose), so the next try opens a new one.
            close_old_connections()
            continue
        if warned:
            logger.warning("%s: the database answers again", what)
        return result
