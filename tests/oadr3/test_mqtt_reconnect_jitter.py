"""MQTT reconnect delays are jittered (decorrelated jitter), bounded, and drawn from an injected
random source: a fleet dropped by one broker restart comes back spread out, not in lock-step."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ven_edge.oadr3.backoff import DecorrelatedBackoff
from ven_edge.oadr3.mqttloop import LoopDriver


class RefusingClient:
    """Stands in for paho's client: every connect and reconnect fails as a down broker does."""

    on_socket_open: Any = None
    on_socket_close: Any = None
    on_socket_register_write: Any = None
    on_socket_unregister_write: Any = None

    def __init__(self) -> None:
        self.attempts = 0

    def connect(self, host: str, port: int, keepalive: int) -> None:
        self.attempts += 1
        raise ConnectionRefusedError(111, "Connection refused")

    reconnect = connect  # type: ignore[assignment]

    def socket(self) -> None:
        return None


def test_delays_stay_between_base_and_cap_and_grow_with_the_top_draw() -> None:
    backoff = DecorrelatedBackoff(base=1.0, cap=120.0, rand=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(7)] == [3.0, 9.0, 27.0, 81.0, 120.0, 120.0, 120.0]
    backoff.reset()
    assert backoff.next_delay() == 3.0
    floor = DecorrelatedBackoff(base=1.0, cap=120.0, rand=lambda: 0.0)
    assert [floor.next_delay() for _ in range(3)] == [1.0, 1.0, 1.0]


@settings(max_examples=60)
@given(
    base=st.floats(min_value=1e-3, max_value=100.0),
    spread=st.floats(min_value=1.0, max_value=1e4),
    draws=st.lists(st.floats(min_value=-1e9, max_value=1e9), min_size=1, max_size=40),
)
def test_any_draw_gives_a_delay_within_the_bounds(
    base: float, spread: float, draws: list[float]
) -> None:
    # An injected source that misbehaves (outside [0, 1]) still gives bounded delays.
    cap = base * spread
    source = iter(draws)
    backoff = DecorrelatedBackoff(base=base, cap=cap, rand=lambda: next(source))
    for _ in draws:
        assert base <= backoff.next_delay() <= cap


@pytest.mark.parametrize(("base", "cap"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 5.0)])
def test_invalid_parameters(base: float, cap: float) -> None:
    with pytest.raises(ValueError, match="base"):
        DecorrelatedBackoff(base=base, cap=cap)


def reconnect_times(gateways: int, outage_s: float, rand: random.Random) -> list[float]:
    """When each gateway first tries again after the broker is back at ``outage_s``; every
    gateway lost the broker at t = 0 and retried on its own delays meanwhile."""
    times = []
    for _ in range(gateways):
        backoff = DecorrelatedBackoff(base=1.0, cap=120.0, rand=rand.random)
        at = backoff.next_delay()
        while at < outage_s:
            at += backoff.next_delay()
        times.append(at)
    return times


@pytest.mark.parametrize("outage_s", [0.0, 10.0, 60.0, 600.0])
def test_ten_thousand_gateways_do_not_return_in_lock_step(outage_s: float) -> None:
    times = reconnect_times(10_000, outage_s, random.Random(20261205))
    # Bounded: none before the floor, none later than one capped delay after the broker is back.
    assert min(times) >= max(1.0, outage_s)
    assert max(times) <= outage_s + 120.0
    # Spread: no 100 ms slot takes more than 8 % of the fleet (a lock-step fleet puts all of it
    # in one slot; the first retry alone spreads it evenly over base..3*base, 20 slots), and the
    # middle half of the fleet is spread over most of a second at least.
    slots = Counter(int(t * 10) for t in times)
    assert max(slots.values()) <= 800
    ordered = sorted(times)
    assert ordered[7_500] - ordered[2_500] >= 0.9


def test_the_fleet_spreads_wider_the_longer_the_broker_is_away() -> None:
    rand = random.Random(7)

    def middle_half(outage_s: float) -> float:
        ordered = sorted(reconnect_times(2_000, outage_s, rand))
        return ordered[1_500] - ordered[500]

    assert middle_half(300.0) > 4 * middle_half(0.0)


async def test_the_loop_driver_sleeps_the_jittered_delays_of_its_random_source() -> None:
    draws = [0.0, 1.0, 0.5, 0.25, 1.0, 0.75]
    source = iter(draws)
    slept: list[float] = []
    enough = asyncio.Event()

    async def sleep(delay: float) -> None:
        slept.append(delay)
        if len(slept) == len(draws):
            enough.set()
            await asyncio.Event().wait()  # parked until stop() cancels the task

    client = RefusingClient()
    driver = LoopDriver(
        client,  # type: ignore[arg-type]
        "127.0.0.1",
        1,
        min_delay_s=1.0,
        max_delay_s=30.0,
        rand=lambda: next(source),
        sleep=sleep,
    )
    driver.start()
    try:
        await asyncio.wait_for(enough.wait(), 60)
    finally:
        driver.stop()
    expected = DecorrelatedBackoff(1.0, 30.0, rand=iter(draws).__next__)
    assert slept == [expected.next_delay() for _ in draws]
    assert slept[:3] == [1.0, 3.0, 5.0]
    assert all(1.0 <= delay <= 30.0 for delay in slept)
    assert client.attempts == len(draws)


async def test_loop_drivers_with_their_own_sources_do_not_share_delays() -> None:
    # The default source is the process's random module: two gateways draw different delays.
    first = LoopDriver(RefusingClient(), "127.0.0.1", 1)  # type: ignore[arg-type]
    second = LoopDriver(RefusingClient(), "127.0.0.1", 1)  # type: ignore[arg-type]
    ours = [first.backoff.next_delay() for _ in range(5)]
    theirs = [second.backoff.next_delay() for _ in range(5)]
    assert ours != theirs
    assert all(1.0 <= delay <= 120.0 for delay in (*ours, *theirs))
