"""Deleting a media asset: the row at once, the file only after the commit, and never a
file some row still names. Real transactions, so commit and rollback are the real ones."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test import override_settings

from aigen_app import services
from aigen_app.models import Generation, GenerationAsset, GenerationStatus, MediaAsset, TurnPart
from aigen_app.services import creation
from tests.support import Media, png_bytes, run_in_threads, stored_files
from tests.support.storages import misbehaving

pytestmark = pytest.mark.django_db(transaction=True)


class CallerRolledBack(Exception):
    pass


def failing_delete_storages(media: Media) -> dict[str, Any]:
    return {"default": misbehaving(media, "Undeletable")}


def asset_in_a_queued_generation(owner: Any) -> tuple[MediaAsset, Generation]:
    """An asset of ``owner`` and a generation sent with it, queued (not run)."""
    asset = services.add_media_asset(png_bytes(), owner=owner)
    return asset, services.create_generation("Put the logo on a mug", owner=owner,
                                             media_assets=[asset])


def test_the_file_goes_only_when_the_transaction_commits(
    make_user: Any, media_storage: Media
) -> None:
    asset = services.add_media_asset(png_bytes(), owner=make_user())
    name = asset.image.name

    with transaction.atomic():
        services.delete_media_asset(asset)
        # Inside the caller's transaction the row is gone but the file must stay: the
        # transaction may still roll back and bring the row back.
        assert not MediaAsset.objects.exists()
        assert stored_files(media_storage) == [name]

    assert not MediaAsset.objects.exists()
    assert stored_files(media_storage) == []


def test_a_rolled_back_deletion_keeps_the_row_and_its_file(
    make_user: Any, media_storage: Media
) -> None:
    asset = services.add_media_asset(png_bytes(), owner=make_user())

    def view() -> None:
        with transaction.atomic():
            services.delete_media_asset(asset)
            raise CallerRolledBack

    with pytest.raises(CallerRolledBack):
        view()

    kept = MediaAsset.objects.get()
    assert kept.image.name == asset.image.name
    assert stored_files(media_storage) == [asset.image.name]
    assert kept.image.read() == png_bytes()


def test_a_conversation_that_replays_the_asset_keeps_its_file(
    make_user: Any, queued_tasks: Any, media_storage: Media
) -> None:
    asset, generation = asset_in_a_queued_generation(make_user())
    services.cancel_generation(generation)

    services.delete_media_asset(asset)

    # The asset and its link go; the generation and the user turn naming the file stay,
    # and so does the file, which a refinement sends to the model again.
    assert not MediaAsset.objects.exists()
    assert not GenerationAsset.objects.filter(generation=generation).exists()
    assert Generation.objects.filter(pk=generation.pk).exists()
    assert TurnPart.objects.filter(image=asset.image.name).exists()
    assert stored_files(media_storage) == [asset.image.name]


def test_another_owners_asset_is_untouched(make_user: Any, media_storage: Media) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    mine = services.add_media_asset(png_bytes(), owner=alice)
    theirs = services.add_media_asset(png_bytes(), owner=bob)  # the same image

    services.delete_media_asset(mine)

    assert list(MediaAsset.objects.all()) == [theirs]
    assert stored_files(media_storage) == [theirs.image.name]
    assert MediaAsset.objects.get().image.read() == png_bytes()


def test_a_file_another_asset_names_is_kept(make_user: Any, media_storage: Media) -> None:
    mine = services.add_media_asset(png_bytes(), owner=make_user("alice"))
    theirs = services.add_media_asset(png_bytes(), owner=make_user("bob"))
    # The services give every asset its own file, but a row written by hand or by a
    # data migration may name another asset's file.
    MediaAsset.objects.filter(pk=theirs.pk).update(image=mine.image.name)

    services.delete_media_asset(mine)

    assert MediaAsset.objects.get().image.read() == png_bytes()
    assert mine.image.name in stored_files(media_storage)


def test_deleting_an_asset_twice_is_harmless(make_user: Any, media_storage: Media) -> None:
    asset = services.add_media_asset(png_bytes(), owner=make_user())
    stale = MediaAsset.objects.get(pk=asset.pk)

    services.delete_media_asset(asset)
    services.delete_media_asset(stale)

    assert not MediaAsset.objects.exists()
    assert stored_files(media_storage) == []


def test_a_failed_file_delete_after_the_commit_is_logged_not_raised(
    make_user: Any, media_storage: Media, caplog: pytest.LogCaptureFixture
) -> None:
    asset = services.add_media_asset(png_bytes(), owner=make_user())
    name = asset.image.name or ""

    with override_settings(STORAGES=failing_delete_storages(media_storage)), \
            caplog.at_level(logging.ERROR, logger="aigen.services"):
        services.delete_media_asset(asset)

    # The deletion happened; the orphaned file is left to sweep_orphan_files.
    assert not MediaAsset.objects.exists()
    assert stored_files(media_storage) == [name]
    assert name in caplog.text


def test_an_asset_a_waiting_generation_uses_cannot_be_deleted(
    make_user: Any, queued_tasks: Any, media_storage: Media
) -> None:
    asset, generation = asset_in_a_queued_generation(make_user())

    # Deleting it now would send the queued generation without its logo.
    with pytest.raises(services.AssetInUse, match=str(generation.pk)) as refused:
        services.delete_media_asset(asset)
    assert refused.value.generation_ids == [generation.pk]
    assert GenerationAsset.objects.filter(generation=generation, asset=asset).exists()
    assert stored_files(media_storage) == [asset.image.name]

    # Once it has finished (here: cancelled), the asset can go; the cancelled generation
    # can then not be retried as it was.
    services.cancel_generation(generation)
    services.delete_media_asset(asset)
    with pytest.raises(services.InvalidGenerationState, match=r"asset .* deleted"):
        services.retry_generation(generation)
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.CANCELED
    assert len(queued_tasks.results) == 1  # the first enqueue only


def test_a_generation_naming_an_asset_deleted_meanwhile_is_refused(
    make_user: Any, queued_tasks: Any, media_storage: Media
) -> None:
    owner = make_user()
    asset = services.add_media_asset(png_bytes(), owner=owner)
    stale = MediaAsset.objects.get(pk=asset.pk)
    services.delete_media_asset(asset)

    # A field error, not a database error, and nothing stored.
    with pytest.raises(ValidationError, match="has been deleted") as refused:
        services.create_generation("Put the logo on a mug", owner=owner,
                                   media_assets=[stale], reference_image=png_bytes())
    assert refused.value.code == "invalid_asset"
    assert not Generation.objects.exists()
    assert stored_files(media_storage) == []
    assert queued_tasks.results == []


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="SQLite's one writer at a time leaves no room for the race")
def test_a_deletion_committed_while_a_generation_is_stored_refuses_the_generation(
    make_user: Any, queued_tasks: Any, media_storage: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The asset is checked, then deleted and committed by another connection before the
    generation commits: PostgreSQL's deferred foreign key fails the commit, and the
    caller gets the same field error as above, not a database error."""
    owner = make_user()
    asset = services.add_media_asset(png_bytes(), owner=owner)
    check = creation._check_assets_exist
    calls: list[int] = []

    def check_then_lose_the_race(assets: Any) -> None:
        check(assets)
        if not calls:
            calls.append(1)
            [outcome] = run_in_threads(1, lambda _: services.delete_media_asset(
                MediaAsset.objects.get(pk=asset.pk)))
            assert outcome is None  # no pending generation is visible to it yet

    monkeypatch.setattr(creation, "_check_assets_exist", check_then_lose_the_race)
    with pytest.raises(ValidationError, match="has been deleted"):
        services.create_generation("Put the logo on a mug", owner=owner, media_assets=[asset])
    assert not Generation.objects.exists() and not MediaAsset.objects.exists()
    assert queued_tasks.results == []
