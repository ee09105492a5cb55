"""A deferred generation delivered a little early (RQ schedules in whole seconds, clocks
differ) still runs, once its time comes; a stale delivery long before it does nothing."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("queued_tasks", "media_storage")]


def deferred(owner: Any, seconds: float) -> Generation:
    generation = services.create_generation("Deferred", owner=owner, width=64, height=64)
    Generation.objects.filter(pk=generation.pk).update(
        run_after=timezone.now() + timedelta(seconds=seconds))
    return generation


def test_an_early_delivery_waits_for_its_time(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    generation = deferred(make_user(), 1.5)
    started = time.time()

    assert services.run_generation(str(generation.pk)) == GenerationStatus.SUCCEEDED

    [call] = aigen_emulator.requests()
    assert call.wall_time >= started + 1.4  # not before its time


def test_a_delivery_long_before_its_time_does_nothing(
    make_user: Any, aigen_emulator: EmulatorServer
) -> None:
    generation = deferred(make_user(), 120)
    started = time.monotonic()

    assert services.run_generation(str(generation.pk)) == GenerationStatus.PENDING

    assert time.monotonic() - started < 10  # it did not sleep the two minutes
    assert aigen_emulator.requests() == []
