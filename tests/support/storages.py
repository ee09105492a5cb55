"""Storage backends that misbehave on purpose (referenced from STORAGES by path), on the
local filesystem and on S3 (``AIGEN_TEST_STORAGE=s3``): ``Broken``, ``Undeletable``; and
``referenced_files``, what the rows name, to compare with what storage holds."""

from __future__ import annotations

from typing import IO, Any

from django.core.files.storage import FileSystemStorage
from storages.backends.s3 import S3Storage

from tests.support import Media


class Broken:
    """Reads and deletes work; every save fails, like a full disk or an S3 outage."""

    def save(self, name: str | None, content: IO[Any], max_length: int | None = None) -> str:
        raise OSError("storage is unavailable")


class Undeletable:
    """Saves and reads work; every delete fails, like an S3 outage after a commit."""

    def delete(self, name: str) -> None:
        raise OSError("storage is unavailable")


class BrokenStorage(Broken, FileSystemStorage):
    pass


class BrokenS3Storage(Broken, S3Storage):  # type: ignore[misc]
    pass


class UndeletableStorage(Undeletable, FileSystemStorage):
    pass


class UndeletableS3Storage(Undeletable, S3Storage):  # type: ignore[misc]
    pass


def misbehaving(media: Media, fault: str) -> dict[str, Any]:
    """A ``STORAGES`` entry on ``media``'s directory or bucket whose backend has
    ``fault`` (``"Broken"``, ``"Undeletable"``)."""
    kind = "S3Storage" if media.on_s3 else "Storage"
    return media.config(f"{__name__}.{fault}{kind}")


def referenced_files() -> set[str]:
    """Every file a row names."""
    from aigen_app.models import Generation, MediaAsset, TurnPart

    names: set[str] = set()
    for model, field in ((Generation, "image"), (Generation, "reference_image"),
                         (TurnPart, "image"), (MediaAsset, "image")):
        names.update(n for n in model.objects.values_list(field, flat=True) if n)
    return names
