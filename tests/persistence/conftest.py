"""Fixtures of the persistence tests: temporary media for every test, task backends."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _media(media_storage: Path) -> Path:
    return media_storage
