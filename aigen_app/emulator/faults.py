"""What can go wrong, and when: scripted faults, fault rates and the RPM window.

None of these classes lock: ``Emulator`` serialises every call under its own lock.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Fault kind -> the parameters it takes. Unknown kinds and parameters are refused so a
# typo in a test fails loudly instead of silently injecting nothing.
FAULT_PARAMS: dict[str, frozenset[str]] = {
    "latency": frozenset({"seconds"}),
    "rate_limit": frozenset({"retry_delay"}),
    "rate_limit_header": frozenset({"retry_after"}),
    "daily_quota": frozenset({"message", "code"}),  # code: OpenAI's quota error code
    "unavailable": frozenset({"message", "retry_after"}),
    "internal": frozenset({"message"}),
    "deadline": frozenset({"message"}),
    "bad_request": frozenset({"message"}),
    "hang": frozenset({"seconds"}),
    "reset": frozenset(),
    "block_prompt": frozenset({"reason"}),
    "block_image": frozenset({"reason", "message"}),
    "no_image": frozenset({"message"}),
    "image_other": frozenset({"message"}),
    "text_only": frozenset({"message"}),
    "malformed_json": frozenset(),
    "malformed_base64": frozenset(),
    "invalid_image": frozenset(),
}
FAULT_KINDS = frozenset(FAULT_PARAMS)


@dataclass(frozen=True)
class Fault:
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_PARAMS:
            raise ValueError(f"unknown fault kind {self.kind!r}; known: {sorted(FAULT_KINDS)}")
        unknown = set(self.params) - FAULT_PARAMS[self.kind]
        if unknown:
            raise ValueError(f"fault {self.kind!r} takes no parameter(s) {sorted(unknown)}")

    def number(self, name: str, default: float) -> float:
        value = self.params.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"fault {self.kind!r}: {name} must be a non-negative number")
        return float(value)

    def text(self, name: str, default: str) -> str:
        return str(self.params.get(name, default))


class FaultPlan:
    """Scripted faults (FIFO, each for ``times`` requests) win over fault rates."""

    def __init__(self) -> None:
        self._queue: deque[list[Any]] = deque()  # [Fault, remaining uses]
        self._rates: dict[str, float] = {}
        self._rng = random.Random()  # noqa: S311 - fault dice, not cryptography

    def inject(self, fault: Fault, times: int) -> None:
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError("times must be a positive integer")
        self._queue.append([fault, times])

    def set_rates(self, rates: Mapping[str, float]) -> None:
        checked: dict[str, float] = {}
        for kind, probability in rates.items():
            Fault(kind)  # validates the kind
            if isinstance(probability, bool) or not isinstance(probability, int | float):
                raise ValueError(f"rate for {kind!r} must be a number")
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"rate for {kind!r} must be within 0..1, not {probability}")
            checked[kind] = float(probability)
        if sum(checked.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        self._rates = checked

    def seed(self, value: int | None) -> None:
        self._rng.seed(value)

    def next_fault(self) -> Fault | None:
        """The fault the next request suffers, if any; consumes one scripted use."""
        if self._queue:
            head = self._queue[0]
            head[1] -= 1
            if head[1] == 0:
                self._queue.popleft()
            fault: Fault = head[0]
            return fault
        if not self._rates:
            return None
        # One draw per request, so the rates are exclusive and exactly as configured.
        draw = self._rng.random()
        for kind, probability in self._rates.items():
            if draw < probability:
                return Fault(kind)
            draw -= probability
        return None

    def pending(self) -> list[tuple[Fault, int]]:
        return [(fault, remaining) for fault, remaining in self._queue]

    def rates(self) -> dict[str, float]:
        return dict(self._rates)

    def clear(self) -> None:
        self._queue.clear()
        self._rates = {}


class RpmWindow:
    """Requests-per-minute quota over a sliding 60 s window of admitted requests.

    Refused requests are not recorded: the real quota only counts what it served.
    """

    WINDOW = 60.0

    def __init__(self, rpm: int | None = None) -> None:
        self.rpm = rpm
        self._admitted: deque[float] = deque()

    @property
    def rpm(self) -> int | None:
        return self._rpm

    @rpm.setter
    def rpm(self, value: int | None) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError("rpm must be a positive integer or None")
        self._rpm = value

    def admit(self, now: float) -> float | None:
        """Admit a request arriving at ``now`` (monotonic), or return the seconds until
        the oldest admitted request leaves the window."""
        while self._admitted and self._admitted[0] <= now - self.WINDOW:
            self._admitted.popleft()
        if self._rpm is not None and len(self._admitted) >= self._rpm:
            # With a lowered rpm several must leave; the one that frees a slot is this one.
            return self._admitted[len(self._admitted) - self._rpm] + self.WINDOW - now
        self._admitted.append(now)
        return None

    def clear(self) -> None:
        self._admitted.clear()
