"""Storage backends that misbehave on purpose (referenced from STORAGES by path)."""

from __future__ import annotations

from typing import IO, Any

from django.core.files.storage import FileSystemStorage


class BrokenStorage(FileSystemStorage):
    """Reads and deletes work; every save fails, like a full disk or an S3 outage."""

    def save(self, name: str | None, content: IO[Any], max_length: int | None = None) -> str:
        raise OSError("storage is unavailable")


class UndeletableStorage(FileSystemStorage):
    """Saves and reads work; every delete fails, like an S3 outage after a commit."""

    def delete(self, name: str) -> None:
        raise OSError("storage is unavailable")
