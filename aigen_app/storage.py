"""Where images live: the storage named by ``AIGEN["STORAGE"]``, resolved at use time.

Rows keep storage *names* only (never URLs, which may be signed and expire). Every file
gets a fresh key, so nothing is ever overwritten. ``written_files`` pairs file writes
with the database work that records them: if that work fails, the files are deleted, so
no file outlives a rolled-back transaction and no row points at a file that failed to
write (rows are only written after their files). Blocks nest: a caller that composes
several services in one transaction of its own wraps it in ``written_files()`` too, and
the files the services wrote go if that transaction fails.
"""

from __future__ import annotations

import logging
import mimetypes
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from os import PathLike
from typing import IO, Any

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from .conf import aigen_settings

logger = logging.getLogger("aigen.storage")

# The folders under ``aigen/`` files are written to (``new_name``'s ``kind``).
KINDS = ("generations", "turns", "references", "assets")

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp",
               "image/gif": "gif", "image/heic": "heic", "image/heif": "heif"}


def get_storage() -> Storage:
    """The configured storage, looked up now so ``override_settings`` takes effect."""
    return storages[aigen_settings.STORAGE]


@deconstructible(path="aigen_app.storage.AigenStorage")
class AigenStorage(Storage):
    """The storage of the app's file fields: forwards each call to ``get_storage()``.

    A field's ``storage`` is fixed when models load; forwarding keeps the alias lazy so
    a host project (or a test) can change ``STORAGES`` or ``AIGEN["STORAGE"]`` later.
    """

    def open(self, name: str, mode: str = "rb") -> File[Any]:
        return get_storage().open(name, mode)

    def save(self, name: str | None, content: IO[Any], max_length: int | None = None) -> str:
        return get_storage().save(name, content, max_length=max_length)

    def delete(self, name: str) -> None:
        get_storage().delete(name)

    def exists(self, name: str) -> bool:
        return get_storage().exists(name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return get_storage().listdir(path)

    def size(self, name: str) -> int:
        return get_storage().size(name)

    def url(self, name: str | None) -> str:
        return get_storage().url(name)

    def path(self, name: str) -> str:
        return get_storage().path(name)

    def get_valid_name(self, name: str) -> str:
        return get_storage().get_valid_name(name)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return get_storage().get_available_name(name, max_length=max_length)

    def generate_filename(self, filename: str | PathLike[str]) -> str:
        return get_storage().generate_filename(filename)

    def get_accessed_time(self, name: str) -> datetime:
        return get_storage().get_accessed_time(name)

    def get_created_time(self, name: str) -> datetime:
        return get_storage().get_created_time(name)

    def get_modified_time(self, name: str) -> datetime:
        return get_storage().get_modified_time(name)


aigen_storage = AigenStorage()


def new_name(kind: str, mime_type: str) -> str:
    """A fresh key such as ``aigen/generations/2026/11/<uuid>.png``."""
    ext = _EXTENSIONS.get(mime_type) or (mimetypes.guess_extension(mime_type) or ".bin")[1:]
    return f"aigen/{kind}/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{ext}"


def read_file(name: str) -> bytes:
    with get_storage().open(name, "rb") as handle:
        data = handle.read()
    return data if isinstance(data, bytes) else data.encode()


class FileBatch:
    """Files written for one unit of work, so they can be removed if it fails."""

    def __init__(self, enclosing: FileBatch | None = None) -> None:
        self.names: list[str] = []
        self.enclosing = enclosing

    def save(self, kind: str, data: bytes, mime_type: str) -> str:
        """Write ``data`` under a fresh key and return the name the storage chose."""
        name = get_storage().save(new_name(kind, mime_type), ContentFile(data))
        batch: FileBatch | None = self
        while batch is not None:
            batch.names.append(name)
            batch = batch.enclosing
        return name

    def discard(self) -> None:
        """Delete every file of the batch; a failed delete is logged, never raised, so
        the error that caused the discard is the one the caller sees."""
        storage = get_storage()
        for name in self.names:
            try:
                storage.delete(name)
            except Exception:
                logger.exception("could not delete orphaned file %s", name)
        batch = self.enclosing
        while batch is not None:
            batch.names = [name for name in batch.names if name not in self.names]
            batch = batch.enclosing
        self.names.clear()


_current_batch: ContextVar[FileBatch | None] = ContextVar("aigen_file_batch", default=None)


@contextmanager
def written_files() -> Iterator[FileBatch]:
    """Yield a batch whose files are deleted if the block raises.

    Write the files first, then the rows inside a ``transaction.atomic()`` nested in
    this block: a failed write raises before any row exists, and a failed or
    rolled-back transaction raises out of the block and takes the files with it.

    A block opened inside a transaction, within another ``written_files()`` block, also
    hands its files to that enclosing batch: its rows commit only with the enclosing
    transaction, so they are the enclosing block's to lose. A block opened outside any
    transaction (an ``on_commit`` callback, say) commits its rows itself and keeps its
    files whatever happens around it.
    """
    enclosing = _current_batch.get()
    if enclosing is not None and not transaction.get_connection().in_atomic_block:
        enclosing = None
    batch = FileBatch(enclosing)
    token = _current_batch.set(batch)
    try:
        yield batch
    except BaseException:
        batch.discard()
        raise
    finally:
        _current_batch.reset(token)
