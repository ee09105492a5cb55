"""Fixtures shared by every test package: a test database other processes can open,
temporary media storage, the emulator wired into ``settings.AIGEN``, users and images.

On SQLite the test database is a file (not pytest-django's shared in-memory database) so
that threads take real locks and a worker subprocess can open the same database.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings
from PIL import Image

from aigen_app.emulator import EmulatorServer, running_emulator

TEST_API_KEY = "test-key"

# Task backends (Django 6's django.tasks, or the django-tasks backport on 5.2).
TASKS_MODULE = "django.tasks" if find_spec("django.tasks") else "django_tasks"
IMMEDIATE = {"BACKEND": f"{TASKS_MODULE}.backends.immediate.ImmediateBackend"}
DUMMY = {"BACKEND": f"{TASKS_MODULE}.backends.dummy.DummyBackend"}
DATABASE = {"BACKEND": "django_tasks_db.DatabaseBackend"}


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        database.setdefault("TEST", {})["NAME"] = str(path)
        # A throwaway database: skip the fsyncs that make every test's flush slow.
        database.setdefault("OPTIONS", {})["init_command"] = "PRAGMA synchronous=OFF"


@pytest.fixture
def media_storage(tmp_path: Path) -> Iterator[Path]:
    """Every storage alias the app may use writes under a temporary directory."""
    root = tmp_path / "media"
    root.mkdir()
    storages = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(root)}},
    }
    with override_settings(STORAGES=storages, MEDIA_ROOT=str(root)):
        yield root


@pytest.fixture
def immediate_tasks() -> Iterator[None]:
    """Generations run as soon as they are created (whatever AIGEN_TASK_BACKEND says)."""
    with override_settings(TASKS={"default": IMMEDIATE}):
        yield


@pytest.fixture
def queued_tasks() -> Iterator[Any]:
    """A backend that only records what is queued (and can defer): nothing runs."""
    with override_settings(TASKS={"default": DUMMY}):
        from aigen_app.tasks import get_backend

        yield get_backend()


@pytest.fixture
def database_tasks() -> Iterator[None]:
    """django-tasks-db's backend: queued work waits in the database for a worker."""
    with override_settings(TASKS={"default": DATABASE}):
        yield


def database_url() -> str:
    """The test database as a URL another process can open."""
    from django.db import connection

    params = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{params['NAME']}"
    auth = params["USER"] + (f":{params['PASSWORD']}" if params["PASSWORD"] else "")
    host = f"{params['HOST'] or '127.0.0.1'}:{params['PORT'] or 5432}"
    return f"postgres://{auth}@{host}/{params['NAME']}"


def stored_files(root: Path) -> list[str]:
    """Every file under a storage root, as sorted relative names."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """A Gemini emulator on a free loopback port."""
    with running_emulator() as server:
        yield server


def aigen_settings_for(server: EmulatorServer, **extra: Any) -> dict[str, Any]:
    """``settings.AIGEN`` pointing the app's client at ``server``."""
    return {"BASE_URL": server.base_url, "API_KEY": TEST_API_KEY, **extra}


@pytest.fixture
def aigen_emulator(emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    """The emulator, with ``settings.AIGEN`` pointing the app's client at it."""
    with override_settings(AIGEN=aigen_settings_for(emulator)):
        yield emulator


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    counter = iter(range(1, 10_000))

    def make(username: str | None = None) -> Any:
        name = username or f"user{next(counter)}"
        return get_user_model().objects.create_user(username=name, password="x")

    return make


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
