"""Cancel, retry, and recovery of runs lost to dead workers."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.models import RestrictedError
from django.test import override_settings
from django.utils import timezone

from aigen_app import services
from aigen_app.client import ContentPart, ConversationTurn, GenerationResponse
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus, Turn
from aigen_app.services import InvalidGenerationState, running
from aigen_app.signals import generation_finished, generation_started
from tests.support import Media, paired_turns, png_bytes, reply_parts, stored_files, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def pending(owner: Any) -> Generation:
    return services.create_generation("A lantern", owner=owner, width=256, height=256)


def queued_ids(backend: Any) -> list[str]:
    return [result.args[0] for result in backend.results]


def test_cancel_pending_generation_is_never_run(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any
) -> None:
    generation = pending(make_user())
    finished: list[str] = []

    def on_finished(sender: Any, generation: Generation, **kwargs: Any) -> None:
        finished.append(generation.status)

    generation_finished.connect(on_finished, weak=False)
    try:
        canceled = services.cancel_generation(generation)
        assert canceled.status == GenerationStatus.CANCELED
        assert services.cancel_generation(generation).status == GenerationStatus.CANCELED
    finally:
        generation_finished.disconnect(on_finished)
    assert finished == ["canceled"]
    assert services.run_generation(str(generation.pk)) == GenerationStatus.CANCELED
    assert aigen_emulator.requests() == []


def test_cancel_while_running_discards_the_result(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media
) -> None:
    generation = pending(make_user())
    aigen_emulator.inject("latency", seconds=1.5)
    outcome: list[str] = []

    def run() -> None:
        try:
            outcome.append(services.run_generation(str(generation.pk)))
        finally:
            connections.close_all()

    worker = threading.Thread(target=run)
    worker.start()
    wait_until(lambda: Generation.objects.get(pk=generation.pk).status
               == GenerationStatus.RUNNING, timeout=10, what="the run to start")
    services.cancel_generation(generation)
    worker.join(timeout=30)

    assert outcome == [GenerationStatus.CANCELED]
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.CANCELED
    assert generation.image.name == ""
    assert reply_parts(generation) == []
    assert stored_files(media_storage) == []
    assert len(aigen_emulator.requests()) == 1


def test_finished_generation_cannot_be_canceled(
    make_user: Any, aigen_emulator: EmulatorServer, immediate_tasks: None
) -> None:
    generation = pending(make_user())
    with pytest.raises(InvalidGenerationState, match="succeeded"):
        services.cancel_generation(generation)


def test_retry_runs_a_failed_generation_again(
    make_user: Any, aigen_emulator: EmulatorServer, immediate_tasks: None
) -> None:
    aigen_emulator.inject("bad_request")
    generation = pending(make_user())
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    assert paired_turns(generation.conversation_id) == [(generation.pk, [])]
    model_turn = Turn.objects.get(generation=generation, role="model")

    retried = services.retry_generation(generation)

    assert retried.status == GenerationStatus.SUCCEEDED
    assert (retried.error_code, retried.error_message, retried.attempts) == ("", "", 1)
    # The same row ran again and filled the model turn it already had: no new turn.
    [(owner_id, parts)] = paired_turns(generation.conversation_id)
    assert owner_id == generation.pk
    assert [p.kind for p in parts] == ["text", "image"]
    assert Turn.objects.get(generation=generation, role="model").pk == model_turn.pk
    assert services.run_generation(str(generation.pk)) == GenerationStatus.SUCCEEDED
    assert len(reply_parts(generation)) == 2
    with pytest.raises(InvalidGenerationState, match="succeeded"):
        services.retry_generation(retried)


def stuck(generation: Generation, attempts: int) -> Generation:
    """Make ``generation`` look claimed by a worker that died long ago."""
    claimed = running._claim(str(generation.pk))
    assert claimed is not None
    Generation.objects.filter(pk=generation.pk).update(
        attempts=attempts, deadline_at=timezone.now() - timedelta(seconds=1)
    )
    claimed.refresh_from_db()
    return claimed


def test_recover_requeues_while_attempts_remain(make_user: Any, queued_tasks: Any) -> None:
    generation = stuck(pending(make_user()), attempts=1)
    queued_tasks.results.clear()

    report = services.recover_generations()

    assert report.requeued == [str(generation.pk)]
    assert queued_ids(queued_tasks) == [str(generation.pk)]
    generation.refresh_from_db()
    assert (generation.status, generation.error_code) == ("pending", "worker_lost")
    assert services.recover_generations().requeued == []
    assert len(queued_tasks.results) == 1


def test_a_recovered_run_fills_the_model_turn_it_already_has(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any
) -> None:
    generation = stuck(pending(make_user()), attempts=1)
    services.recover_generations()

    assert services.run_generation(str(generation.pk)) == GenerationStatus.SUCCEEDED
    [(owner_id, parts)] = paired_turns(generation.conversation_id)
    assert (owner_id, [p.kind for p in parts]) == (generation.pk, ["text", "image"])


def test_recover_fails_with_a_reason_when_attempts_are_used_up(
    make_user: Any, queued_tasks: Any
) -> None:
    generation = stuck(pending(make_user()), attempts=5)
    out = StringIO()
    with override_settings(AIGEN={"TASK_MAX_ATTEMPTS": 5}):
        call_command("aigen_recover", stdout=out)
    assert f"failed: {generation.pk}" in out.getvalue()
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "worker_lost"
    assert "Gave up after 5 task runs" in generation.error_message
    assert generation.finished_at is not None


def test_recover_resends_pending_work_nobody_ran(make_user: Any, queued_tasks: Any) -> None:
    generation = pending(make_user())
    queued_tasks.results.clear()
    assert services.recover_generations().resent == []  # recently queued: left alone
    Generation.objects.filter(pk=generation.pk).update(
        queued_at=timezone.now() - timedelta(hours=1)
    )
    out = StringIO()
    call_command("aigen_recover", "--json", stdout=out)
    assert f'"resent": ["{generation.pk}"]' in out.getvalue()
    assert queued_ids(queued_tasks) == [str(generation.pk)]
    assert services.recover_generations().resent == []


def test_a_run_that_outlived_its_deadline_records_nothing(
    make_user: Any, queued_tasks: Any, media_storage: Media
) -> None:
    generation = stuck(pending(make_user()), attempts=1)
    late_token = generation.run_token
    services.recover_generations()  # back to pending; a new run may claim it
    image = png_bytes(256, 256)
    response = GenerationResponse(
        image_data=image, generation_id=str(generation.pk), seed=1, inference_time_ms=5,
        width=256, height=256, model="gemini-nano-banana-2.1",
        model_turn=ConversationTurn("model", (ContentPart(image_data=image, mime_type="image/png",
                                                       thought_signature="c2ln"),)),
    )

    status = running._succeeded(generation, late_token, response)

    assert status == GenerationStatus.PENDING
    generation.refresh_from_db()
    assert generation.image.name == ""
    assert reply_parts(generation) == []
    assert stored_files(media_storage) == []


def test_a_refined_generation_cannot_be_deleted_alone(
    make_user: Any, aigen_emulator: EmulatorServer, immediate_tasks: None
) -> None:
    root = pending(make_user())
    child = services.refine(root, "Brighter")
    with pytest.raises(RestrictedError):
        Generation.objects.get(pk=root.pk).delete()
    Generation.objects.get(pk=child.pk).delete()  # a leaf can go, with its turns
    assert Turn.objects.filter(conversation_id=root.conversation_id).count() == 2
    root.conversation.delete()  # and a whole conversation, with everything in it
    assert not Generation.objects.exists() and not Turn.objects.exists()


def test_a_failing_started_receiver_fails_the_generation(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any
) -> None:
    generation = pending(make_user())

    def broken(**kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    generation_started.connect(broken, weak=False)
    try:
        with pytest.raises(RuntimeError, match="receiver bug"):
            services.run_generation(str(generation.pk))
    finally:
        generation_started.disconnect(broken)
    generation.refresh_from_db()
    assert (generation.status, generation.error_code) == ("failed", "internal_error")
    assert aigen_emulator.requests() == []
