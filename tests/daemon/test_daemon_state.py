"""What the daemon persists and shows: signals round-trip, events grouped for the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ven_edge.daemon import events_at, timeline_from_json, timeline_to_json
from ven_edge.signals import SignalInterval, SignalTimeline

T0 = datetime(2026, 2, 17, 19, 0, tzinfo=UTC)

values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.integers(-1000, 1000),
    st.text(max_size=8),
)
intervals = st.builds(
    lambda off, dur, kind, vals, prio, ev: SignalInterval(
        T0 + timedelta(minutes=off),
        T0 + timedelta(minutes=off + dur),
        kind,
        tuple(vals),
        prio,
        ev,
    ),
    st.integers(-600, 600),
    st.integers(1, 600),
    st.sampled_from(["PRICE", "SIMPLE", "GHG", "ALERT_FLEX_ALERT"]),
    st.lists(values, min_size=1, max_size=4),
    st.one_of(st.none(), st.integers(0, 9)),
    st.text(max_size=6),
)


@given(st.lists(intervals, max_size=8))
def test_timeline_round_trips_through_json(items: list[SignalInterval]) -> None:
    timeline = SignalTimeline(tuple(items))
    assert timeline_from_json(timeline_to_json(timeline)) == timeline


def test_events_grouped_by_event_id_current_and_next() -> None:
    price = [
        SignalInterval(
            T0 + timedelta(hours=h),
            T0 + timedelta(hours=h + 1),
            "PRICE",
            (0.2,),
            None,
            "p1",
            "prog",
        )
        for h in range(3)
    ]
    shed = SignalInterval(
        T0 + timedelta(hours=5),
        T0 + timedelta(hours=6),
        "SIMPLE",
        (1,),
        0,
        "s1",
        "prog",
        "Peak day",
    )
    events = events_at(SignalTimeline((*price, shed)), T0 + timedelta(minutes=30))
    assert events.current is not None
    assert events.current.id == "p1"
    assert events.current.end == T0 + timedelta(hours=3)
    assert events.next is not None
    assert events.next.summary == "Peak day"
    later = events_at(SignalTimeline((*price, shed)), T0 + timedelta(hours=7))
    assert later.current is None
    assert later.next is None
