"""Fixtures shared by every test package: a test database other processes can open,
temporary media storage, the emulator wired into ``settings.AIGEN``, users and images.

On SQLite the test database is a file (not pytest-django's shared in-memory database) so
that threads take real locks and a worker subprocess can open the same database.

``AIGEN_TEST_STORAGE=s3`` puts the media of every test on S3: django-storages' S3Storage
against one moto server on loopback for the session, a fresh bucket per test. The default
(``local``) is a temporary directory per test.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_INSTALL_TIMEOUT = 900

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


def pytest_configure(config: pytest.Config) -> None:
    selected_storage()  # a misspelt switch stops the run instead of silently testing locally
    # The tests run generations inside the call that starts them unless they choose a
    # backend (the demo's default, aigen_app.inprocess, has its own tests); processes a
    # test starts use the project's settings as they are.
    settings.TASKS = {"default": IMMEDIATE}


def pytest_report_header(config: pytest.Config) -> str:
    return f"media storage: {selected_storage()} (AIGEN_TEST_STORAGE)"


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
        ``tests.scale.worker_settings``' ``AIGEN_TEST_SETTINGS``)."""
        if self.root is None:
            return {"STORAGES": self.storages()}
        return {"STORAGES": self.storages(), "MEDIA_ROOT": str(self.root)}

    def process_env(self) -> dict[str, str]:
        """Environment of a ``manage.py`` process using this storage."""
        return {"DJANGO_SETTINGS_MODULE": "tests.scale.worker_settings",
                "AIGEN_TEST_SETTINGS": json.dumps(self.process_settings())}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on a loopback port, for the whole session."""
    from moto.server import ThreadedMotoServer

    # One log line per S3 request would drown a failing test's own log.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint: str) -> Iterator[Any]:
    """A new bucket on moto: a boto3 ``Bucket`` with ``storage_options`` for
    django-storages' S3 backend (signed URLs valid for 5 minutes, as the production
    settings of docs/operations.md). Emptied and removed afterwards."""
    import boto3

    name = f"aigen-{uuid.uuid4().hex[:12]}"
    bucket = boto3.resource("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                            aws_access_key_id="testing",
                            aws_secret_access_key="testing").Bucket(name)
    bucket.create()
    bucket.storage_options = {
        "bucket_name": name, "endpoint_url": moto_endpoint, "region_name": "us-east-1",
        "access_key": "testing", "secret_key": "testing",
        "querystring_auth": True, "querystring_expire": 300,
    }
    yield bucket
    bucket.objects.all().delete()
    bucket.delete()


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


@pytest.fixture
def media_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Media]:
    """Every storage alias the app may use writes to a temporary directory, or to a fresh
    bucket on moto with ``AIGEN_TEST_STORAGE=s3``."""
    if selected_storage() == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        media = Media(S3_BACKEND, bucket.storage_options, bucket=bucket)
        media_root = tmp_path / "media-root-unused-on-s3"
        media_root.mkdir()
    else:
        media = local_media(tmp_path / "media")
        media_root = tmp_path / "media"
    with using(media, media_root):
        yield media


@pytest.fixture
def local_media_storage(tmp_path: Path) -> Iterator[Media]:
    """Media in a temporary directory whatever ``AIGEN_TEST_STORAGE`` says, for tests
    about the local filesystem itself (streaming a file with a ``path()``)."""
    media = local_media(tmp_path / "local-media")
    with using(media, media.root or tmp_path):
        yield media


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


def stored_files(media: Media | Path) -> list[str]:
    """Every file of a test's media (local or S3), or under a directory, as sorted names."""
    if isinstance(media, Media):
        return media.files()
    return sorted(p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file())


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """The emulator (Gemini and OpenAI) on a free loopback port."""
    with running_emulator() as server:
        yield server


def aigen_settings_for(server: EmulatorServer, **extra: Any) -> dict[str, Any]:
    """``settings.AIGEN`` pointing the app's client at ``server``, for both providers."""
    return {"BASE_URL": server.base_url, "API_KEY": TEST_API_KEY,
            "OPENAI_BASE_URL": server.openai_base_url, "OPENAI_API_KEY": TEST_API_KEY,
            **extra}


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


@pytest.fixture(scope="session")
def built_dists(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The wheel and sdist of the tracked files, built once per session
    (``tests.packaging.dists.Dists``)."""
    from tests.packaging.dists import build_dists

    return build_dists(tmp_path_factory.mktemp("dists"))


@pytest.fixture(scope="session")
def chromium() -> str:
    """The path of Debian's Chromium, installing the package when it is missing and we
    may (root, apt-get): the browser test must run in CI, not download a browser.

    Missing and not installable: the test fails when env CI is set, else is skipped.
    """
    if not CHROMIUM.exists() and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            subprocess.run(
                ["/bin/sh", "-c", "apt-get update && apt-get install -y "
                 "--no-install-recommends chromium"],
                env=env, check=True, timeout=CHROMIUM_INSTALL_TIMEOUT,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )
        except subprocess.CalledProcessError as exc:
            reason = f"apt-get failed: {exc}; {exc.stderr.decode(errors='replace')[-800:]}"
        except (subprocess.SubprocessError, OSError) as exc:
            reason = f"could not run apt-get: {exc}"
        else:
            reason = f"apt-get installed chromium but {CHROMIUM} is missing"
    else:
        reason = f"{CHROMIUM} is missing (install Debian's chromium package as root)"
    if CHROMIUM.exists():
        return str(CHROMIUM)
    if os.environ.get("CI"):
        pytest.fail(f"The browser test must run in CI: {reason}")
    pytest.skip(reason)
