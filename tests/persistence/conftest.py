"""Fixtures of the persistence tests: temporary media for every test, task backends."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

TASKS_MODULE = "django.tasks" if find_spec("django.tasks") else "django_tasks"
IMMEDIATE = {"BACKEND": f"{TASKS_MODULE}.backends.immediate.ImmediateBackend"}
DUMMY = {"BACKEND": f"{TASKS_MODULE}.backends.dummy.DummyBackend"}
DATABASE = {"BACKEND": "django_tasks_db.DatabaseBackend"}


@pytest.fixture(autouse=True)
def _media(media_storage: Path) -> Path:
    return media_storage


@pytest.fixture
def immediate_tasks() -> Iterator[None]:
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
