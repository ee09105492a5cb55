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
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from django.core.files.storage import Storage
from django.utils import timezone

from ..storage import KINDS, get_storage
from .files import CHUNK, referenced


def sweep_orphan_files(
    *, older_than: float = 3600.0, months: int | None = None, now: datetime | None = None
) -> list[str]:
    """Delete app files that no row names and that are older than ``older_than`` seconds
    (younger ones may belong to a transaction still in progress). Returns the names
    deleted.

    Every date folder (``aigen/<kind>/<year>/<month>``) is swept, or with ``months`` only
    those of the last ``months`` months. One folder's listing is held at a time and
    checked ``CHUNK`` names at a time: storage APIs list a folder whole.
    """
    storage = get_storage()
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=older_than)
    deleted: list[str] = []
    folders = _all_directories(storage) if months is None else _directories(now, months)
    for directory in folders:
        try:
            _, files = storage.listdir(directory)
        except FileNotFoundError:
            continue
        names = sorted(f"{directory}/{name}" for name in files)
        for start in range(0, len(names), CHUNK):
            chunk = names[start:start + CHUNK]
            for name in sorted(set(chunk) - referenced(chunk)):
                if storage.get_modified_time(name) < cutoff:
                    storage.delete(name)
                    deleted.append(name)
    return deleted


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
