"""The daemon's sense of time: the wall clock, or a scaled one for the demo and tests.

The control core reasons in plan time (event starts, command durations, the 15-minute re-plan).
A :class:`ScaledClock` runs plan time ``speed`` times faster than the wall clock from a chosen
origin, so a simulated day with the tank model passes in minutes while every component (VEN,
simulated heater) agrees on "now". Network timing (poll intervals, backoff) stays in wall time.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
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


class ScaledClock:
    """Plan time starts at ``origin`` (default: now) and runs ``speed`` times faster."""

    def __init__(self, speed: float, origin: datetime | None = None) -> None:
        if not speed > 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self._speed = float(speed)
        self._origin = origin if origin is not None else datetime.now(UTC)
        if self._origin.tzinfo is None:
            raise ValueError("clock origin must be timezone-aware")
        self._t0 = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._t0) * self._speed
        return self._origin + timedelta(seconds=elapsed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self._speed)
