"""The internal signal timeline: validation, priorities, packed sub-intervals, change points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ven_edge.signals import SignalInterval, SignalTimeline, winner

T0 = datetime(2026, 2, 17, 19, 0, tzinfo=UTC)
H = timedelta(hours=1)


def iv(
    start_h: float,
    end_h: float,
    *values: float,
    kind: str = "PRICE",
    priority: int | None = None,
    event_id: str = "e",
) -> SignalInterval:
    return SignalInterval(
        T0 + start_h * H, T0 + end_h * H, kind, tuple(values), priority, event_id, "p"
    )


def test_rejects_naive_and_empty_and_reversed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SignalInterval(datetime(2026, 1, 1), datetime(2026, 1, 2, tzinfo=UTC), "PRICE", (1.0,))
    with pytest.raises(ValueError, match="not after start"):
        iv(2, 1, 0.1)
    with pytest.raises(ValueError, match="no values"):
        iv(0, 1)
    with pytest.raises(ValueError, match="priority must be >= 0"):
        iv(0, 1, 0.1, priority=-1)


def test_packed_values_need_a_sub_interval_of_at_least_a_microsecond() -> None:
    start = datetime(2026, 7, 1, tzinfo=UTC)
    end = start + timedelta(microseconds=3)
    packed = SignalInterval(start, end, "PRICE", (1, 2, 3))
    assert [packed.value_at(start + timedelta(microseconds=n)) for n in range(3)] == [1, 2, 3]
    with pytest.raises(ValueError, match="too short for 4 sub-intervals"):
        SignalInterval(start, end, "PRICE", (1, 2, 3, 4))
    SignalInterval(start, end, "SIMPLE", (1, 2, 3, 4))  # not packed: any length


def test_packed_price_values_are_equal_sub_intervals() -> None:
    packed = iv(0, 3, 0.1, 0.2, 0.3)
    assert packed.is_packed
    assert [packed.value_at(T0 + k * H + timedelta(minutes=30)) for k in range(3)] == [
        0.1,
        0.2,
        0.3,
    ]
    assert packed.value_at(T0 + H) == 0.2  # a boundary belongs to the later sub-interval
    subs = packed.sub_intervals()
    assert [(s.start, s.end, s.values) for s in subs] == [
        (T0 + k * H, T0 + (k + 1) * H, (v,)) for k, v in enumerate((0.1, 0.2, 0.3))
    ]
    point = iv(0, 3, 1.0, 2.0, kind="POINT")
    assert not point.is_packed
    assert point.value_at(T0 + 2 * H) == 1.0


def test_priority_lower_number_wins_and_none_is_lowest() -> None:
    tl = SignalTimeline(
        (
            iv(0, 4, 0.10, priority=None, event_id="base"),
            iv(1, 3, 0.50, priority=5, event_id="peak"),
            iv(2, 3, 0.05, priority=1, event_id="override"),
        )
    )
    assert tl.value_at("PRICE", T0) == 0.10
    assert tl.value_at("PRICE", T0 + 1.5 * H) == 0.50
    assert tl.value_at("PRICE", T0 + 2.5 * H) == 0.05
    assert tl.value_at("PRICE", T0 + 3.5 * H) == 0.10
    assert tl.value_at("PRICE", T0 + 4 * H) is None
    assert tl.value_at("GHG", T0) is None
    assert len(tl.active_at(T0 + 2.5 * H)) == 3


def test_equal_priority_the_later_start_wins_whatever_the_order() -> None:
    a = iv(0, 4, 0.1, priority=2, event_id="a")
    b = iv(1, 2, 0.9, priority=2, event_id="b")
    assert winner((a, b)) is b
    assert winner((b, a)) is b
    assert winner(()) is None


def test_next_change_after_sees_sub_interval_boundaries() -> None:
    tl = SignalTimeline((iv(0, 2, 0.1, 0.2), iv(5, 6, 1.0, kind="SIMPLE")))
    assert tl.next_change_after(T0 - H) == T0
    assert tl.next_change_after(T0) == T0 + H
    assert tl.next_change_after(T0 + H) == T0 + 2 * H
    assert tl.next_change_after(T0 + 2 * H) == T0 + 5 * H
    assert tl.next_change_after(T0 + 6 * H) is None
    assert tl.of_kind("SIMPLE").kinds() == frozenset({"SIMPLE"})
    assert tl.span() == (T0, T0 + 6 * H)
    assert SignalTimeline().span() is None


@given(
    st.lists(
        st.tuples(
            st.integers(0, 20),
            st.integers(1, 6),
            st.one_of(st.none(), st.integers(0, 3)),
            st.lists(st.integers(-5, 50), min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 26 * 60),
)
def test_value_at_matches_brute_force(
    specs: list[tuple[int, int, int | None, list[int]]], minute: int
) -> None:
    intervals = [
        iv(s, s + d, *map(float, vals), priority=p, event_id=f"e{k}")
        for k, (s, d, p, vals) in enumerate(specs)
    ]
    t = T0 + timedelta(minutes=minute)
    tl = SignalTimeline(tuple(reversed(intervals)))
    active = [i for i in intervals if i.start <= t < i.end]
    if not active:
        assert tl.value_at("PRICE", t) is None
        return
    best = min(
        active,
        key=lambda i: (
            i.priority if i.priority is not None else 10**9,
            -i.start.timestamp(),
            -int(i.event_id[1:]),
        ),
    )
    assert tl.value_at("PRICE", t) == best.value_at(t)
    nxt = tl.next_change_after(t)
    assert nxt is not None
    assert nxt > t


def test_events_are_replaced_and_removed_whole() -> None:
    tl = SignalTimeline((iv(0, 2, 0.1, event_id="a"), iv(0, 1, 0.9, priority=0, event_id="b")))
    updated = tl.with_event("b", (iv(1, 2, 0.7, priority=0, event_id="b"),))
    assert updated.value_at("PRICE", T0) == 0.1
    assert updated.value_at("PRICE", T0 + 1.5 * H) == 0.7
    assert tl.without_event("b").value_at("PRICE", T0) == 0.1
    assert len(tl.window(T0 + 1.5 * H, T0 + 3 * H)) == 1
    with pytest.raises(ValueError, match="given as part of"):
        tl.with_event("b", (iv(0, 1, 0.5, event_id="c"),))
