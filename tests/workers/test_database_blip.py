"""A 0.3 s database blip while paid results are being saved loses none of them: every
generation succeeds, each with one API call, no row stays running and no file is left
that no row names. Runs on PostgreSQL, each generation in a thread whose connection
goes through a proxy the test cuts."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from django.db import connections

from aigen_app import services
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from tests.support import Media, wait_until

from .outcome import check_outcome
from .proxy import TcpProxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("queued_tasks")]

GENERATIONS = 12
LATENCY = 1.0  # seconds the emulator takes to answer




def count(status: GenerationStatus) -> int:
    return Generation.objects.filter(status=status).count()


def run_through(proxy: TcpProxy, generation_id: str, results: dict[str, Any]) -> None:
    """Run one generation in this thread, its database connection through ``proxy``."""
    wrapper = connections["default"]
    wrapper.settings_dict = {**wrapper.settings_dict, "HOST": "127.0.0.1", "PORT": proxy.port}
    try:
        results[generation_id] = services.run_generation(generation_id)
    except BaseException as exc:
        results[generation_id] = exc
    finally:
        connections.close_all()


@pytest.mark.timeout(120)
def test_a_database_blip_while_saving_loses_no_paid_result(
    make_user: Any, aigen_emulator: EmulatorServer, media_storage: Media,
    database_proxy: TcpProxy, caplog: pytest.LogCaptureFixture,
) -> None:
    owner = make_user()
    ids = [str(services.create_generation(f"Blip poster {i}", owner=owner,
                                          width=64, height=64).pk)
           for i in range(GENERATIONS)]
    aigen_emulator.set_latency(LATENCY)
    results: dict[str, Any] = {}
    threads = [threading.Thread(target=run_through, args=(database_proxy, pk, results))
               for pk in ids]
    caplog.set_level(logging.WARNING, logger="aigen.services")
    for thread in threads:
        thread.start()

    # Every run has claimed its row and waits for the API: their connections die.
    wait_until(lambda: count(GenerationStatus.RUNNING) == GENERATIONS)
    with database_proxy.outage("cut"):
        time.sleep(0.3)
    # And again while the first results are being saved.
    wait_until(lambda: count(GenerationStatus.RUNNING) < GENERATIONS)
    with database_proxy.outage("cut"):
        time.sleep(0.3)
    for thread in threads:
        thread.join(timeout=60)

    assert results == dict.fromkeys(ids, GenerationStatus.SUCCEEDED)
    # Each paid once, none lost, none running, no orphan file and no receipt left.
    check_outcome(aigen_emulator, media_storage)
    # The blips did meet saves (else this test would prove nothing).
    assert any("database is unreachable" in r.getMessage() for r in caplog.records)
