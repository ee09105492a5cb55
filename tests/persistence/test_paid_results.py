"""A paid result survives the database failing while it is saved: the save is retried,
and when the database stays away past the run's deadline, ``aigen_recover`` records the
result the run kept, without calling the API again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from aigen_app.services import receipts, running, turns
from tests.conftest import Media, reply_parts
from tests.persistence.storages import referenced_files

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("queued_tasks")]


def failing(times: int | None, real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, raising the error of a lost connection on its first ``times`` calls
    (every call when None)."""
    calls = iter(range(10**6))

    def call(*args: Any, **kwargs: Any) -> Any:
        if times is None or next(calls) < times:
            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    return call


def pending(make_user: Any) -> Generation:
    return services.create_generation("A paid poster", owner=make_user(), width=64, height=64)


def test_a_save_that_fails_is_retried_and_the_result_kept(
    make_user: Any, aigen_emulator: EmulatorServer, media_storage: Media,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generation = pending(make_user)
    monkeypatch.setattr(turns, "fill_model_turn", failing(2, turns.fill_model_turn))

    assert services.run_generation(str(generation.pk)) == GenerationStatus.SUCCEEDED

    generation.refresh_from_db()
    assert len(aigen_emulator.requests()) == 1
    assert reply_parts(generation)
    assert set(media_storage.files()) == referenced_files()  # no receipt, no orphan
    assert generation.image.name in referenced_files()


def test_a_commit_whose_answer_was_lost_keeps_its_files(
    make_user: Any, aigen_emulator: EmulatorServer, media_storage: Media,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The transaction committed, then the connection broke before the next query.
    monkeypatch.setattr(running, "_after_finish", failing(1, running._after_finish))
    generation = pending(make_user)

    assert services.run_generation(str(generation.pk)) == GenerationStatus.SUCCEEDED

    generation.refresh_from_db()
    assert generation.image.name in media_storage.files()
    assert set(media_storage.files()) == referenced_files()


def test_a_result_kept_past_the_deadline_is_recorded_by_recovery(
    make_user: Any, aigen_emulator: EmulatorServer, media_storage: Media,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generation = pending(make_user)
    monkeypatch.setattr(running, "run_deadline", lambda: 0.5)
    monkeypatch.setattr(turns, "fill_model_turn", failing(None, turns.fill_model_turn))

    with pytest.raises(running.ResultKept):
        services.run_generation(str(generation.pk))

    generation.refresh_from_db()
    assert generation.status == GenerationStatus.RUNNING
    assert receipts.load(generation.pk, generation.run_token) is not None
    monkeypatch.undo()
    monkeypatch.setattr(running, "run_deadline", lambda: 0.5)  # undone with the rest

    report = services.recover_generations(now=timezone.now() + timedelta(seconds=1))

    assert report.finished == [str(generation.pk)] and report.requeued == []
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.SUCCEEDED
    assert len(aigen_emulator.requests()) == 1  # never paid twice
    assert reply_parts(generation)
    assert set(media_storage.files()) == referenced_files()


def test_a_kept_result_of_a_cancelled_generation_is_deleted(
    make_user: Any, aigen_emulator: EmulatorServer, media_storage: Media,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generation = pending(make_user)
    monkeypatch.setattr(running, "run_deadline", lambda: 0.5)
    monkeypatch.setattr(turns, "fill_model_turn", failing(None, turns.fill_model_turn))
    with pytest.raises(running.ResultKept):
        services.run_generation(str(generation.pk))
    monkeypatch.undo()
    generation.refresh_from_db()
    token = generation.run_token
    # Cancelled meanwhile: the run's token no longer holds the row.
    Generation.objects.filter(pk=generation.pk).update(status=GenerationStatus.CANCELED,
                                                       run_token=None)
    generation.status = GenerationStatus.RUNNING  # as recovery read it

    assert running.finish_kept_result(generation) == GenerationStatus.CANCELED
    assert receipts.load(generation.pk, token) is None
    assert set(media_storage.files()) == referenced_files() == set()
