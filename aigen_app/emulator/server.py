"""Running the emulator: its own event loop in a daemon thread, so synchronous tests,
Django's test client and other event loops can all call it over loopback."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from .app import build_app
from .faults import Fault
from .reply import Runtime
from .state import Emulator, LogEntry

_STOP_TIMEOUT = 30.0


class EmulatorServer:
    """A Gemini ``generateContent`` and OpenAI Images server on ``host:port`` (port 0: any
    free port).

    Keyword options go to ``Emulator``; the control methods below delegate to it.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rpm: int | None = None,
        latency: float = 0.0,
        api_keys: Iterable[str] | None = None,
        signature_padding: int = 0,
        image_mime: str = "image/png",
        access_log: bool = False,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._access_log = access_log
        self.state = Emulator(rpm=rpm, latency=latency, api_keys=api_keys,
                              signature_padding=signature_padding, image_mime=image_mime)
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._runtime: Runtime | None = None
        self._listener: asyncio.Server | None = None
        self._startup_error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start serving; returns once the socket listens (or raises what prevented it)."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,),
                                        name="gemini-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error

    def stop(self) -> None:
        """Stop serving: hanging and delayed requests end at once; the thread joins."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(_STOP_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_STOP_TIMEOUT)
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        executor = ThreadPoolExecutor(thread_name_prefix="gemini-emulator-worker")
        try:
            try:
                loop.run_until_complete(self._startup(executor))
            except BaseException as exc:  # reported to start()'s caller, not lost here
                self._startup_error = exc
                return
            finally:
                ready.set()
            loop.run_forever()
        finally:
            loop.run_until_complete(_cancel_pending())
            loop.run_until_complete(loop.shutdown_asyncgens())
            executor.shutdown(wait=True, cancel_futures=True)
            asyncio.set_event_loop(None)
            loop.close()

    async def _startup(self, executor: ThreadPoolExecutor) -> None:
        self._runtime = Runtime(stopping=asyncio.Event(), executor=executor)
        app = build_app(self.state, self._runtime)
        # handler_cancellation: a client that gives up (timeout) ends its hang at once.
        kwargs: dict[str, Any] = {"handler_cancellation": True, "shutdown_timeout": 5.0}
        if self._access_log:
            kwargs["access_log_class"] = _AccessLog
        else:
            kwargs["access_log"] = None
        self._runner = web.AppRunner(app, **kwargs)
        await self._runner.setup()
        server = self._runner.server
        assert server is not None  # noqa: S101 - set by setup()
        try:
            # Our own listener rather than a TCPSite: stop() needs the asyncio server.
            self._listener = await asyncio.get_running_loop().create_server(
                server, self.host, self._requested_port, backlog=1024
            )
        except BaseException:
            await self._runner.cleanup()
            raise
        self._port = int(self._listener.sockets[0].getsockname()[1])  # the real one if 0

    async def _shutdown(self) -> None:
        if self._runtime is None or self._runner is None or self._listener is None:
            return  # startup failed half-way; nothing listens
        # Stop accepting first, then let connections accepted a moment ago finish their
        # setup, and only then close the listener: on Python 3.11 a connection whose setup
        # runs after the close fails an assertion and leaks its socket.
        loop = asyncio.get_running_loop()
        for sock in self._listener.sockets:
            loop.remove_reader(sock.fileno())
        for _ in range(3):
            await asyncio.sleep(0)
        self._listener.close()
        self._runtime.stopping.set()
        await self._runner.cleanup()

    # -- where it listens ------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def root_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What a client uses as its API base: ``{base_url}/models/{model}:generateContent``."""
        return f"{self.root_url}/v1beta"

    @property
    def openai_base_url(self) -> str:
        """What an OpenAI client uses as its API base: ``{openai_base_url}/images/...``."""
        return f"{self.root_url}/v1"

    # -- control, delegated to the state ---------------------------------------------

    def inject(self, kind: str, times: int = 1, **params: Any) -> None:
        self.state.inject(kind, times, **params)

    def set_fault_rates(self, rates: dict[str, float]) -> None:
        self.state.set_fault_rates(rates)

    def seed(self, value: int | None) -> None:
        self.state.seed(value)

    def set_latency(self, seconds: float) -> None:
        self.state.set_latency(seconds)

    def set_rpm(self, rpm: int | None) -> None:
        self.state.set_rpm(rpm)

    def requests(self) -> list[LogEntry]:
        return self.state.requests()

    def clear(self) -> None:
        self.state.clear()

    def issued_signatures(self) -> set[str]:
        return self.state.issued_signatures()

    def pending_faults(self) -> list[tuple[Fault, int]]:
        return self.state.pending_faults()


class _AccessLog(AbstractAccessLogger):
    """One line per request, without the query string: it may hold ``?key=<API key>``."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %.3fs", request.method, request.path, response.status, time)


async def _cancel_pending() -> None:
    """Cancel what is still pending (a handler mid-render) rather than abandon it."""
    pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


@contextmanager
def running_emulator(
    *,
    rpm: int | None = None,
    latency: float = 0.0,
    api_keys: Iterable[str] | None = None,
    signature_padding: int = 0,
    image_mime: str = "image/png",
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[EmulatorServer]:
    """An emulator on a free loopback port for the duration of the ``with`` block."""
    server = EmulatorServer(host, port, rpm=rpm, latency=latency, api_keys=api_keys,
                            signature_padding=signature_padding, image_mime=image_mime)
    server.start()
    try:
        yield server
    finally:
        server.stop()
