"""Fixtures shared by every test package: a test database other processes can open,
temporary media storage, the emulator wired into ``settings.AIGEN``, users and images.
Helpers live in ``tests.support``; no test imports from a conftest.

On SQLite the test database is a file (not pytest-django's shared in-memory database) so
that threads take real locks and a worker subprocess can open the same database.

``AIGEN_TEST_STORAGE=s3`` puts the media of every test on S3: django-storages' S3Storage
against one moto server on loopback for the session, a fresh bucket per test. The default
(``local``) is a temporary directory per test.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import override_settings

from aigen_app.emulator import EmulatorServer, running_emulator
from tests.support import (
    DATABASE,
    DUMMY,
    IMMEDIATE,
    S3_BACKEND,
    Media,
    aigen_settings_for,
    free_port,
    local_media,
    selected_storage,
    using,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_INSTALL_TIMEOUT = 900

# Fixtures and hooks of the tests that start processes (Redis, child processes, figures).
pytest_plugins = ["tests.support.processes"]


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


def pytest_configure(config: pytest.Config) -> None:
    selected_storage()  # a misspelt switch stops the run instead of silently testing locally
    # The tests run generations inside the call that starts them unless they choose a
    # backend (the demo's default, aigen_app.inprocess, has its own tests); processes a
    # test starts use the project's settings as they are.
    settings.TASKS = {"default": IMMEDIATE}


# Tests that start real processes (workers, Django in a subprocess, the host project,
# runserver, the emulator command, Chromium): ``pytest -m processes`` runs them alone,
# ``-m "not processes"`` skips them. Everything under these packages, and every test using
# the ``processes`` fixture, is marked here; others carry ``@pytest.mark.processes``.
PROCESS_PACKAGES = ("workers", "host")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).resolve().parent
    for item in items:
        package = item.path.relative_to(tests).parts[0] if item.path.is_relative_to(tests) else ""
        if package in PROCESS_PACKAGES or "processes" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.processes)


def pytest_report_header(config: pytest.Config) -> str:
    return f"media storage: {selected_storage()} (AIGEN_TEST_STORAGE)"


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


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    """The emulator (Gemini and OpenAI) on a free loopback port."""
    with running_emulator() as server:
        yield server


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
