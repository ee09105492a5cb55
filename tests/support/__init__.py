"""Helpers shared by every test package: the test settings (task backends, the emulator's
key), the tests' media storage, images, threads, polling, and assertions on stored turns.

Fixtures live in ``tests/conftest.py`` and use these; tests import them from here, never
from a conftest. Helpers only one package uses stay beside it (``tests/api/helpers.py``,
``tests/admin/helpers.py`` ...); processes a test starts: ``tests.support.processes``.
"""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings
from PIL import Image

from aigen_app.emulator import EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
POLL_INTERVAL = 0.05  # seconds between two looks at another thread's or process's progress

TEST_API_KEY = "test-key"

# Task backends (Django 6's django.tasks, or the django-tasks backport on 5.2).
TASKS_MODULE = "django.tasks" if find_spec("django.tasks") else "django_tasks"
IMMEDIATE = {"BACKEND": f"{TASKS_MODULE}.backends.immediate.ImmediateBackend"}
DUMMY = {"BACKEND": f"{TASKS_MODULE}.backends.dummy.DummyBackend"}
DATABASE = {"BACKEND": "django_tasks_db.DatabaseBackend"}

TEST_STORAGES = ("local", "s3")
LOCAL_BACKEND = "django.core.files.storage.FileSystemStorage"
S3_BACKEND = "storages.backends.s3.S3Storage"


def selected_storage() -> str:
    """Where the tests' media live: ``AIGEN_TEST_STORAGE``, ``local`` (default) or ``s3``."""
    kind = os.environ.get("AIGEN_TEST_STORAGE") or "local"
    if kind not in TEST_STORAGES:
        raise pytest.UsageError(
            f"AIGEN_TEST_STORAGE is {kind!r}; use one of {', '.join(TEST_STORAGES)}")
    return kind


@dataclass
class Media:
    """A test's media storage: a temporary directory (``root``) or a fresh bucket on
    moto (``bucket``, a boto3 ``Bucket``), whichever ``AIGEN_TEST_STORAGE`` chose."""

    backend: str
    options: dict[str, Any]
    root: Path | None = None
    bucket: Any = field(default=None, repr=False)

    @property
    def on_s3(self) -> bool:
        return self.bucket is not None

    def config(self, backend: str | None = None) -> dict[str, Any]:
        """A ``STORAGES`` entry on this storage (``backend``: a subclass of its own)."""
        return {"BACKEND": backend or self.backend, "OPTIONS": dict(self.options)}

    def storages(self) -> dict[str, Any]:
        """``STORAGES`` with the default storage here."""
        return {**settings.STORAGES, "default": self.config()}

    def files(self) -> list[str]:
        """Every stored file, as sorted names."""
        if self.bucket is not None:
            return sorted(obj.key for obj in self.bucket.objects.all())
        assert self.root is not None
        return stored_files(self.root)

    def read(self, name: str) -> bytes:
        if self.bucket is not None:
            data: bytes = self.bucket.Object(name).get()["Body"].read()
            return data
        assert self.root is not None
        return (self.root / name).read_bytes()

    def delete(self, name: str) -> None:
        """Remove a file behind the app's back."""
        if self.bucket is not None:
            self.bucket.Object(name).delete()
        else:
            assert self.root is not None
            (self.root / name).unlink()

    def process_settings(self) -> dict[str, Any]:
        """Settings another process needs to use this storage (JSON, for
        ``tests.support.worker_settings``' ``AIGEN_TEST_SETTINGS``)."""
        if self.root is None:
            return {"STORAGES": self.storages()}
        return {"STORAGES": self.storages(), "MEDIA_ROOT": str(self.root)}

    def process_env(self) -> dict[str, str]:
        """Environment of a ``manage.py`` process using this storage."""
        return {"DJANGO_SETTINGS_MODULE": "tests.support.worker_settings",
                "AIGEN_TEST_SETTINGS": json.dumps(self.process_settings())}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s3_storages(options: dict[str, Any]) -> dict[str, Any]:
    """``STORAGES`` with the default storage on S3."""
    return {**settings.STORAGES, "default": {"BACKEND": S3_BACKEND, "OPTIONS": options}}


