"""The host project of the leg, built once for the package: the wheel installed into a
site directory of its own, a fresh ``startproject`` with the README's snippets, migrated,
with a superuser; the bundled emulator and a real server run in it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .adoption import adoption_snippets
from .project import (
    API_KEY,
    PASSWORD,
    STAFF,
    Host,
    Site,
    create_host,
    running_emulator_process,
    running_server,
)


@pytest.fixture(scope="package")
def host(built_dists: Any, tmp_path_factory: pytest.TempPathFactory) -> Host:
    project = create_host(tmp_path_factory.mktemp("host"), built_dists.wheel,
                          adoption_snippets())
    project.manage("migrate", "-v", "0")
    project.manage("createsuperuser", "--noinput", "--username", STAFF,
                   "--email", "staff@example.com", env={"DJANGO_SUPERUSER_PASSWORD": PASSWORD})
    return project


@pytest.fixture(scope="package")
def ai_env(host: Host) -> Iterator[dict[str, str]]:
    """The environment that points the host's app at the bundled emulator, running in
    the host (``manage.py aigen_emulator``)."""
    with running_emulator_process(host) as base_url:
        yield {"AI_BASE_URL": base_url, "AI_API_KEY": API_KEY}


@pytest.fixture(scope="package")
def site(host: Host, ai_env: dict[str, str]) -> Iterator[Site]:
    """``manage.py runserver`` in the host, with the superuser's API token."""
    output = host.manage("drf_create_token", STAFF).stdout
    token = output.split("Generated token ", 1)[1].split()[0]
    with running_server(host, env=ai_env) as url:
        yield Site(url=url, token=token)
