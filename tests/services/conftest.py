"""Fixtures of the persistence tests: temporary media for every test, task backends."""

from __future__ import annotations

import pytest

from tests.support import Media


@pytest.fixture(autouse=True)
def _media(media_storage: Media) -> Media:
    return media_storage
