"""Progress on stderr while a command waits: elapsed time, and each retry with its reason
and wait (from the client's ``RetryEvent``: pass ``Progress.retried`` as ``on_retry``)."""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

from django.core.management.base import OutputWrapper

from ..client import RetryEvent


class Progress:
    """Context manager: a ticker thread prints the elapsed time every ``every`` seconds."""

    def __init__(self, out: OutputWrapper, every: float = 2.0) -> None:
        self.out = out
        self.every = every
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._tick, name="aigen-progress", daemon=True)

    def note(self, text: str) -> None:
        with self._lock:
            self.out.write(f"[{time.monotonic() - self.started:5.1f}s] {text}")

    def retried(self, event: RetryEvent) -> None:
        """The client's ``on_retry``: one line per retry, with its reason and wait (none
        once the block has ended: an interrupted call may still be retrying)."""
        if self._stop.is_set():
            return
        status = f" (HTTP {event.error.status})" if event.error.status else ""
        self.note(f"retrying: attempt {event.attempt} failed with {event.error.code}"
                  f"{status}, wait={event.wait:.3f}s")

    def __enter__(self) -> Progress:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Any:
        self._stop.set()
        self._thread.join()
        return None

    def _tick(self) -> None:
        while not self._stop.wait(self.every):
            self.note("waiting for the image...")
