"""The background loop under an interrupt: a blocking caller stopped by a signal (a
command's Ctrl-C) leaves no call behind, neither one under way nor one not yet started."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from aigen_app.client.background import BackgroundLoop


@pytest.fixture
def interrupt_on_sigusr1() -> Iterator[None]:
    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGUSR1, stop)
    yield
    signal.signal(signal.SIGUSR1, previous)


@pytest.mark.usefixtures("interrupt_on_sigusr1")
def test_a_call_under_way_is_cancelled_and_unwound_before_the_interrupt_goes_on() -> None:
    unwound = threading.Event()

    async def call() -> None:
        os.kill(os.getpid(), signal.SIGUSR1)  # the signal comes while the call is under way
        try:
            await asyncio.sleep(3600)
        finally:
            unwound.set()

    with pytest.raises(KeyboardInterrupt):
        BackgroundLoop("test-interrupt").run(call)
    assert unwound.is_set()


def test_a_call_the_loop_had_not_started_is_closed_not_dropped(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    background = BackgroundLoop("test-not-started")
    loop = background._get_loop()
    gate = threading.Event()
    loop.call_soon_threadsafe(gate.wait, 5)  # the loop is busy: the call waits its turn
    started = threading.Event()

    async def call() -> None:
        started.set()

    def interrupted(self: concurrent.futures.Future[Any], timeout: float | None = None) -> Any:
        raise KeyboardInterrupt  # the signal, as the caller starts waiting

    coroutine = call()
    with monkeypatch.context() as patch:
        patch.setattr(concurrent.futures.Future, "result", interrupted)
        with pytest.raises(KeyboardInterrupt):
            background.run(lambda: coroutine)
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED
    gate.set()
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(5)  # the loop moved on
    assert not started.is_set()


def test_a_call_made_as_the_process_exits_is_stopped_like_other_work_at_exit() -> None:
    background = BackgroundLoop("test-exit")
    assert background.run(lambda: asyncio.sleep(0, "before")) == "before"
    background._stop(background._get_loop())  # what atexit does
    coroutine = asyncio.sleep(0)
    # A BaseException, like a worker's stop: the service hands the run back rather than
    # recording "Event loop is closed" as the generation's failure.
    with pytest.raises(asyncio.CancelledError):
        background.run(lambda: coroutine)
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED
