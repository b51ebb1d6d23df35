"""The daemon's sense of time: the wall clock, or a faster one for the demo and tests.

The control core reasons in plan time (event starts, command durations, the 15-minute re-plan).
Any object with this :class:`Clock` shape will do: the demo passes the simulator's accelerated
clock (``hil.clock.AcceleratedClock``) so a simulated day with the tank model passes in minutes
while every component (VEN, simulated heater) agrees on "now". Network timing (poll intervals,
backoff) stays in wall time.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    @property
    def speed(self) -> float: ...

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of plan time."""
        ...


class WallClock:
    """Plan time is UTC wall time."""

    speed = 1.0

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
