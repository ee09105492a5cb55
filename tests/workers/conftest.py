"""Fixtures of the worker tests: PostgreSQL and Redis behind proxies a test can cut or
stall. They skip unless ``DATABASE_URL`` is PostgreSQL (the production database) or
``REDIS_URL`` is set."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

from tests.support.processes import processes, redis_url  # noqa: F401 - fixtures used here

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


@pytest.fixture
def redis_proxy(redis_url: str) -> Iterator[tuple[TcpProxy, str]]:  # noqa: F811 - fixture
    """A proxy in front of the test Redis, and the URL of the same database through it."""
    parts = urlsplit(redis_url)
    proxy = TcpProxy(parts.port or 6379, parts.hostname or "127.0.0.1")
    yield proxy, urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))
    proxy.close()
