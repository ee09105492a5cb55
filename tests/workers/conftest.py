"""Fixtures of the worker tests: PostgreSQL and Redis behind proxies a test can cut or
stall. They skip unless ``DATABASE_URL`` is PostgreSQL (the production database) or
``REDIS_URL`` is set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from tests.scale.conftest import processes, redis_url  # noqa: F401 - fixtures used here

from .proxy import TcpProxy


@pytest.fixture
def postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs DATABASE_URL on PostgreSQL (the production database)")


@pytest.fixture
def database_proxy(postgresql: None) -> Iterator[TcpProxy]:
    """A proxy in front of the test database."""
    proxy = TcpProxy(int(connection.settings_dict["PORT"] or 5432),
                     connection.settings_dict["HOST"] or "127.0.0.1")
    yield proxy
    proxy.close()
