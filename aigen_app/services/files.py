"""The files of deleted rows: removed after the commit, and only when no row names them.

Rows name files; several rows may name the same one (a generation's result and its model
turn's image part, an asset and the user turns it was sent with). Whichever way a row
goes (a service, a conversation's cascade, ``QuerySet.delete()``, the admin), the
``post_delete`` receivers connected in ``AigenConfig.ready`` note the names it held, and
one callback per transaction, run once the outermost transaction commits, deletes those
that no row names any more. A rolled-back deletion deletes nothing: Django drops the
callbacks of a rolled-back transaction (or savepoint), and the check against committed
rows keeps a file whose row came back. A failed storage delete is logged, not raised:
the row is gone and the file is an orphan that ``sweep_orphan_files`` removes later.
Rows removed by raw SQL or ``QuerySet.update()`` fire no signal; the sweep catches those
too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models.signals import post_delete

from ..models import Generation, MediaAsset, TurnPart
from ..storage import get_storage

logger = logging.getLogger("aigen.services")

CHUNK = 500

# Every column that names a file in storage. ``tests/services/test_row_deletion.py``
# checks that it lists every FileField of the app's models.
FILE_FIELDS: tuple[tuple[type[models.Model], tuple[str, ...]], ...] = (
    (Generation, ("image", "reference_image")),
    (TurnPart, ("image",)),
    (MediaAsset, ("image",)),
)


def referenced(names: Iterable[str]) -> set[str]:
    """Those of ``names`` some row names, queried ``CHUNK`` names at a time."""
    found: set[str] = set()
    names = list(names)
    for start in range(0, len(names), CHUNK):
        chunk = names[start:start + CHUNK]
        for model, fields in FILE_FIELDS:
            for field in fields:
                found.update(
                    model._default_manager.filter(**{f"{field}__in": chunk})
                    .values_list(field, flat=True)
                )
    return found


def delete_unreferenced(names: Iterable[str]) -> list[str]:
    """Delete those of ``names`` no row names; returns the names deleted.

    Checked against what is committed when it runs: a row written meanwhile by another
    transaction keeps its file. A failed delete is logged and skipped.
    """
    wanted = {name for name in names if name}
    storage = get_storage()
    deleted: list[str] = []
    for name in sorted(wanted - referenced(wanted)):
        try:
            storage.delete(name)
        except Exception:
            # Failing the caller now would report a deletion that did happen as an error.
            logger.exception("could not delete the file %s of a deleted row", name)
        else:
            deleted.append(name)
    return deleted


class _Pending:
    """The names noted in one transaction; called once it commits."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def __call__(self) -> None:
        names, self.names = self.names, set()
        delete_unreferenced(names)


def delete_after_commit(names: Iterable[str], using: str = DEFAULT_DB_ALIAS) -> None:
    """Delete ``names`` once the outermost transaction on ``using`` commits, unless some
    row names them then. Outside a transaction: at once.

    One callback per transaction collects every name, so deleting a conversation with
    thousands of parts checks them in a few queries. The callback is looked up among
    those still registered: a savepoint rolled back since dropped it with its names
    (their rows are back), and the next deletion registers a new one.
    """
    wanted = [name for name in names if name]
    if not wanted:
        return
    connection = connections[using]
    if not connection.in_atomic_block:
        delete_unreferenced(wanted)
        return
    pending = getattr(connection, "_aigen_pending_files", None)
    if pending is None or not any(entry[1] is pending for entry in connection.run_on_commit):
        pending = _Pending()
        connection._aigen_pending_files = pending  # type: ignore[attr-defined]
        transaction.on_commit(pending, using=using, robust=True)
    pending.names.update(wanted)


def _receiver(fields: tuple[str, ...]) -> Callable[..., None]:
    def note_files(sender: type[models.Model], instance: models.Model, using: str,
                   **kwargs: Any) -> None:
        delete_after_commit((getattr(instance, field).name or "" for field in fields),
                            using=using)

    return note_files


_RECEIVERS = [(model, _receiver(fields)) for model, fields in FILE_FIELDS]


def connect_receivers() -> None:
    """Called by ``AigenConfig.ready``; connecting twice is harmless."""
    for model, receiver in _RECEIVERS:
        post_delete.connect(receiver, sender=model,
                            dispatch_uid=f"aigen_files_{model._meta.model_name}")
