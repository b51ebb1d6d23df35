"""An accelerated clock for demos and simulated days: simulated time runs ``speed`` times faster.

Everything that reads time or sleeps in the simulated world goes through one clock, so ``make
demo`` (``python -m hil.demo --speed 60``) turns an hour into a minute without touching the code
that waits.
Simulated time is monotonic, also across speed changes (the current position is kept when the
speed changes, only the rate changes).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

MAX_SPEED = 1_000_000.0


def _checked_speed(speed: float) -> float:
    if not (math.isfinite(speed) and 0 < speed <= MAX_SPEED):
        raise ValueError(f"clock speed must be a number in (0, {MAX_SPEED:g}], got {speed!r}")
    return float(speed)


class AcceleratedClock:
    """Simulated time = start + speed × (real monotonic time elapsed).

    ``real_monotonic`` and ``sleeper`` are injectable so tests need not wait for real time.
    """

    def __init__(
        self,
        speed: float = 1.0,
        *,
        start_epoch_s: float | None = None,
        real_monotonic: Callable[[], float] = time.monotonic,
        sleeper: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._speed = _checked_speed(speed)
        self._real = real_monotonic
        self._sleeper = sleeper
        self._anchor_real = real_monotonic()
        self._anchor_sim = 0.0
        self._start_epoch = time.time() if start_epoch_s is None else float(start_epoch_s)

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        """Change the rate from now on; simulated time does not jump."""
        new_speed = _checked_speed(speed)
        now_real = self._real()
        self._anchor_sim += (now_real - self._anchor_real) * self._speed
        self._anchor_real = now_real
        self._speed = new_speed

    def monotonic(self) -> float:
        """Simulated seconds since the clock was made."""
        return self._anchor_sim + (self._real() - self._anchor_real) * self._speed

    def time(self) -> float:
        """Simulated Unix time (seconds)."""
        return self._start_epoch + self.monotonic()

    def now(self) -> datetime:
        """Simulated wall-clock time, timezone-aware UTC."""
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def real_seconds(self, simulated_s: float) -> float:
        """How long ``simulated_s`` simulated seconds take in real time at the current speed."""
        return simulated_s / self._speed

    async def sleep(self, simulated_s: float) -> None:
        """Sleep ``simulated_s`` simulated seconds; re-checks after a speed change or early wake."""
        if not math.isfinite(simulated_s):
            raise ValueError(f"sleep needs a finite duration, got {simulated_s!r}")
        target = self.monotonic() + max(simulated_s, 0.0)
        while True:
            remaining = target - self.monotonic()
            if remaining <= 0:
                return
            await self._sleeper(remaining / self._speed)

    async def sleep_until(self, simulated_monotonic_s: float) -> None:
        """Sleep until ``monotonic()`` reaches the given simulated instant."""
        await self.sleep(simulated_monotonic_s - self.monotonic())
