"""A paid result kept in storage until its generation's row records it.

Once the API has answered, the result is paid for; the database may be unreachable just
then. So a run writes the result's files first, then a *receipt* naming them and every
value the row will get, at a name derived from the generation and its run
(``aigen/receipts/<generation id>/<run token>.json``), and only then writes the rows.
Whoever gets through first records the result from the receipt, without calling the API
again: the run itself, retrying while the database is unreachable, or ``aigen_recover``
once the run's deadline has passed. The receipt is deleted when the outcome is recorded.

JSON, not pickle: storage (a shared bucket) is not trusted to hand back code.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from django.core.files.base import ContentFile

from ..storage import get_storage, read_file
from .turns import PartRecord

logger = logging.getLogger("aigen.services")

FOLDER = "aigen/receipts"


@dataclass(frozen=True)
class KeptResult:
    """A result whose files are stored: the generation's fields and its reply's parts."""

    fields: dict[str, Any]
    parts: list[PartRecord]

    @property
    def files(self) -> set[str]:
        names = {part.image_name for part in self.parts if part.image_name}
        return names | {self.fields["image"]}


def receipt_name(generation_id: object, run_token: object) -> str:
    return f"{FOLDER}/{generation_id}/{run_token}.json"


def keep(generation_id: object, run_token: object, result: KeptResult) -> None:
    """Write the receipt of a run (each run's token is new, so the name is free)."""
    body = json.dumps({"fields": result.fields,
                       "parts": [asdict(part) for part in result.parts]})
    name = receipt_name(generation_id, run_token)
    saved = get_storage().save(name, ContentFile(body.encode()))
    if saved != name:  # a storage that renames: the receipt could not be found again
        get_storage().delete(saved)
        raise RuntimeError(f"storage stored the receipt {name} as {saved}")


def load(generation_id: object, run_token: object) -> KeptResult | None:
    """The receipt of a run, or None when it left none."""
    name = receipt_name(generation_id, run_token)
    if not get_storage().exists(name):
        return None
    data = json.loads(read_file(name))
    return KeptResult(fields=data["fields"],
                      parts=[PartRecord(**part) for part in data["parts"]])


def drop(generation_id: object, run_token: object) -> None:
    """Delete a run's receipt once its outcome is recorded. A failure is logged only:
    the outcome stands, and an unneeded receipt is harmless."""
    name = receipt_name(generation_id, run_token)
    try:
        get_storage().delete(name)
    except Exception:
        logger.exception("could not delete the receipt %s", name)


def stored() -> Iterator[tuple[uuid.UUID, uuid.UUID, str]]:
    """Every receipt in storage: (generation id, run token, name). Names that are not a
    receipt's (nothing of ours) are skipped."""
    storage = get_storage()
    try:
        folders, _ = storage.listdir(FOLDER)
    except FileNotFoundError:
        return
    for folder in sorted(folders):
        try:
            generation_id = uuid.UUID(folder)
            _, files = storage.listdir(f"{FOLDER}/{folder}")
        except (ValueError, FileNotFoundError):
            continue
        for file in sorted(files):
            try:
                token = uuid.UUID(file.removesuffix(".json"))
            except ValueError:
                continue
            yield generation_id, token, receipt_name(generation_id, token)
