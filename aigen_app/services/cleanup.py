"""Removing files no row refers to.

The services delete the files of their own failed transactions at once
(``storage.written_files``). A file can still be orphaned when a service runs inside a
*caller's* transaction (``ATOMIC_REQUESTS``, a view's ``atomic()``) that rolls back after
the service returned: Django offers no rollback hook. A caller that wraps its transaction
in ``written_files()`` itself (``manage.py generate`` does) gets those files deleted too;
for the others this sweep, run on a schedule through ``manage.py aigen_recover
--sweep-files``, is the safety net.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django.utils import timezone

from ..models import Generation, MediaAsset, TurnPart
from ..storage import KINDS, get_storage

CHUNK = 500


def sweep_orphan_files(
    *, older_than: float = 3600.0, months: int = 2, now: datetime | None = None
) -> list[str]:
    """Delete app files of the last ``months`` months that no row names and that are
    older than ``older_than`` seconds (younger ones may belong to a transaction still in
    progress). Returns the names deleted."""
    storage = get_storage()
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=older_than)
    deleted: list[str] = []
    for directory in _directories(now, months):
        try:
            _, files = storage.listdir(directory)
        except FileNotFoundError:
            continue
        names = [f"{directory}/{name}" for name in files]
        for name in sorted(set(names) - _referenced(names)):
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


def _referenced(names: Iterable[str]) -> set[str]:
    found: set[str] = set()
    names = list(names)
    for start in range(0, len(names), CHUNK):
        chunk = names[start:start + CHUNK]
        for model, fields in ((Generation, ("image", "reference_image")),
                              (TurnPart, ("image",)), (MediaAsset, ("image",))):
            for field in fields:
                found.update(
                    model._default_manager.filter(**{f"{field}__in": chunk})
                    .values_list(field, flat=True)
                )
    return found
