"""Deferrals are not failures: a backlog held back by a 429 cooldown longer than the
client waits is deferred as often as it takes, without spending the generations'
``TASK_MAX_ATTEMPTS``, and drains once the cooldown lifts."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from django.db.models import Q
from django.test import override_settings
from django.utils import timezone

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from tests.support import aigen_settings_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("database_tasks")]

BACKLOG = 8
MAX_ATTEMPTS = 2
COOLDOWNS = 4  # 429s, each pausing the model longer than the client waits


def due() -> list[str]:
    """Pending generations whose time has come, as a worker would pick them up."""
    return [str(pk) for pk in Generation.objects.filter(
        Q(run_after__isnull=True) | Q(run_after__lte=timezone.now()),
        status=GenerationStatus.PENDING).values_list("pk", flat=True)]


def test_a_backlog_behind_long_cooldowns_is_deferred_then_succeeds(
    make_user: Any, emulator: EmulatorServer
) -> None:
    owner = make_user()
    ids = [str(services.create_generation(f"Backlog {i}", owner=owner, width=64,
                                          height=64).pk) for i in range(BACKLOG)]
    emulator.inject("rate_limit", times=COOLDOWNS, retry_delay="0.3s")
    deferred: Counter[str] = Counter()
    # A limiter in the process, so a 429's cooldown refuses the rest of the backlog
    # locally, without a request.
    with override_settings(AIGEN=aigen_settings_for(
            emulator, MAX_RETRY_WAIT=0.05, TASK_MAX_ATTEMPTS=MAX_ATTEMPTS,
            REQUESTS_PER_MINUTE=60_000)):
        deadline = time.monotonic() + 60
        while Generation.objects.filter(status=GenerationStatus.PENDING).exists():
            assert time.monotonic() < deadline, "the backlog did not drain"
            for pk in due():
                if services.run_generation(pk) == GenerationStatus.PENDING:
                    deferred[pk] += 1
            time.sleep(0.02)

    generations = Generation.objects.filter(pk__in=ids)
    assert {g.status for g in generations} == {GenerationStatus.SUCCEEDED}
    # At least one was deferred more often than its attempt budget, and still succeeded
    # (how often each one is depends on the machine's speed).
    assert max(deferred[pk] for pk in ids) > MAX_ATTEMPTS
    assert {g.attempts for g in generations} == {1}  # only the run that succeeded counts
    # Local refusals never reached the API: the 429s and one success each.
    outcomes = Counter(entry.status for entry in emulator.requests())
    assert outcomes == {429: COOLDOWNS, 200: BACKLOG}


def test_a_run_the_limiter_holds_back_past_its_deadline_is_deferred(
    make_user: Any, emulator: EmulatorServer
) -> None:
    owner = make_user()
    first, second = (services.create_generation(f"Capacity {i}", owner=owner, width=64,
                                                height=64) for i in range(2))
    # One request a minute: the second run waits for capacity past its 1 s deadline
    # without sending anything. With one attempt allowed, a counted run would fail.
    with override_settings(AIGEN=aigen_settings_for(
            emulator, REQUESTS_PER_MINUTE=1, DEADLINE=1.0, TASK_MAX_ATTEMPTS=1)):
        assert services.run_generation(str(first.pk)) == GenerationStatus.SUCCEEDED
        assert services.run_generation(str(second.pk)) == GenerationStatus.PENDING

    second.refresh_from_db()
    assert second.attempts == 0  # the run gave its attempt back
    assert second.run_after is not None and second.run_after > timezone.now()
    assert "No rate-limit capacity" in second.error_message
    assert len(emulator.requests()) == 1
