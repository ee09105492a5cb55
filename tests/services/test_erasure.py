"""Deleting through the services: one generation, one conversation, or everything a user
generated (the erasure recipe). Real transactions, so files go on the real commit."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Conversation, Generation, MediaAsset, Turn
from aigen_app.services import DailyLimitReached, InvalidGenerationState
from tests.support import Media, aigen_settings_for, png_bytes, stored_files

from .test_row_deletion import names_of, succeeded

pytestmark = pytest.mark.django_db(transaction=True)


def test_delete_generation_removes_its_turns_and_files_and_keeps_the_rest(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
) -> None:
    owner = make_user()
    first = succeeded("A fox", owner)
    second = services.refine(first, "In the snow")
    services.run_generation(str(second.pk))
    second.refresh_from_db()

    with pytest.raises(InvalidGenerationState, match="1 refinement continue"):
        services.delete_generation(first)
    services.delete_generation(second)

    assert not Generation.objects.filter(pk=second.pk).exists()
    assert not Turn.objects.filter(generation_id=second.pk).exists()
    assert stored_files(media_storage) == sorted(names_of(first))
    services.delete_generation(second)  # already gone: harmless


def test_delete_generation_refuses_a_pending_one(make_user: Any, queued_tasks: Any) -> None:
    pending = services.create_generation("A fox", owner=make_user())
    with pytest.raises(InvalidGenerationState, match="cancel it first"):
        services.delete_generation(pending)
    services.cancel_generation(pending)
    services.delete_generation(pending)
    assert not Generation.objects.exists()


def test_delete_conversation_removes_every_generation_and_file(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
) -> None:
    owner = make_user()
    first = succeeded("A fox", owner, reference_image=png_bytes(8, 8))
    services.refine(first, "In the snow")  # still pending: goes too
    kept = succeeded("A hen", owner)

    services.delete_conversation(first.conversation)

    assert list(Generation.objects.all()) == [kept]
    assert stored_files(media_storage) == sorted(names_of(kept))


def test_erase_user_content_deletes_their_conversations_assets_and_files_only(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
) -> None:
    ada, bob = make_user("ada"), make_user("bob")
    logo = services.add_media_asset(png_bytes(color=(1, 2, 3)), owner=ada)
    first = succeeded("A fox", ada, media_assets=[logo])
    services.refine(first, "In the snow")
    succeeded("A hen", ada)
    theirs = succeeded("A cat", bob)
    their_logo = services.add_media_asset(png_bytes(color=(4, 5, 6)), owner=bob)

    erased = services.erase_user_content(ada)

    assert erased == services.Erasure(conversations=2, generations=3, assets=1)
    assert not Conversation.objects.filter(owner=ada).exists()
    assert not MediaAsset.objects.filter(owner=ada).exists()
    assert list(Generation.objects.all()) == [theirs]
    assert stored_files(media_storage) == sorted(names_of(theirs) | {their_logo.image.name or ""})
    assert services.erase_user_content(ada) == services.Erasure(0, 0, 0)


def test_the_daily_limit_can_be_overridden_explicitly(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any,
) -> None:
    owner = make_user()
    first = succeeded("One", owner)
    with override_settings(AIGEN=aigen_settings_for(aigen_emulator, USER_DAILY_LIMIT=1)):
        with pytest.raises(DailyLimitReached):
            services.create_generation("Two", owner=owner)
        services.create_generation("Two", owner=owner, ignore_daily_limit=True)
        with pytest.raises(DailyLimitReached):
            services.refine(first, "Three")
        services.refine(first, "Three", ignore_daily_limit=True)
    assert Generation.objects.filter(owner=owner).count() == 3
