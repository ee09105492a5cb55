"""Starting worker processes against the test's database (directly or through a proxy),
media and emulator, each printing to a log file of its own. Which worker is a
parameter (``WorkerCommand``): ``aigen_worker`` by default; another engine's worker
(procrastinate's) reuses the same helper and the same outcome checks (``outcome``)."""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aigen_app.emulator import EmulatorServer
from tests.support import TEST_API_KEY, Media, database_url, wait_until
from tests.support.processes import process_env


@dataclass(frozen=True)
class WorkerCommand:
    """How to start one kind of worker: ``argv`` after the Python executable (``{name}``
    in an item becomes the worker's name), the text its log shows once it takes work,
    and the environment it needs besides the test's settings (its task backend)."""

    argv: tuple[str, ...]
    ready: str
    env: Mapping[str, str] = field(default_factory=dict)


AIGEN_WORKER = WorkerCommand(
    argv=("manage.py", "aigen_worker", "--no-reload", "--no-startup-delay", "--interval",
          "0.1", "--worker-id", "{name}"),
    ready="Starting worker",
    env={"AIGEN_TASK_BACKEND": "database"},
)


def through(proxy_port: int) -> str:
    """The test database's URL through a proxy on ``proxy_port``."""
    parts = urlsplit(database_url())
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy_port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))




class Workers:
    """``start(name, *options)``: a worker process; ``log(name)``: its output;
    ``end(name, signal)``: a signal from the test (a stop, a kill), so the process
    ending is not counted as exiting on its own.

    ``settings``: settings of the worker processes beside the storage's (``AIGEN``,
    ``CACHES``), as ``tests.support.worker_settings`` reads them.
    """

    def __init__(self, processes: Callable[..., subprocess.Popen[str]], logs: Path,
                 emulator: EmulatorServer, media: Media, database: str | None = None, *,
                 command: WorkerCommand = AIGEN_WORKER,
                 settings: Mapping[str, Any] | None = None) -> None:
        self._processes = processes
        self._logs = logs
        self.command = command
        self._env = process_env(
            {**media.process_settings(), **(settings or {})},
            DATABASE_URL=database or database_url(), AI_API_KEY=TEST_API_KEY,
            AI_BASE_URL=emulator.base_url, **command.env)
        self.started: dict[str, subprocess.Popen[str]] = {}
        self.ended_by_test: set[str] = set()

    def start(self, name: str, *options: str,
              database: str | None = None) -> subprocess.Popen[str]:
        """``database``: this worker's database URL, when not the others' (a proxy that
        cuts only this one)."""
        env = self._env if database is None else {**self._env, "DATABASE_URL": database}
        argv = [item.format(name=name) for item in self.command.argv]
        process = self._processes([*argv, *options], env, output=self._logs / f"{name}.log")
        self.started[name] = process
        wait_until(lambda: self.command.ready in self.log(name), what=f"{name} to start")
        return process

    def end(self, name: str, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` to a worker: whatever it does next was asked for."""
        self.ended_by_test.add(name)
        self.started[name].send_signal(signum)

    def log(self, name: str) -> str:
        path = self._logs / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def alive(self) -> dict[str, Any]:
        return {name: process.poll() for name, process in self.started.items()}

    def exited_on_their_own(self) -> dict[str, int]:
        """Workers that ended without the test asking, with their exit status."""
        return {name: code for name, code in self.alive().items()
                if code is not None and name not in self.ended_by_test}

    def stop_all(self, timeout: float = 30) -> dict[str, int]:
        """SIGTERM every running worker and wait; returns their exit statuses."""
        running = [name for name, code in self.alive().items() if code is None]
        for name in running:
            self.end(name)
        return {name: self.started[name].wait(timeout=timeout) for name in running}


def shared_limiter(redis: str, **aigen: Any) -> dict[str, Any]:
    """Worker settings with the cache and the shared limiter on ``redis`` (a URL, often
    through a proxy), under a key prefix of the test's own, with the client timeouts
    docs/workers.md asks for (short ones, so a stall costs little wall time)."""
    cache = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis,
             "KEY_PREFIX": f"workers-{uuid.uuid4().hex[:12]}",
             "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}}
    return {"CACHES": {"default": cache},
            "AIGEN": {"LIMITER_CACHE": "default", "REQUESTS_PER_MINUTE": 6000,
                      "MAX_IN_FLIGHT": 8, **aigen}}
