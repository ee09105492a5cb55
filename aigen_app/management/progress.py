"""Progress on stderr while a command waits: elapsed time, and each retry with its reason
and wait (read from the client's log records, so the client needs no UI hooks)."""

from __future__ import annotations

import logging
import threading
import time
from types import TracebackType
from typing import Any

from django.core.management.base import OutputWrapper

CLIENT_LOGGER = "aigen.client"


class _RetryLines(logging.Handler):
    def __init__(self, progress: Progress) -> None:
        super().__init__(logging.INFO)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("retrying "):
            self.progress.note(message)


class Progress:
    """Context manager: a ticker thread prints the elapsed time every ``every`` seconds."""

    def __init__(self, out: OutputWrapper, every: float = 2.0) -> None:
        self.out = out
        self.every = every
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._tick, name="aigen-progress", daemon=True)
        self._handler = _RetryLines(self)
        self._logger = logging.getLogger(CLIENT_LOGGER)
        self._old_level = self._logger.level
        self._old_propagate = self._logger.propagate

    def note(self, text: str) -> None:
        with self._lock:
            self.out.write(f"[{time.monotonic() - self.started:5.1f}s] {text}")

    def __enter__(self) -> Progress:
        self._logger.addHandler(self._handler)
        if self._logger.getEffectiveLevel() > logging.INFO:
            # Lowered for our handler only: the project's handlers keep their threshold.
            self._logger.setLevel(logging.INFO)
            self._logger.propagate = False
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Any:
        self._stop.set()
        self._thread.join()
        self._logger.removeHandler(self._handler)
        self._logger.setLevel(self._old_level)
        self._logger.propagate = self._old_propagate
        return None

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            self.note("waiting for the image...")
