"""Ctrl-C (SIGINT) and SIGTERM in a command: one exception the command handles, instead
of a traceback and a row left ``running`` until ``aigen_recover`` finds it."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop. A ``KeyboardInterrupt`` (SIGTERM's too), so no
    ``except Exception`` on the way swallows it, and task backends that record other
    errors of a task (the immediate backend does) let it through."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130 for SIGINT)."""
        return 128 + self.signum


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` in the main thread while the block runs;
    the previous handlers come back afterwards (and before the caller cleans up, so a
    second Ctrl-C during the cleanup acts as it normally would). Elsewhere than the main
    thread (signals only reach that one) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, stop) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
