"""pytest fixtures for projects that use aigen: the bundled Gemini emulator, with the
project's ``settings.AIGEN`` pointed at it, so tests cross a real socket and never the
internet. Opt in from the project's root ``conftest.py``::

    pytest_plugins = ["aigen_app.testing"]

Needs pytest-django (the fixtures change settings through its ``settings`` fixture).
Nothing here touches Django settings when the plugin is imported. ``docs/testing.md``
has examples.

- ``aigen_emulator``: the emulator (an ``aigen_app.emulator.EmulatorServer``) with
  ``AIGEN["BASE_URL"]`` and ``AIGEN["API_KEY"]`` pointing at it for the test, its log,
  faults and limits reset. Script it with ``inject(kind, times=1, **params)`` (e.g.
  ``"block_prompt"``, ``"unavailable"``, ``"rate_limit"``; every kind is in
  ``aigen_app.emulator.FAULT_KINDS``), ``set_fault_rates({kind: probability})``,
  ``set_latency(seconds)`` and ``set_rpm(n)``; read what was sent with ``requests()``
  (``LogEntry`` rows: ``prompt``, ``aspect_ratio``, ``image_size``, ``seed``, ``status``,
  ``outcome`` and the request ``body`` as JSON).
- ``aigen_emulator_server``: the same emulator for the whole session, untouched.
- ``aigen_immediate_tasks``: generations run as soon as they are queued (the task
  backend ``AIGEN["TASK_BACKEND"]`` names becomes the immediate one).
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.util import find_spec
from typing import Any

import pytest

from aigen_app.emulator import EmulatorServer, running_emulator

__all__ = ["TEST_API_KEY", "aigen_emulator", "aigen_emulator_server", "aigen_immediate_tasks"]

# The key the client sends to the emulator (which accepts any): never a real one.
TEST_API_KEY = "aigen-test-key"


@pytest.fixture(scope="session")
def aigen_emulator_server() -> Iterator[EmulatorServer]:
    """The bundled emulator on a free loopback port, for the whole session."""
    with running_emulator() as server:
        yield server


def reset(server: EmulatorServer) -> None:
    """Forget the log, queued faults, fault rates, latency and quota of ``server``."""
    server.clear()
    server.set_latency(0.0)
    server.set_rpm(None)
    server.seed(None)


@pytest.fixture
def aigen_emulator(aigen_emulator_server: EmulatorServer,
                   settings: Any) -> Iterator[EmulatorServer]:
    """The emulator, reset, with ``settings.AIGEN`` pointing the app's client at it (the
    project's other ``AIGEN`` keys kept)."""
    reset(aigen_emulator_server)
    settings.AIGEN = {**getattr(settings, "AIGEN", {}),
                      "BASE_URL": aigen_emulator_server.base_url, "API_KEY": TEST_API_KEY}
    try:
        yield aigen_emulator_server
    finally:
        reset(aigen_emulator_server)


@pytest.fixture
def aigen_immediate_tasks(settings: Any) -> None:
    """Generations run as soon as they are queued (after the transaction commits: use
    ``django_db(transaction=True)`` or ``django_capture_on_commit_callbacks``)."""
    from aigen_app.conf import aigen_settings

    module = "django.tasks" if find_spec("django.tasks") else "django_tasks"
    backend = {"BACKEND": f"{module}.backends.immediate.ImmediateBackend"}
    settings.TASKS = {**getattr(settings, "TASKS", {}), aigen_settings.TASK_BACKEND: backend}
