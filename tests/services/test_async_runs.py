"""``arun_generation`` (the runs a procrastinate worker awaits): a stop that cancels runs
while a step that changes their row waits for a database thread drops none of those
steps. Paid results are recorded, and claims are handed back, once their step gets a
thread, even after the worker's loop has ended."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from aigen_app import services
from aigen_app.client_factory import get_client
from aigen_app.conf import aigen_settings
from aigen_app.emulator import EmulatorServer
from aigen_app.models import Generation, GenerationStatus
from aigen_app.services import running

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("queued_tasks")]

RUNS = 6  # more than the database threads (4), so some steps wait for one


@pytest.fixture(autouse=True)
def _database_threads() -> Iterator[None]:
    yield
    running.close_database_threads()


class Held:
    """``step`` of ``running``, held in its thread until ``release``: with every
    database thread holding one, the other runs' steps queue behind them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, step: str) -> None:
        self._arrived, self._gate = threading.Semaphore(0), threading.Event()
        real: Callable[..., Any] = getattr(running, step)

        def held(*args: Any) -> Any:
            self._arrived.release()
            self._gate.wait(timeout=30)
            return real(*args)

        monkeypatch.setattr(running, step, held)

    async def every_thread_busy(self) -> None:
        for _ in range(aigen_settings.DATABASE_THREADS):
            await asyncio.to_thread(self._arrived.acquire)

    def release(self) -> None:
        self._gate.set()


def generations(make_user: Any) -> list[str]:
    owner = make_user()
    return [str(services.create_generation(f"Stopped poster {i}", owner=owner, width=64,
                                           height=64).pk) for i in range(RUNS)]


async def stop(runs: list[asyncio.Task[str]], held: Held) -> None:
    """The worker's stop timeout has passed: every run is cancelled, then the held
    steps go on; the loop ends as soon as the runs do (``asyncio.run`` then cancels
    whatever is left, as procrastinate's command does)."""
    for run in runs:
        run.cancel()
    held.release()
    await asyncio.wait(runs, timeout=30)


def test_a_stop_while_results_wait_for_a_database_thread_records_them_all(
    make_user: Any, aigen_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = generations(make_user)
    held = Held(monkeypatch, "_record")
    answers: list[Any] = []
    every_answer = asyncio.Event()
    client = get_client()

    class Client:
        async def generate(self, request: Any) -> Any:
            answers.append(await client.generate(request))
            if len(answers) == RUNS:
                every_answer.set()
            return answers[-1]

    monkeypatch.setattr(running, "get_client", Client)
    aigen_emulator.set_latency(0.5)  # every run claims and prepares before one answer

    async def worker() -> None:
        runs = [asyncio.create_task(running.arun_generation(pk)) for pk in ids]
        await held.every_thread_busy()
        await every_answer.wait()
        await stop(runs, held)

    asyncio.run(worker())

    statuses = Generation.objects.filter(pk__in=ids).values_list("status", flat=True)
    assert sorted(statuses) == [GenerationStatus.SUCCEEDED] * RUNS
    assert len(aigen_emulator.requests()) == RUNS


def test_a_stop_while_claims_wait_for_a_database_thread_hands_every_claim_back(
    make_user: Any, aigen_emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = generations(make_user)
    held = Held(monkeypatch, "_claim")

    async def worker() -> None:
        runs = [asyncio.create_task(running.arun_generation(pk)) for pk in ids]
        await held.every_thread_busy()
        await stop(runs, held)

    asyncio.run(worker())

    rows = Generation.objects.filter(pk__in=ids)
    assert set(rows.values_list("status", "error_code")) == {
        (GenerationStatus.PENDING, "worker_stopped")}
    assert aigen_emulator.requests() == []
