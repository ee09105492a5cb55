"""The embedded default backend (``aigen_app.inprocess``): a create answers 202 while
the generation is still to run, and the generation completes in the background of the
same process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from aigen_app.emulator import EmulatorServer
from aigen_app.inprocess import InProcessBackend
from aigen_app.models import Generation, GenerationStatus
from aigen_app.signals import generation_started
from aigen_app.tasks import get_backend
from tests.support import Media

pytestmark = pytest.mark.django_db(transaction=True)
IN_PROCESS = {"BACKEND": "aigen_app.inprocess.InProcessBackend",
              "OPTIONS": {"MAX_WORKERS": 2}}


@pytest.fixture
def in_process_tasks() -> Iterator[InProcessBackend]:
    with override_settings(TASKS={"default": IN_PROCESS}):
        backend = get_backend()
        assert isinstance(backend, InProcessBackend)
        yield backend
        backend.drain()


@pytest.fixture
def held_runs() -> Iterator[threading.Event]:
    """Every run waits, once started, until the test sets the event."""
    release = threading.Event()

    def hold(**kwargs: Any) -> None:
        assert release.wait(timeout=60), "the test never released the run"

    generation_started.connect(hold, weak=False)
    yield release
    release.set()
    generation_started.disconnect(hold)


def test_a_create_answers_202_at_once_and_the_generation_completes_in_the_background(
    in_process_tasks: Any, held_runs: threading.Event, aigen_emulator: EmulatorServer,
    media_storage: Media, make_user: Any,
) -> None:
    cache.clear()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=make_user()).key}")

    response = client.post("/api/generations/", {"prompt": "A lighthouse", "width": 64,
                                                 "height": 48}, format="json")

    # The run is held in its thread: the response cannot have waited for it.
    assert response.status_code == 202, response.json()
    assert response.json()["status"] in ("pending", "running")
    assert response["Retry-After"]
    held_runs.set()
    in_process_tasks.drain()
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.status == GenerationStatus.SUCCEEDED, generation.error_message
    assert client.get(f"/api/generations/{generation.pk}/").json()["status"] == "succeeded"
    assert len(aigen_emulator.requests()) == 1


def test_a_crashing_task_is_logged_and_the_threads_keep_working(
    in_process_tasks: Any, aigen_emulator: EmulatorServer, media_storage: Media,
    make_user: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    from aigen_app import services

    def crash(**kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    generation_started.connect(crash, weak=False)
    try:
        first = services.create_generation("A fox", owner=make_user(), width=64, height=48)
        in_process_tasks.drain()
    finally:
        generation_started.disconnect(crash)
    second = services.create_generation("A fox", owner=make_user(), width=64, height=48)
    in_process_tasks.drain()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.error_code) == ("failed", "internal_error")
    assert second.status == GenerationStatus.SUCCEEDED
