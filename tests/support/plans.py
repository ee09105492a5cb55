"""What a ``SharedRateLimiter`` scheduled, for the tests that check its pacing.

A busy machine can make any start late (a process descheduled for a moment wakes several
requests whose turns have all come), but never early. So the pacing tests check the
schedule the limiter computed, which timing noise cannot disturb, and of the real starts
only that none came before its scheduled time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, NamedTuple

from aigen_app.shared_limiter import SharedRateLimiter

MODEL = "gemini-nano-banana-2.1"
EPS = 0.02  # timer slack: a sleep may end a little early by the wall clock


def record_plans(
    limiter: SharedRateLimiter,
) -> dict[asyncio.Task[Any] | None, tuple[float, int, float]]:
    """Map each task that takes a slot of ``limiter`` to the start it was scheduled, the
    cell (the ``61 / N``-second slice of time) it claimed, and when it asked."""
    plans: dict[asyncio.Task[Any] | None, tuple[float, int, float]] = {}
    claim = limiter._claim_cell

    async def recording(model: str, per_minute: int, interval: float) -> tuple[float, int]:
        asked = time.time()
        start, cell = await claim(model, per_minute, interval)
        plans[asyncio.current_task()] = start, cell, asked
        return start, cell

    limiter._claim_cell = recording  # type: ignore[method-assign]
    return plans


class Span(NamedTuple):
    """One slot: when it really started and ended, and the start and cell the limiter
    scheduled and when it was asked for (None without a requests-per-minute limit)."""

    started: float
    ended: float
    planned: float | None = None
    cell: int | None = None
    asked: float | None = None


def starts_of(spans: list[Span]) -> list[float]:
    return sorted(span.started for span in spans)


def plans_of(spans: list[Span]) -> list[float]:
    """The scheduled starts, having checked that no slot started before its own."""
    for span in spans:
        assert span.planned is not None
        assert span.started >= span.planned - EPS, span
    return sorted(span.planned for span in spans if span.planned is not None)


def peak_overlap(spans: list[Span]) -> int:
    events = sorted([(span.started, 1) for span in spans] + [(span.ended, -1) for span in spans])
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    return peak


async def take_slots(limiter: SharedRateLimiter, count: int, hold: float = 0.0,
                     model: str = MODEL) -> list[Span]:
    plans = record_plans(limiter) if limiter.requests_per_minute else {}

    async def one() -> Span:
        async with limiter.slot(model):
            started = time.time()
            await asyncio.sleep(hold)
            return Span(started, time.time(), *plans.get(asyncio.current_task(), ()))

    return list(await asyncio.gather(*(one() for _ in range(count))))


def assert_paced(spans: list[Span], interval: float) -> None:
    """One start per ``interval``-long cell: any two starts two apart are at least an
    interval apart (consecutive ones may straddle a cell boundary), and the whole run is
    no slower than the rate. Checked on the scheduled starts (``plans_of``): real ones
    can only be later, and a stalled machine bunches them. A stall can delay the asking
    too (measured: 2.2 s between two asks of one burst), so the run is timed from the
    later of its first start and its last ask."""
    starts = plans_of(spans)
    gaps = [later - earlier for earlier, later in zip(starts, starts[2:], strict=False)]
    assert min(gaps) >= interval - EPS, starts
    assert starts[-1] - starts[0] >= (len(starts) - 2) * interval - EPS
    last_ask = max(span.asked for span in spans if span.asked is not None)
    assert starts[-1] - max(starts[0], last_ask) < (len(starts) - 1) * interval + 1.0, starts
