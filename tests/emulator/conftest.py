"""Fixtures: an emulator per test and an authenticated client; no emulator thread may
outlive its test."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from aigen_app.emulator import EmulatorServer, running_emulator

from .helpers import KEY


@pytest.fixture(autouse=True)
def _no_leaked_emulator_threads() -> Iterator[None]:
    yield
    leaked = [t.name for t in threading.enumerate() if t.name.startswith("gemini-emulator")]
    assert not leaked, f"emulator threads still running: {leaked}"


@pytest.fixture
def emu() -> Iterator[EmulatorServer]:
    with running_emulator() as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30, headers={"x-goog-api-key": KEY}) as http:
        yield http
