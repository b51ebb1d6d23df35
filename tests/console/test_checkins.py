"""Connection quality: received / expected check-ins over a window (docs/console.md)."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from vtn_lite.console.checkins import CheckinTracker, quality_of

WINDOW = 3600.0
DEFAULT = 300.0


def q(times: list[float], now: float) -> float:
    return quality_of(times, now, window=WINDOW, default_interval=DEFAULT).quality


def test_a_vens_never_seen_scores_zero_and_is_offline() -> None:
    status = quality_of([], 1000.0, window=WINDOW, default_interval=DEFAULT)
    assert status.quality == 0.0
    assert not status.online
    assert status.last is None


def test_one_check_in_is_full_quality_then_decays_without_dividing_by_zero() -> None:
    assert q([1000.0], 1000.0) == 1.0
    assert q([1000.0], 1000.0 + DEFAULT) == 1.0  # one interval later: 1 of 1 expected
    assert q([1000.0], 1000.0 + 4 * DEFAULT) == 0.25
    assert q([1000.0], 1000.0 + WINDOW + 1) == 0.0


def test_a_silent_ven_decays_to_zero() -> None:
    times = [float(t) for t in range(0, 7200, 60)]
    last = times[-1]
    assert q(times, last) == 1.0
    half = q(times, last + WINDOW / 2)
    assert 0.45 < half < 0.55
    assert q(times, last + WINDOW) == 0.0
    status = quality_of(times, last + 3 * 60 + 1, window=WINDOW, default_interval=DEFAULT)
    assert not status.online


def test_irregular_polling_at_its_usual_pace_is_full_quality() -> None:
    rng = random.Random(7)
    times, at = [], 0.0
    while at < 3 * WINDOW:
        times.append(at)
        at += rng.uniform(10.0, 110.0)
    assert q(times, times[-1]) > 0.9
    # Every other poll lost for the last hour: about half.
    recent = [t for t in times if t < 2 * WINDOW] + [
        t for i, t in enumerate(times) if t >= 2 * WINDOW and i % 2 == 0
    ]
    assert 0.4 < q(recent, times[-1]) < 0.7


def test_requests_of_one_poll_count_once() -> None:
    tracker = CheckinTracker(window=WINDOW, default_interval=DEFAULT, merge_s=2.0)
    for offset in (0.0, 0.1, 0.3, 60.0, 60.2, 120.0):
        tracker.seen("ven", 1000.0 + offset)
    status = tracker.status("ven", 1120.0)
    assert status.received == 3
    assert status.interval == 60.0
    assert tracker.take_dirty() == [("ven", 1120.0)]
    assert tracker.take_dirty() == []


@given(
    st.lists(st.floats(0, 1e9, allow_nan=False), max_size=30),
    st.floats(0, 2e9, allow_nan=False),
    st.floats(1e-3, 1e7),
)
def test_quality_is_always_a_share(times: list[float], now: float, window: float) -> None:
    status = quality_of(sorted(times), now, window=window, default_interval=DEFAULT)
    assert 0.0 <= status.quality <= 1.0
    assert status.expected >= 1.0


def test_the_cheap_online_check_agrees_with_the_status() -> None:
    tracker = CheckinTracker(window=WINDOW, default_interval=DEFAULT, merge_s=2.0)
    for at in (0.0, 50.0, 130.0, 170.0, 260.0):
        tracker.seen("ven", at)
    for now in (260.0, 400.0, 500.0, 540.0, 600.0, 10_000.0):
        assert tracker.online("ven", now) == tracker.status("ven", now).online, now
    assert not tracker.online("never", 0.0)
    assert not tracker.online(None, 0.0)
