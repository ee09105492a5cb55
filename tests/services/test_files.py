"""Nothing lost: no orphan files after a rollback, no row pointing at a missing file."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Conversation, Generation, GenerationStatus
from aigen_app.services import creation, turns
from aigen_app.services.errors import FAILURE_MESSAGES
from tests.support import Media, aigen_settings_for, png_bytes, reply_parts, stored_files
from tests.support.storages import misbehaving

pytestmark = pytest.mark.django_db(transaction=True)


def broken_storages(media: Media) -> dict[str, Any]:
    return {"default": media.config(), "broken": misbehaving(media, "Broken")}


def test_result_files_are_deleted_when_the_transaction_rolls_back(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    generation = services.create_generation("A fox", owner=make_user(), width=300, height=200)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database went away")

    # The image is written, then the transaction recording it fails half-way.
    monkeypatch.setattr(turns, "fill_model_turn", crash)
    with pytest.raises(RuntimeError, match="database went away"):
        services.run_generation(str(generation.pk))

    assert stored_files(media_storage) == []
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "result_not_saved"
    # The cause goes to the log with the generation id; clients read a message of ours.
    assert generation.error_message == FAILURE_MESSAGES["result_not_saved"]
    assert any(str(generation.pk) in record.getMessage() and record.exc_info
               and "database went away" in str(record.exc_info[1])
               for record in caplog.records)
    assert generation.image.name == ""
    assert reply_parts(generation) == []
    assert len(aigen_emulator.requests()) == 1


def test_a_failed_result_write_leaves_no_row_pointing_at_it(
    make_user: Any, aigen_emulator: EmulatorServer, queued_tasks: Any, media_storage: Media,
) -> None:
    generation = services.create_generation("A fox", owner=make_user(), width=300, height=200)
    with override_settings(STORAGES=broken_storages(media_storage),
                           AIGEN=aigen_settings_for(aigen_emulator, STORAGE="broken")), \
            pytest.raises(OSError, match="storage is unavailable"):
        services.run_generation(str(generation.pk))

    generation.refresh_from_db()
    assert generation.status == GenerationStatus.FAILED
    assert generation.error_code == "result_not_saved"
    assert generation.image.name == ""
    assert reply_parts(generation) == []
    assert stored_files(media_storage) == []


def test_a_failed_reference_write_creates_nothing(
    make_user: Any, queued_tasks: Any, media_storage: Media
) -> None:
    with override_settings(STORAGES=broken_storages(media_storage),
                           AIGEN={"STORAGE": "broken"}), pytest.raises(OSError):
        services.create_generation("Edit this", owner=make_user(),
                                   reference_image=png_bytes())
    assert not Generation.objects.exists()
    assert not Conversation.objects.exists()
    assert queued_tasks.results == []


def test_a_rolled_back_create_deletes_the_reference_file(
    make_user: Any, queued_tasks: Any, media_storage: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("crash after the file was written")

    monkeypatch.setattr(turns, "add_turn_pair", crash)
    with pytest.raises(RuntimeError):
        services.create_generation("Edit this", owner=make_user(),
                                   reference_image=png_bytes())

    assert stored_files(media_storage) == []
    assert not Generation.objects.exists()
    assert not Conversation.objects.exists()
    assert queued_tasks.results == []  # nothing queued for a row that never committed


def test_idempotency_race_deletes_the_losers_file(
    make_user: Any, queued_tasks: Any, media_storage: Media, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = make_user()
    first = services.create_generation("Edit this", owner=owner, reference_image=png_bytes(),
                                       idempotency_key="order-42")
    assert len(stored_files(media_storage)) == 1
    # A concurrent request passed the lookup before the first one committed.
    real_existing = creation._existing
    calls = iter([None])
    monkeypatch.setattr(creation, "_existing",
                        lambda o, k: next(calls, None) or real_existing(o, k))

    second = services.create_generation("Edit this", owner=owner, reference_image=png_bytes(),
                                        idempotency_key="order-42")

    assert second.pk == first.pk
    assert stored_files(media_storage) == [first.reference_image.name]
    assert Generation.objects.count() == 1
    assert len(queued_tasks.results) == 1


def test_storage_alias_is_resolved_at_use_time(
    make_user: Any, queued_tasks: Any, tmp_path: Path, media_storage: Media
) -> None:
    elsewhere = tmp_path / "elsewhere"
    options = {"BACKEND": "django.core.files.storage.FileSystemStorage",
               "OPTIONS": {"location": str(elsewhere)}}
    with override_settings(STORAGES={"default": options, "images": options},
                           AIGEN={"STORAGE": "images"}):
        generation = services.create_generation("Edit", owner=make_user(),
                                                reference_image=png_bytes())
        name = generation.reference_image.name or ""
        assert name.startswith("aigen/references/") and name.endswith(".png")
        assert storages["images"].exists(name)
        assert generation.reference_image.read() == png_bytes()
    assert stored_files(media_storage) == []
    assert stored_files(elsewhere) == [name]


def test_file_names_are_unique_and_never_overwrite(media_storage: Media) -> None:
    from aigen_app.storage import FileBatch

    batch = FileBatch()
    names = {batch.save("generations", png_bytes(), "image/png") for _ in range(5)}
    assert len(names) == 5
    assert all(n.startswith("aigen/generations/") for n in names)
    storages["default"].save("aigen/x.png", ContentFile(b"1"))
    batch.discard()
    assert stored_files(media_storage) == ["aigen/x.png"]



def test_sweep_removes_files_orphaned_by_a_callers_rollback(
    make_user: Any, queued_tasks: Any, media_storage: Media
) -> None:
    owner = make_user()
    kept = services.create_generation("Keep", owner=owner, reference_image=png_bytes())
    asset = services.add_media_asset(png_bytes(color=(9, 9, 9)), owner=owner)

    class CallerRolledBack(Exception):
        pass

    # The caller's own transaction rolls back after the service returned: Django has no
    # rollback hook, so the reference file written inside it stays behind...
    def view() -> None:
        with transaction.atomic():
            services.create_generation("Lost", owner=owner, reference_image=png_bytes(8, 8))
            raise CallerRolledBack

    with pytest.raises(CallerRolledBack):
        view()
    assert len(stored_files(media_storage)) == 3

    # ...until the sweep: young files are left alone (their transaction may be open).
    out = StringIO()
    call_command("aigen_recover", "--sweep-files", stdout=out)
    assert "0 orphaned files deleted" in out.getvalue()
    call_command("aigen_recover", "--sweep-files=0", stdout=out)
    assert "1 orphaned files deleted" in out.getvalue()
    assert stored_files(media_storage) == sorted(
        [kept.reference_image.name or "", asset.image.name or ""]
    )


def test_a_callers_written_files_takes_back_what_services_wrote_in_its_transaction(
    make_user: Any, queued_tasks: Any, media_storage: Path
) -> None:
    """A caller composing services in one transaction wraps it in ``written_files()``:
    when it fails, the files the services wrote inside it go with the rows."""
    from aigen_app.storage import written_files

    owner = make_user()

    class Refused(Exception):
        pass

    def caller() -> None:
        with written_files(), transaction.atomic():
            asset = services.add_media_asset(png_bytes(color=(1, 2, 3)), owner=owner)
            services.create_generation("A fox", owner=owner, media_assets=[asset],
                                       reference_image=png_bytes(color=(4, 5, 6)))
            assert len(stored_files(media_storage)) == 2
            raise Refused

    with pytest.raises(Refused):
        caller()
    assert Generation.objects.count() == 0
    assert stored_files(media_storage) == []

    # Work done outside the caller's transaction (an on_commit callback) commits on its
    # own: its files stay whatever the enclosing block does afterwards.
    kept: list[str] = []

    def outside_a_transaction() -> None:
        with written_files():
            kept.append(services.add_media_asset(png_bytes(color=(7, 8, 9)), owner=owner)
                        .image.name or "")
            raise Refused

    with pytest.raises(Refused):
        outside_a_transaction()
    assert stored_files(media_storage) == kept
