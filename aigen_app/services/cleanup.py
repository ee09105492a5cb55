"""Removing files no row refers to.

The services delete the files of their own failed transactions at once
(``storage.written_files``), and the files of deleted rows after the commit
(``services.files``). A file can still be orphaned when a service runs inside a
*caller's* transaction (``ATOMIC_REQUESTS``, a view's ``atomic()``) that rolls back after
the service returned (Django offers no rollback hook; a caller that wraps its
transaction in ``written_files()`` itself, as ``manage.py generate`` does, gets those
files deleted too), when a delete failed in storage, or when rows went by raw SQL. This
sweep, run on a schedule through ``manage.py aigen_recover --sweep-files``, is the
safety net.

It sweeps receipts too (``receipts``): one whose run no longer holds its generation
(the outcome is recorded, or the generation is gone) is left over only because its
delete failed, and goes once it is as old as the files swept. The files a receipt
still needed names are never orphans: its paid result waits to be recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.files.storage import Storage
from django.db import transaction
from django.utils import timezone

from ..models import Generation, GenerationStatus
from ..storage import KINDS, get_storage
from . import receipts
from .errors import FAILURE_MESSAGES
from .files import CHUNK, FILE_FIELDS, referenced

MISSING_CODE = "file_missing"


@dataclass(frozen=True)
class MissingFile:
    """A row naming a file its storage no longer has."""

    model: str
    pk: str
    field: str
    name: str
    marked: bool = False

    def __str__(self) -> str:
        marked = " (marked failed)" if self.marked else ""
        return f"{self.model} {self.pk} {self.field}: {self.name}{marked}"


def find_missing_files(*, mark: bool = False) -> list[MissingFile]:
    """Every row naming a file that storage no longer has (one ``exists`` call per
    distinct name). With ``mark``, a succeeded generation whose result image is gone
    becomes ``failed`` (``file_missing``) and stops naming it, so the row no longer
    promises an image; other rows (reference images, assets, turn parts) have no status
    to change and are reported only (a run that needs one fails as ``input_missing``)."""
    storage = get_storage()
    exists: dict[str, bool] = {}
    missing: list[MissingFile] = []
    for model, fields in FILE_FIELDS:
        for field in fields:
            rows = (model._default_manager.exclude(**{field: ""}).order_by("pk")
                    .values_list("pk", field).iterator(chunk_size=CHUNK))
            for pk, name in rows:
                if name not in exists:
                    exists[name] = storage.exists(name)
                if not exists[name]:
                    marked = mark and model is Generation and field == "image" and (
                        _mark_result_missing(pk, name))
                    missing.append(MissingFile(model.__name__, str(pk), field, name, marked))
    return missing


def _mark_result_missing(pk: Any, name: str) -> bool:
    with transaction.atomic():
        return bool(Generation.objects.filter(
            pk=pk, status=GenerationStatus.SUCCEEDED, image=name,
        ).update(status=GenerationStatus.FAILED, image="", error_code=MISSING_CODE,
                 error_message=FAILURE_MESSAGES[MISSING_CODE]))


def sweep_orphan_files(
    *, older_than: float = 3600.0, months: int | None = None, now: datetime | None = None
) -> list[str]:
    """Delete app files that no row names and that are older than ``older_than`` seconds
    (younger ones may belong to a transaction still in progress), and as old receipts
    no run needs. Returns the names deleted.

    Every date folder (``aigen/<kind>/<year>/<month>``) is swept, or with ``months`` only
    those of the last ``months`` months. One folder's listing is held at a time and
    checked ``CHUNK`` names at a time: storage APIs list a folder whole.
    """
    storage = get_storage()
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=older_than)
    deleted: list[str] = []
    kept = _sweep_receipts(storage, cutoff, deleted)
    folders = _all_directories(storage) if months is None else _directories(now, months)
    for directory in folders:
        try:
            _, files = storage.listdir(directory)
        except FileNotFoundError:
            continue
        names = sorted(f"{directory}/{name}" for name in files)
        for start in range(0, len(names), CHUNK):
            chunk = names[start:start + CHUNK]
            for name in sorted(set(chunk) - referenced(chunk) - kept):
                if storage.get_modified_time(name) < cutoff:
                    storage.delete(name)
                    deleted.append(name)
    return deleted


def _sweep_receipts(storage: Storage, cutoff: datetime, deleted: list[str]) -> set[str]:
    """Delete the receipts older than ``cutoff`` whose run no longer holds its generation
    (appending their names to ``deleted``); returns the files the others name."""
    needed: set[str] = set()
    for generation_id, token, name in receipts.stored():
        if Generation.objects.filter(pk=generation_id, status=GenerationStatus.RUNNING,
                                     run_token=token).exists():
            kept = receipts.load(generation_id, token)
            needed |= kept.files if kept is not None else set()
        elif storage.get_modified_time(name) < cutoff:
            storage.delete(name)
            deleted.append(name)
    return needed


def _directories(now: datetime, months: int) -> Iterator[str]:
    year, month = now.year, now.month
    for _ in range(max(1, months)):
        for kind in KINDS:
            yield f"aigen/{kind}/{year:04d}/{month:02d}"
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)


def _all_directories(storage: Storage) -> Iterator[str]:
    for kind in KINDS:
        for year in _subfolders(storage, f"aigen/{kind}"):
            for month in _subfolders(storage, f"aigen/{kind}/{year}"):
                yield f"aigen/{kind}/{year}/{month}"


def _subfolders(storage: Storage, path: str) -> list[str]:
    """The date folders (digits only) in ``path``, oldest first."""
    try:
        folders, _ = storage.listdir(path)
    except FileNotFoundError:
        return []
    return sorted(folder for folder in folders if folder.isdigit())
