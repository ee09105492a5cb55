"""Deleting rows that name files, however they go (a service, a cascade, the ORM): the
files go after the commit, only when no row names them any more, and never on rollback.
Real transactions, so commit and rollback are the real ones."""

from __future__ import annotations

import logging
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.db import models, transaction
from django.test import override_settings
from django.utils import timezone

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Conversation, Generation, MediaAsset, Turn, TurnPart
from aigen_app.services import files
from tests.support import Media, png_bytes, stored_files

pytestmark = pytest.mark.django_db(transaction=True)


class CallerRolledBack(Exception):
    pass


def succeeded(prompt: str, owner: Any, **kwargs: Any) -> Generation:
    generation = services.create_generation(prompt, owner=owner, **kwargs)
    services.run_generation(str(generation.pk))
    generation.refresh_from_db()
    assert generation.image.name
    return generation


def names_of(generation: Generation) -> set[str]:
    """Every file the generation's rows name: result, reference, its turns' images."""
    parts = TurnPart.objects.filter(turn__generation=generation).exclude(image="")
    return ({generation.image.name or "", generation.reference_image.name or ""}
            | set(parts.values_list("image", flat=True))) - {""}


def test_every_file_field_is_covered() -> None:
    declared = {
        (model, field.name)
        for model in apps.get_app_config("aigen_app").get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.FileField)
    }
    covered = {(model, field) for model, fields in files.FILE_FIELDS for field in fields}
    assert declared == covered


def test_deleting_a_generation_deletes_its_files_after_the_commit(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
) -> None:
    owner = make_user()
    asset = services.add_media_asset(png_bytes(color=(9, 9, 9)), owner=owner)
    generation = succeeded("A fox", owner, reference_image=png_bytes(8, 8),
                           media_assets=[asset])
    other = succeeded("A hen", owner)
    mine = names_of(generation)
    # The result, the reference, and the asset the user turn names.
    assert len(mine) == 3 and asset.image.name in mine

    with transaction.atomic():
        generation.delete()
        # The transaction may still roll back: every file stays until it commits.
        assert set(stored_files(media_storage)) == mine | names_of(other)

    # The asset row still names its file, so it stays; the rest goes.
    assert stored_files(media_storage) == sorted({asset.image.name or ""} | names_of(other))
    assert not Turn.objects.filter(generation_id=generation.pk).exists()


def test_a_file_another_row_names_is_kept(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
) -> None:
    owner = make_user()
    generation = succeeded("A fox", owner)
    other = succeeded("A hen", owner)
    # A row written by hand or by a data migration may name another row's file.
    Generation.objects.filter(pk=other.pk).update(reference_image=generation.image.name)

    Generation.objects.filter(pk=generation.pk).delete()

    assert generation.image.name in stored_files(media_storage)
    assert Generation.objects.get().reference_image.read() == generation.image.read()


def test_deleting_a_conversation_deletes_all_its_files(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
) -> None:
    owner = make_user()
    first = succeeded("A fox", owner, reference_image=png_bytes(8, 8))
    second = services.refine(first, "Now in the snow", owner=owner,
                             reference_image=png_bytes(9, 9))
    services.run_generation(str(second.pk))
    second.refresh_from_db()
    elsewhere = succeeded("A hen", owner)
    assert len(names_of(first) | names_of(second)) == 4

    Conversation.objects.filter(pk=first.conversation_id).delete()

    assert stored_files(media_storage) == sorted(names_of(elsewhere))
    assert list(Generation.objects.all()) == [elsewhere]


def test_a_rolled_back_deletion_keeps_rows_and_files(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
) -> None:
    generation = succeeded("A fox", make_user(), reference_image=png_bytes(8, 8))
    before = stored_files(media_storage)

    def view() -> None:
        with transaction.atomic():
            Conversation.objects.filter(pk=generation.conversation_id).delete()
            raise CallerRolledBack

    with pytest.raises(CallerRolledBack):
        view()

    assert stored_files(media_storage) == before
    assert Generation.objects.get().image.read() == generation.image.read()


