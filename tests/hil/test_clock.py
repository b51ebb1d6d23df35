"""AcceleratedClock: rate, monotonic across speed changes, sleeps in simulated seconds."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime

import pytest

from hil.clock import AcceleratedClock


class FakeRealTime:
    """A real-time source the test moves by hand; its sleeper advances it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_simulated_time_runs_speed_times_faster() -> None:
    real = FakeRealTime()
    clock = AcceleratedClock(60, start_epoch_s=1_800_000_000, real_monotonic=real)
    assert clock.monotonic() == 0
    real.now += 1.5
    assert clock.monotonic() == pytest.approx(90)
    assert clock.time() == pytest.approx(1_800_000_090)
    assert clock.now() == datetime.fromtimestamp(1_800_000_090, tz=UTC)
    assert clock.real_seconds(3600) == pytest.approx(60)


def test_speed_change_keeps_time_continuous_and_monotonic() -> None:
    real = FakeRealTime()
    clock = AcceleratedClock(10, real_monotonic=real)
    real.now += 2
    assert clock.monotonic() == pytest.approx(20)
    clock.set_speed(1)
    assert clock.monotonic() == pytest.approx(20)
    real.now += 2
    assert clock.monotonic() == pytest.approx(22)
    clock.set_speed(1000)
    readings = []
    for _ in range(5):
        real.now += 0.001
        readings.append(clock.monotonic())
    assert readings == sorted(readings)
    assert readings[-1] == pytest.approx(27)


@pytest.mark.parametrize("speed", [0, -1, math.nan, math.inf, 1e7])
def test_bad_speeds_are_refused(speed: float) -> None:
    with pytest.raises(ValueError, match="clock speed"):
        AcceleratedClock(speed)
    clock = AcceleratedClock(2)
    with pytest.raises(ValueError, match="clock speed"):
        clock.set_speed(speed)
    assert clock.speed == 2


async def test_sleep_takes_simulated_seconds() -> None:
    real = FakeRealTime()
    clock = AcceleratedClock(60, real_monotonic=real, sleeper=real.sleep)
    await clock.sleep(3600)
    assert sum(real.slept) == pytest.approx(60)
    assert clock.monotonic() == pytest.approx(3600)
    await clock.sleep(-5)  # the past: returns at once
    assert clock.monotonic() == pytest.approx(3600)
    await clock.sleep_until(7200)
    assert clock.monotonic() == pytest.approx(7200)
    with pytest.raises(ValueError, match="finite"):
        await clock.sleep(math.nan)


async def test_sleep_follows_a_speed_change_made_while_sleeping() -> None:
    real = FakeRealTime()
    calls: list[float] = []

    async def sleeper(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 1:
            # Half-way through the first real sleep, someone speeds the clock up tenfold.
            real.now += seconds / 2
            clock.set_speed(10)
        else:
            real.now += seconds

    clock = AcceleratedClock(1, real_monotonic=real, sleeper=sleeper)
    await clock.sleep(100)
    assert clock.monotonic() == pytest.approx(100)
    # 50 s at speed 1, then the remaining 50 simulated seconds take 5 s at speed 10.
    assert calls == [pytest.approx(100), pytest.approx(5)]
    assert real.now - 1000 == pytest.approx(55)


async def test_real_asyncio_sleep_is_accelerated() -> None:
    clock = AcceleratedClock(1000)
    started = time.monotonic()
    await asyncio.gather(clock.sleep(20), clock.sleep(10))
    elapsed = time.monotonic() - started
    assert clock.monotonic() >= 20
    # 20 simulated seconds at 1000x take 20 ms; unaccelerated they would take 20 s, so half of
    # that separates the two with room for a loaded machine.
    assert 0.015 <= elapsed < 10.0