def local_media(root: Path) -> Media:
    root.mkdir()
    return Media(LOCAL_BACKEND, {"location": str(root)}, root=root)


@contextmanager
def using(media: Media, media_root: Path) -> Iterator[Media]:
    """Every storage alias the app may use on ``media``; ``MEDIA_ROOT`` at ``media_root``
    (where nothing may appear when the media are on S3)."""
    with override_settings(STORAGES=media.storages(), MEDIA_ROOT=str(media_root)):
        yield media
    if media.on_s3:
        assert stored_files(media_root) == [], "files written to MEDIA_ROOT on S3"


def database_url() -> str:
    """The test database as a URL another process can open."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
    host = f"{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
    return f"postgres://{auth}@{host}/{params['NAME']}"


def stored_files(media: Media | Path) -> list[str]:
    """Every file of a test's media (local or S3), or under a directory, as sorted names."""
    if isinstance(media, Media):
        return media.files()
    return sorted(p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file())


def aigen_settings_for(server: EmulatorServer, **extra: Any) -> dict[str, Any]:
    """``settings.AIGEN`` pointing the app's client at ``server``, for both providers."""
    return {"BASE_URL": server.base_url, "API_KEY": TEST_API_KEY,
            "OPENAI_BASE_URL": server.openai_base_url, "OPENAI_API_KEY": TEST_API_KEY,
            **extra}


def png_bytes(width: int = 32, height: int = 24, color: tuple[int, int, int] = (200, 30, 30),
              fmt: str = "PNG") -> bytes:
    """A small, valid image."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()


def run_in_threads(count: int, target: Callable[[int], Any]) -> list[Any]:
    """Run ``target(i)`` in ``count`` threads started together; return results or the
    exceptions raised, in order. Each thread closes its database connections."""
    from django.db import connections

    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def body(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = target(index)
        except BaseException as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=100)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    return results


def paired_turns(conversation_id: Any) -> list[tuple[Any, list[Any]]]:
    """Assert the turn invariant of a conversation and return its pairs by position:
    (generation id, the model turn's parts) for each generation.

    Positions run 0..n-1 without a gap; user and model turns alternate, starting with a
    user turn; each user turn and the model turn right after it belong to one generation,
    and no generation has more than one pair.
    """
    from aigen_app.models import Turn

    turns = list(Turn.objects.filter(conversation_id=conversation_id).order_by("position")
                 .prefetch_related("parts"))
    assert [t.position for t in turns] == list(range(len(turns)))
    assert [t.role for t in turns] == ["user", "model"] * (len(turns) // 2)
    pairs = list(zip(turns[0::2], turns[1::2], strict=True))
    assert all(user.generation_id == model.generation_id for user, model in pairs)
    generations = [user.generation_id for user, _ in pairs]
    assert len(set(generations)) == len(generations)
    return [(user.generation_id, list(model.parts.all())) for user, model in pairs]


def reply_parts(generation: Any) -> list[Any]:
    """The parts of ``generation``'s model turn, which exists from creation on and stays
    empty unless the generation succeeds."""
    from aigen_app.models import Turn

    return list(Turn.objects.get(generation=generation, role="model").parts.all())



def wait_until(condition: Callable[[], object], timeout: float = 60,
               what: str = "the condition", interval: float = POLL_INTERVAL,
               explain: Callable[[], str] | None = None) -> None:
    """Poll ``condition`` until it holds (another process's or thread's progress, which
    no event of ours can signal); fail naming ``what`` after ``timeout`` seconds, with
    what ``explain`` then says (the state a failure needs to be understood)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}"
                                 + (f"\n{explain()}" if explain is not None else ""))
        time.sleep(interval)
