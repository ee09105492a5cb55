"""Pieces of the load-and-fault test: the emulator and S3 as processes of their own, and
the figures computed from the emulator's request log, the rows and the bucket."""

from __future__ import annotations

import socket
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support import wait_until


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for_port(port: int, timeout: float = 60) -> None:
    wait_until(lambda: listening(port), timeout, what=f"something to listen on port {port}")


@dataclass
class EmulatorControl:
    """The HTTP control API of an emulator running in another process."""

    root_url: str

    def log(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = httpx.get(f"{self.root_url}/_emulator/log",
                                                  timeout=30).json()
        return entries

    def inject(self, kind: str, **params: Any) -> None:
        httpx.post(f"{self.root_url}/_emulator/faults", json={"kind": kind, **params},
                   timeout=30).raise_for_status()


@dataclass
class Figures:
    """What the test asserts and prints."""

    limit: int
    statuses: Counter[str]
    ok_calls: Counter[str]  # generation prompt -> successful API calls
    outcomes: Counter[str]  # emulator outcome -> requests
    requests: int
    rate_limited: int
    orphans: set[str]
    missing: set[str]
    window: tuple[float, float]  # steady state, emulator wall clock
    calls_in_window: int
    successes_in_window: int
    run_seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return sum(count - 1 for count in self.ok_calls.values() if count > 1)

    @property
    def rate_limited_share(self) -> float:
        return self.rate_limited / self.requests

    def per_minute(self, events: int) -> float:
        start, end = self.window
        return (events - 1) / (end - start) * 60

    @property
    def calls_per_minute(self) -> float:
        return self.per_minute(self.calls_in_window)

    @property
    def successes_per_minute(self) -> float:
        return self.per_minute(self.successes_in_window)

    def lines(self) -> list[str]:
        start, end = self.window
        return [
            f"terminal states: {dict(sorted(self.statuses.items()))}",
            f"API requests: {self.requests} ({dict(sorted(self.outcomes.items()))})",
            f"duplicate calls (a generation's successful call more than once): "
            f"{self.duplicates}",
            f"429s received: {self.rate_limited} of {self.requests} requests "
            f"({self.rate_limited_share:.2%}; target < 1%)",
            f"orphan files in storage: {len(self.orphans)}; rows whose file is missing: "
            f"{len(self.missing)}",
            f"throughput, steady state ({end - start:.1f} s while queued work remained): "
            f"{self.calls_per_minute:.0f} API calls/min = "
            f"{self.calls_per_minute / self.limit:.0%} of the emulator's {self.limit}/min "
            f"limit (target >= 90%); {self.successes_per_minute:.0f} successful "
            f"generations/min (the rest of the calls met injected faults)",
            f"whole run: {self.run_seconds:.1f} s from the first request to the last "
            "generation settled",
            *self.notes,
        ]


def summarize(log: list[dict[str, Any]], statuses: Counter[str], prompts: set[str],
              limit: int) -> dict[str, Any]:
    """The emulator-side figures: calls per prompt, outcomes, 429s and the steady-state
    window, from the first request to the last first request of a generation (after it
    the queue was empty: what remains is the latency of calls in flight, and the
    generation recovered after the kill)."""
    ours = [entry for entry in log if entry["prompt"] in prompts]
    first_call: dict[str, float] = {}
    for entry in ours:
        first_call.setdefault(entry["prompt"], entry["wall_time"])
    window = (min(first_call.values()), max(first_call.values()))
    in_window = [e for e in ours if window[0] <= e["wall_time"] <= window[1]]
    return {
        "limit": limit, "statuses": statuses,
        "ok_calls": Counter(e["prompt"] for e in ours if e["outcome"] == "ok"),
        "outcomes": Counter(e["outcome"] for e in ours),
        "requests": len(ours),
        "rate_limited": sum(1 for e in ours if e["status"] == 429),
        "window": window,
        "calls_in_window": sum(1 for e in in_window if e["status"] != 429),
        "successes_in_window": sum(1 for e in in_window if e["outcome"] == "ok"),
    }
