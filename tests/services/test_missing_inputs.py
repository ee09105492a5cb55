"""A refinement whose conversation or source disappeared ends cleanly: a clear failure
(``input_missing``) or, when its own row went with the conversation, nothing recorded
and no result file kept; never a traceback in the worker's log."""

from __future__ import annotations

from typing import Any

import pytest

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Conversation, Generation, GenerationStatus
from aigen_app.signals import generation_started
from tests.support import Media, reply_parts, stored_files

pytestmark = pytest.mark.django_db


def succeeded(owner: Any) -> Generation:
    generation = services.create_generation("A fox", owner=owner, width=64, height=48)
    assert services.run_generation(str(generation.pk)) == GenerationStatus.SUCCEEDED
    generation.refresh_from_db()
    return generation


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def test_a_refinement_whose_source_image_is_gone_fails_clearly(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
    caplog: pytest.LogCaptureFixture,
) -> None:
    parent = succeeded(make_user())
    refinement = services.refine(parent, "Make it stormy")
    for part in reply_parts(parent):
        if part.image:
            media_storage.delete(part.image.name)
    aigen_emulator.clear()

    assert services.run_generation(str(refinement.pk)) == GenerationStatus.FAILED

    refinement.refresh_from_db()
    assert refinement.error_code == "input_missing"
    assert aigen_emulator.requests() == []
    no_tracebacks(caplog)


def test_a_refinement_whose_conversation_is_deleted_while_it_runs_records_nothing(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
    caplog: pytest.LogCaptureFixture,
) -> None:
    parent = succeeded(make_user())
    refinement = services.refine(parent, "Make it stormy")
    aigen_emulator.clear()
    before = stored_files(media_storage)  # the parent's, deleted once this test commits

    def delete_conversation(generation: Generation, **kwargs: Any) -> None:
        Conversation.objects.filter(pk=generation.conversation_id).delete()

    generation_started.connect(delete_conversation, weak=False)
    try:
        assert services.run_generation(str(refinement.pk)) == "missing"
    finally:
        generation_started.disconnect(delete_conversation)

    assert len(aigen_emulator.requests()) == 1  # the call was made; its result is dropped
    assert not Generation.objects.filter(pk=refinement.pk).exists()
    assert stored_files(media_storage) == before  # the refinement's result was not kept
    assert any(str(refinement.pk) in r.getMessage() and "deleted" in r.getMessage()
               for r in caplog.records)
    no_tracebacks(caplog)
