"""``aigen_recover --sweep-files`` reports rows that name files storage no longer has;
``--mark-missing`` turns a succeeded generation whose image is gone into a failure the
API shows, instead of a row that promises an image."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from tests.support import Media, png_bytes

pytestmark = pytest.mark.django_db(transaction=True)


def recover(*args: str) -> str:
    out = io.StringIO()
    call_command("aigen_recover", "--sweep-files", *args, stdout=out)
    return out.getvalue()


def test_rows_naming_missing_files_are_reported_then_marked(
    make_user: Any, aigen_emulator: EmulatorServer, media_storage: Media,
) -> None:
    owner = make_user()
    asset = services.add_media_asset(png_bytes(), owner=owner)
    generation = services.create_generation("A fox", owner=owner, width=64, height=48)
    generation.refresh_from_db()
    assert generation.status == GenerationStatus.SUCCEEDED
    image = generation.image.name or ""
    media_storage.delete(image)
    media_storage.delete(asset.image.name or "")

    reported = recover()

    assert f"missing file: Generation {generation.pk} image: {image}" in reported
    assert f"missing file: MediaAsset {asset.pk} image: {asset.image.name}" in reported
    assert Generation.objects.get(pk=generation.pk).status == GenerationStatus.SUCCEEDED

    marked = json.loads(recover("--mark-missing", "--json"))

    rows = {(m["model"], m["field"]): m for m in marked["missing_files"]}
    assert rows[("Generation", "image")]["marked"] is True
    assert rows[("MediaAsset", "image")]["marked"] is False
    generation.refresh_from_db()
    assert (generation.status, generation.error_code, generation.image.name) == (
        GenerationStatus.FAILED, "file_missing", "")
    assert f"Generation {generation.pk} image" not in recover()  # it names no file now


def test_nothing_missing_reports_nothing(make_user: Any, aigen_emulator: EmulatorServer,
                                         media_storage: Media) -> None:
    services.create_generation("A fox", owner=make_user(), width=64, height=48)
    assert "missing file:" not in recover()
    assert "0 rows name missing files (0 marked)" in recover()


def test_mark_missing_needs_sweep_files() -> None:
    with pytest.raises(CommandError, match="--sweep-files"):
        call_command("aigen_recover", "--mark-missing", stdout=io.StringIO())
