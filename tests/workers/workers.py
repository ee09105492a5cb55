"""Starting ``manage.py aigen_worker`` processes against the test's database (directly or
through a proxy), media and emulator, each printing to a log file of its own."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aigen_app.emulator import EmulatorServer
from tests.conftest import TEST_API_KEY, Media, database_url
from tests.scale.conftest import process_env


def through(proxy_port: int) -> str:
    """The test database's URL through a proxy on ``proxy_port``."""
    parts = urlsplit(database_url())
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{proxy_port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


def wait_until(condition: Callable[[], object], timeout: float = 60,
               what: str = "the condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


class Workers:
    """``start(name, *options)``: an ``aigen_worker`` process; ``log(name)``: its output."""

    def __init__(self, processes: Callable[..., subprocess.Popen[str]], logs: Path,
                 emulator: EmulatorServer, media: Media, database: str | None = None) -> None:
        self._processes = processes
        self._logs = logs
        self._env = process_env(
            media.process_settings(), DATABASE_URL=database or database_url(),
            AIGEN_TASK_BACKEND="database", AI_API_KEY=TEST_API_KEY,
            AI_BASE_URL=emulator.base_url)
        self.started: dict[str, subprocess.Popen[str]] = {}

    def start(self, name: str, *options: str) -> subprocess.Popen[str]:
        process = self._processes(
            ["manage.py", "aigen_worker", "--no-reload", "--no-startup-delay",
             "--interval", "0.1", "--worker-id", name, *options],
            self._env, output=self._logs / f"{name}.log")
        self.started[name] = process
        wait_until(lambda: "Starting worker" in self.log(name), what=f"{name} to start")
        return process

    def log(self, name: str) -> str:
        path = self._logs / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def alive(self) -> dict[str, Any]:
        return {name: process.poll() for name, process in self.started.items()}
