"""``generate_sync``: the blocking twin of ``generate`` that services and workers use. Every
thread's calls share one background event loop, hence one pool and its connections."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from aigen_app.client import AIGenerationClient, GenerationRequest, RateLimitError
from aigen_app.emulator import running_emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    with running_emulator() as server:
        yield server


def small(prompt: str = "A lighthouse") -> GenerationRequest:
    return GenerationRequest(prompt, 64, 64)


def test_fifty_sequential_calls_share_one_pool(emulator: Any) -> None:
    emulator.clear()
    client = AIGenerationClient(api_key="k", base_url=emulator.base_url)
    sizes = {client.generate_sync(small(f"call {i}")).width for i in range(50)}
    assert sizes == {64}
    assert [e.outcome for e in emulator.requests()] == ["ok"] * 50
    assert client.pools.opened == 1


def test_threads_share_the_loop_and_see_their_own_errors(emulator: Any) -> None:
    emulator.clear()
    emulator.inject("daily_quota")
    client = AIGenerationClient(api_key="k", base_url=emulator.base_url, max_retries=0)
    outcomes: list[str] = []

    def call() -> None:
        try:
            client.generate_sync(small())
            outcomes.append("ok")
        except RateLimitError:
            outcomes.append("rate limited")

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] * 7 + ["rate limited"]
    assert client.pools.opened == 1


def test_refused_inside_a_running_event_loop(emulator: Any) -> None:
    client = AIGenerationClient(api_key="k", base_url=emulator.base_url)

    async def inside() -> None:
        client.generate_sync(small())

    with pytest.raises(RuntimeError, match="await generate"):
        asyncio.run(inside())
