"""The emulator's mutable state: configuration, faults, quota window and request log.

Tests change it from their own thread while the server's event loop reads it, so every
access goes through one lock. Nothing here does I/O.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .faults import Fault, FaultPlan, RpmWindow
from .signatures import SignatureRegistry

IMAGE_MIME_TYPES = ("image/png", "image/jpeg")
# Entries the request log keeps; beyond it the oldest go, so an emulator left running
# (``manage.py aigen_emulator`` behind a demo) does not grow without end.
LOG_LIMIT = 100_000


@dataclass(frozen=True)
class LogEntry:
    """One generateContent request as the emulator saw and answered it.

    ``status`` is 0 when no HTTP answer was sent (reset, hang). The API key is never
    stored: only whether one was present.
    """

    seq: int
    received_at: float  # time.monotonic() on arrival
    wall_time: float  # time.time() on arrival
    model: str
    status: int
    outcome: str  # "ok" or the fault / refusal kind
    prompt: str
    aspect_ratio: str | None
    image_size: str | None
    seed: int | None
    api_key_present: bool
    body: dict[str, Any] = field(repr=False)
    headers: dict[str, str] = field(repr=False)
    response_id: str = ""  # Gemini's responseId; OpenAI's x-request-id
    provider: str = "gemini"  # whose protocol the request spoke: "gemini" or "openai"

    def to_json(self, *, with_body: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_body:
            del data["body"]
        return data


class Emulator:
    """Configuration and bookkeeping shared by the HTTP handlers and the test's thread."""

    def __init__(
        self,
        *,
        rpm: int | None = None,
        latency: float = 0.0,
        api_keys: Iterable[str] | None = None,
        signature_padding: int = 0,
        image_mime: str = "image/png",
    ) -> None:
        if image_mime not in IMAGE_MIME_TYPES:
            raise ValueError(f"image_mime must be one of {IMAGE_MIME_TYPES}")
        self._lock = threading.Lock()
        self._window = RpmWindow(rpm)
        self._faults = FaultPlan()
        self._log: deque[LogEntry] = deque(maxlen=LOG_LIMIT)
        self._seq = itertools.count(1)
        self._latency = 0.0
        self.set_latency(latency)
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self.image_mime = image_mime
        self.signatures = SignatureRegistry(signature_padding)

    # -- the test-facing control API ------------------------------------------------

    def inject(self, kind: str, times: int = 1, **params: Any) -> None:
        """Queue a fault for the next ``times`` requests, after those already queued."""
        fault = Fault(kind, dict(params))
        with self._lock:
            self._faults.inject(fault, times)

    def set_fault_rates(self, rates: Mapping[str, float]) -> None:
        """Probability per request of each fault kind; replaces the previous rates."""
        with self._lock:
            self._faults.set_rates(rates)

    def seed(self, value: int | None) -> None:
        """Make the fault-rate dice reproducible."""
        with self._lock:
            self._faults.seed(value)

    def set_latency(self, seconds: float) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError("latency must be a non-negative number of seconds")
        with self._lock:
            self._latency = float(seconds)

    def set_rpm(self, rpm: int | None) -> None:
        with self._lock:
            self._window.rpm = rpm

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    @property
    def rpm(self) -> int | None:
        with self._lock:
            return self._window.rpm

    def requests(self) -> list[LogEntry]:
        """A snapshot of the log in arrival order (the latest ``LOG_LIMIT`` entries)."""
        with self._lock:
            return sorted(self._log, key=lambda entry: entry.seq)

    def clear(self) -> None:
        """Forget the log, queued faults, fault rates and the quota window."""
        with self._lock:
            self._log.clear()
            self._faults.clear()
            self._window.clear()

    def issued_signatures(self) -> set[str]:
        return self.signatures.issued()

    def pending_faults(self) -> list[tuple[Fault, int]]:
        with self._lock:
            return self._faults.pending()

    def fault_rates(self) -> dict[str, float]:
        with self._lock:
            return self._faults.rates()

    # -- used by the request handlers -----------------------------------------------

    def next_seq(self) -> int:
        with self._lock:
            return next(self._seq)

    def admit(self, now: float) -> tuple[float | None, int | None]:
        """(seconds to wait or None if admitted, the rpm in force)."""
        with self._lock:
            return self._window.admit(now), self._window.rpm

    def next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.next_fault()

    def record(self, entry: LogEntry) -> None:
        with self._lock:
            self._log.append(entry)