def test_a_rolled_back_savepoint_keeps_its_files_and_the_rest_go(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
) -> None:
    owner = make_user()
    kept, gone = succeeded("A fox", owner), succeeded("A hen", owner)
    kept_names = names_of(kept)

    with transaction.atomic():
        try:
            with transaction.atomic():
                kept.delete()
                raise CallerRolledBack
        except CallerRolledBack:
            pass
        gone.delete()

    assert stored_files(media_storage) == sorted(kept_names)
    assert Generation.objects.get().image.name in kept_names


def test_one_callback_per_transaction(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner = make_user()
    for prompt in ("A fox", "A hen", "A cat"):
        succeeded(prompt, owner)
    calls: list[set[str]] = []
    delete = files.delete_unreferenced

    def counted(names: Any) -> list[str]:
        calls.append(set(names))
        return delete(names)

    monkeypatch.setattr(files, "delete_unreferenced", counted)
    Conversation.objects.all().delete()

    assert len(calls) == 1 and len(calls[0]) == 3
    assert stored_files(media_storage) == []


def test_a_failed_storage_delete_is_logged_and_left_to_the_sweep(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
    caplog: pytest.LogCaptureFixture,
) -> None:
    generation = succeeded("A fox", make_user())
    name = generation.image.name or ""
    undeletable = {"default": {"BACKEND": "tests.support.storages.UndeletableStorage",
                               "OPTIONS": {"location": str(media_storage)}}}

    with override_settings(STORAGES=undeletable), \
            caplog.at_level(logging.ERROR, logger="aigen.services"):
        generation.delete()

    assert not Generation.objects.exists()
    assert stored_files(media_storage) == [name]
    assert name in caplog.text
    assert services.sweep_orphan_files(older_than=0) == [name]
    assert stored_files(media_storage) == []


def test_deleting_a_user_keeps_their_rows_and_files_ownerless(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
) -> None:
    """Documented: a user's rows are SET_NULL, not deleted, so their files stay (usage
    history survives the account). Erasing a user's images is deleting their
    conversations and assets, whose files then go."""
    owner = make_user()
    asset = services.add_media_asset(png_bytes(color=(9, 9, 9)), owner=owner)
    generation = succeeded("A fox", owner, media_assets=[asset])
    before = stored_files(media_storage)

    get_user_model().objects.filter(pk=owner.pk).delete()

    assert stored_files(media_storage) == before
    assert Generation.objects.get().owner is None
    assert MediaAsset.objects.get().owner is None
    assert Conversation.objects.get().owner is None

    # The erasure recipe of docs/operations.md, run before deleting the account.
    other = make_user()
    theirs = succeeded("A hen", other)
    with transaction.atomic():
        Conversation.objects.filter(owner=other).delete()
        MediaAsset.objects.filter(owner=other).delete()
    assert stored_files(media_storage) == before
    assert theirs.image.name and generation.image.name in before


def test_the_sweep_reaches_folders_older_than_two_months(media_storage: Media) -> None:
    storage = storages["default"]
    old = storage.save("aigen/generations/2019/03/orphan.png", ContentFile(b"x"))
    recent = storage.save(f"aigen/turns/{timezone.now():%Y/%m}/orphan.png", ContentFile(b"x"))
    stray = storage.save("aigen/generations/notes/keep.txt", ContentFile(b"x"))

    # Limited to recent months, the old folder is not looked at (older_than=0: any age;
    # S3 keeps no settable modification time)...
    assert services.sweep_orphan_files(months=2, older_than=0) == [recent]
    assert old in stored_files(media_storage)

    # ...by default every date folder is, and nothing outside them is touched.
    out = StringIO()
    call_command("aigen_recover", "--sweep-files", "0", stdout=out)
    assert "1 orphaned files deleted" in out.getvalue()
    assert stored_files(media_storage) == [stray]


def test_the_sweep_keeps_an_old_file_a_row_names(
    make_user: Any, media_storage: Media,
) -> None:
    asset = services.add_media_asset(png_bytes(), owner=make_user())
    storage = storages["default"]
    name = storage.save("aigen/assets/2019/03/old.png", ContentFile(png_bytes()))
    orphan = storage.save("aigen/references/2018/12/orphan.png", ContentFile(b"x"))
    MediaAsset.objects.filter(pk=asset.pk).update(image=name)

    # By default every date folder, however old.
    assert sorted(services.sweep_orphan_files(older_than=0)) == [asset.image.name, orphan]
    assert stored_files(media_storage) == [name]
