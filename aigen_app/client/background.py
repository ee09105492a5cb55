"""One event loop in a daemon thread, for callers that block: ``generate_sync``.

``asgiref.sync.async_to_sync`` runs every call on a new event loop, so every call made
that way opened a new connection pool and a new TCP (and TLS) connection, and closed it
again. Calls made through here all run on this one loop, where each client keeps one pool,
so a worker thread reuses its connection from one generation to the next.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
_SHUTDOWN_TIMEOUT = 5.0
_CANCEL_TIMEOUT = 5.0


class BackgroundLoop:
    """Runs coroutines for synchronous callers on a loop of its own, started on first
    use (and again in a forked child, which does not inherit the thread)."""

    def __init__(self, name: str = "aigen-client") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._stopped_in = 0  # the pid whose exit stopped the loop

    def run(self, call: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run the coroutine ``call()`` makes to its end and return its result (or raise
        its error). It is made here, so an interrupt can't fall between its making and
        its hand-over."""
        coroutine: Coroutine[Any, Any, T] | None = None
        outcome: concurrent.futures.Future[T] = concurrent.futures.Future()
        tasks: list[asyncio.Task[T]] = []

        def start(coroutine: Coroutine[Any, Any, T]) -> None:  # on the loop
            if outcome.set_running_or_notify_cancel():  # else the caller gave up on it
                task = loop.create_task(coroutine)
                tasks.append(task)
                task.add_done_callback(lambda done: _settle(outcome, done))

        def cancel() -> None:  # on the loop
            for task in tasks:
                task.cancel()

        try:
            _refuse_inside_a_running_loop()
            coroutine = call()
            loop = self._get_loop()
            loop.call_soon_threadsafe(start, coroutine)
            return outcome.result()
        except BaseException:
            # Refused, or interrupted (KeyboardInterrupt: a command's signal handler) at
            # any point: close the call if the loop has not started it, or cancel it and
            # wait a moment for it to unwind. Left to the end of the process instead, a
            # call not started yet was dropped at exit ("coroutine ... was never
            # awaited") and one under way was never closed.
            if outcome.cancel():
                if coroutine is not None:
                    coroutine.close()
            elif not outcome.done():
                loop.call_soon_threadsafe(cancel)
                concurrent.futures.wait([outcome], timeout=_CANCEL_TIMEOUT)
            raise

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._stopped_in == os.getpid():
                # A thread calling as the process exits (a daemon worker thread): the
                # call is stopped like any other work at exit, so the caller hands the
                # run back instead of recording an error of its own.
                raise asyncio.CancelledError("the process is exiting")
            if self._loop is None or self._pid != os.getpid():
                made: concurrent.futures.Future[asyncio.AbstractEventLoop] = (
                    concurrent.futures.Future())
                threading.Thread(target=_serve, args=(made,), name=self._name,
                                 daemon=True).start()
                loop = made.result()
                self._loop, self._pid = loop, os.getpid()
                atexit.register(self._stop, loop)
            return self._loop

    def _stop(self, loop: asyncio.AbstractEventLoop) -> None:
        """At exit: close the pools living on the loop (their closers are its async
        generators), then stop it."""
        if self._pid != os.getpid() or loop.is_closed():
            return
        with self._lock:
            self._stopped_in = os.getpid()
        shutdown = asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop)
        try:
            with contextlib.suppress(TimeoutError):
                shutdown.result(_SHUTDOWN_TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)


def _refuse_inside_a_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError("generate_sync() blocks its thread: await generate() from async code")


def _settle(outcome: concurrent.futures.Future[T], task: asyncio.Task[T]) -> None:
    """Hand a finished task's result, error or cancellation to the waiting thread."""
    if task.cancelled():
        outcome.set_exception(concurrent.futures.CancelledError())
    elif (error := task.exception()) is not None:
        outcome.set_exception(error)
    else:
        outcome.set_result(task.result())


def _serve(made: concurrent.futures.Future[asyncio.AbstractEventLoop]) -> None:
    # The loop is made in its own thread: a signal handler that raises (a command's
    # Ctrl-C) runs in the main thread only, so it can't leave a half-made loop whose
    # finaliser then fails at exit.
    loop = asyncio.new_event_loop()
    made.set_result(loop)
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()


background_loop = BackgroundLoop()
