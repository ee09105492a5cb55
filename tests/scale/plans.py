"""What a ``SharedRateLimiter`` scheduled, for the tests that check its pacing.

A busy machine can make any start late (a process descheduled for a moment wakes several
requests whose turns have all come), but never early. So the pacing tests check the
schedule the limiter computed, which timing noise cannot disturb, and of the real starts
only that none came before its scheduled time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aigen_app.limits import SharedRateLimiter


def record_plans(
    limiter: SharedRateLimiter,
) -> dict[asyncio.Task[Any] | None, tuple[float, int]]:
    """Map each task that takes a slot of ``limiter`` to the start it was scheduled and
    the cell (the ``61 / N``-second slice of time) it claimed."""
    plans: dict[asyncio.Task[Any] | None, tuple[float, int]] = {}
    claim = limiter._claim_cell

    async def recording(model: str, per_minute: int, interval: float) -> tuple[float, int]:
        start, cell = await claim(model, per_minute, interval)
        plans[asyncio.current_task()] = start, cell
        return start, cell

    limiter._claim_cell = recording  # type: ignore[method-assign]
    return plans
