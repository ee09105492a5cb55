"""A paid result survives the database failing while it is saved: the save is retried,
and when the database stays away past the run's deadline, ``aigen_recover`` records the
result the run kept, without calling the API again. ``aigen_recover --sweep-files``
removes receipts no run needs (a failed delete left them) and never the files of one
still needed. A claim, and a deferral, that meet a lost connection wait for the
database too."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import OperationalError
from django.utils import timezone

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from aigen_app.services import receipts, running, turns
from aigen_app.storage import get_storage
from tests.support import Media, png_bytes, reply_parts
from tests.support.storages import referenced_files

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


def kept_past_the_deadline(make_user: Any, monkeypatch: pytest.MonkeyPatch) -> Generation:
    """A paid generation whose save failed until its (0.5 s) deadline: its result is
    kept with a receipt and the row stays running (the patches stay on)."""
    generation = pending(make_user)
    monkeypatch.setattr(running, "run_deadline", lambda: 0.5)
    monkeypatch.setattr(turns, "fill_model_turn", failing(None, turns.fill_model_turn))
    with pytest.raises(running.ResultKept):
        services.run_generation(str(generation.pk))
    generation.refresh_from_db()
    return generation


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
    generation = kept_past_the_deadline(make_user, monkeypatch)

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
    generation = kept_past_the_deadline(make_user, monkeypatch)
    monkeypatch.undo()
    token = generation.run_token
    # Cancelled meanwhile: the run's token no longer holds the row.
    Generation.objects.filter(pk=generation.pk).update(status=GenerationStatus.CANCELED,
                                                       run_token=None)
    generation.status = GenerationStatus.RUNNING  # as recovery read it

    assert running.finish_kept_result(generation) == GenerationStatus.CANCELED
    assert receipts.load(generation.pk, token) is None
    assert set(media_storage.files()) == referenced_files() == set()


def kept_result(name: str) -> receipts.KeptResult:
    return receipts.KeptResult(fields={"image": name}, parts=[])


def sweep() -> dict[str, Any]:
    out = StringIO()
    call_command("aigen_recover", "--sweep-files", "0", "--json", stdout=out)
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


def test_a_receipt_left_by_a_failed_delete_is_swept(
    make_user: Any, aigen_emulator: EmulatorServer, media_storage: Media,
) -> None:
    generation = pending(make_user)
    assert services.run_generation(str(generation.pk)) == GenerationStatus.SUCCEEDED
    generation.refresh_from_db()
    # The row is written; deleting the receipt failed (storage refused), so it stayed.
    token = uuid.uuid4()
    receipts.keep(generation.pk, token, kept_result(generation.image.name or ""))

    report = sweep()

    assert report["deleted_files"] == [receipts.receipt_name(generation.pk, token)]
    assert set(media_storage.files()) == referenced_files()  # the result stays


def test_the_files_of_a_receipt_still_needed_are_not_orphans(
    make_user: Any, media_storage: Media,
) -> None:
    generation = pending(make_user)
    # A run holds the row, its paid result stored and kept while the database was away.
    token = uuid.uuid4()
    Generation.objects.filter(pk=generation.pk).update(
        status=GenerationStatus.RUNNING, run_token=token,
        deadline_at=timezone.now() + timedelta(minutes=10))
    image = get_storage().save("aigen/generations/2026/01/kept.png", ContentFile(png_bytes()))
    receipts.keep(generation.pk, token, kept_result(image))
    before = set(media_storage.files())

    report = sweep()

    assert report["deleted_files"] == []
    assert set(media_storage.files()) == before


def test_a_claim_that_meets_a_lost_connection_waits_for_the_database(
    make_user: Any, aigen_emulator: EmulatorServer, media_storage: Media,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(running, "_mark_running", failing(2, running._mark_running))
    generation = pending(make_user)

    assert services.run_generation(str(generation.pk)) == GenerationStatus.SUCCEEDED

    generation.refresh_from_db()
    assert (generation.attempts, len(aigen_emulator.requests())) == (1, 1)


def test_a_deferral_that_meets_a_lost_connection_waits_for_the_database(
    make_user: Any, aigen_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A 429 asking for a longer wait than the client takes: the run is deferred, and
    # the deferral's write rides out the blip instead of leaving the row running.
    aigen_emulator.inject("rate_limit", times=1, retry_delay="120s")
    monkeypatch.setattr(running, "_fenced_update", failing(2, running._fenced_update))
    generation = pending(make_user)

    assert services.run_generation(str(generation.pk)) == GenerationStatus.PENDING

    generation.refresh_from_db()
    assert generation.run_after is not None and generation.run_after > timezone.now()
    assert (generation.attempts, generation.error_code) == (0, "rate_limited")
