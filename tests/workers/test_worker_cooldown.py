"""429 cooldowns longer than ``MAX_RETRY_WAIT`` over a backlog, through real workers and
the shared (Redis) limiter: the 429'd runs and every run the limiter refuses locally
meanwhile are deferred without spending an attempt (one attempt allowed: a spent one
would fail the generation), and the backlog drains once the cooldowns lift."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from tests.support import Media, wait_until

from .outcome import check_outcome, state_of
from .workers import Workers, shared_limiter

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.usefixtures("database_tasks", "postgresql")]

BACKLOG = 12
COOLDOWNS = 2  # 429s naming a wait longer than MAX_RETRY_WAIT


@pytest.mark.timeout(120)
def test_a_backlog_behind_long_cooldowns_drains_through_workers(
    make_user: Any, emulator: EmulatorServer, media_storage: Media, tmp_path: Path,
    processes: Callable[..., Any], redis_url: str,
) -> None:
    emulator.inject("rate_limit", times=COOLDOWNS, retry_delay="2s")
    workers = Workers(processes, tmp_path, emulator, media_storage,
                      settings=shared_limiter(redis_url, MAX_RETRY_WAIT=0.5,
                                              TASK_MAX_ATTEMPTS=1))
    for name in ("w1", "w2"):
        workers.start(name)
    owner = make_user()
    for i in range(BACKLOG):
        services.create_generation(f"Cooldown poster {i}", owner=owner, width=64, height=64)

    wait_until(lambda: Generation.objects.filter(status=GenerationStatus.SUCCEEDED).count()
               == BACKLOG, what="the backlog to drain",
               explain=lambda: state_of(workers, emulator))
    # A row turns succeeded before its run drops its receipt: let the runs end first.
    assert workers.stop_all() == {"w1": 0, "w2": 0}

    check_outcome(emulator, media_storage, workers)
    generations = Generation.objects.all()
    assert {g.attempts for g in generations} == {1}  # no deferral spent an attempt
    assert Counter(e.status for e in emulator.requests()) == {429: COOLDOWNS, 200: BACKLOG}
