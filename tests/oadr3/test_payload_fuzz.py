"""Hypothesis: events, programs and notifications at the extremes (years 1 and 9999, huge
durations and randomizeStart, NaN and infinities, deep nesting, wrong types).

Property: reading them raises nothing but :class:`PayloadError`, a rejection names the bad field,
and the good events in the same list still come through."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.errors import PayloadError
from ven_edge.oadr3.eventstore import EventStore
from ven_edge.oadr3.timeline import TimelineBuilder
from ven_edge.oadr3.vtnhttp import VtnSettings
from ven_edge.oadr3.webhook import parse_notification

NOW = datetime(2026, 7, 1, 12, tzinfo=UTC)
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GOOD = {
    "id": "good",
    "programID": "p1",
    "intervalPeriod": {"start": "2026-07-01T13:00:00Z", "duration": "PT1H"},
    "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.3, 0.2]}]}],
}

huge = st.integers(min_value=0, max_value=10**30)
some = st.one_of(st.integers(min_value=0, max_value=100), huge)
durations = st.one_of(
    st.sampled_from(["P9999Y", "P10000Y", "P9998Y11M", "PT0S", "-PT1H", "P1M", "PT1.5S", "P1W"]),
    st.builds(lambda d: f"P{d}D", some),
    st.builds(lambda h: f"PT{h}H", some),
    st.builds(lambda s: f"PT{s}S", some),
    st.builds(lambda y, m: f"P{y}Y{m}M", some, some),
    st.builds(
        lambda y, mo, d, h, mi, s: f"P{y}Y{mo}M{d}DT{h}H{mi}M{s}S",
        some,
        some,
        some,
        some,
        some,
        some,
    ),
    st.builds(lambda n: "P" + "9" * n + "D", st.integers(min_value=20, max_value=6000)),
)
starts = st.one_of(
    st.sampled_from(
        [
            "0001-01-01",
            "0000-00-00",
            "0001-01-01T00:00:00Z",
            "0001-01-02T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "1970-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:00:00-05:00",
            "0002-01-01T00:00:00+23:59",
            "9999-12-31",
            "2026-07-01 12:00",
        ]
    ),
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
    ).map(lambda d: d.isoformat()),
)
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0]),
)
junk = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = junk) -> Any:
    """Mostly ``good``, sometimes ``bad``: the extremes are reached past the type checks."""
    return st.integers(min_value=0, max_value=7).flatmap(lambda i: bad if i == 7 else good)


def nested(depth: int, leaf: Any) -> Any:
    for _ in range(depth):
        leaf = [leaf]
    return leaf


periods = st.fixed_dictionaries(
    {},
    optional={
        "start": mostly(starts),
        "duration": mostly(durations),
        "randomizeStart": mostly(durations),
    },
)
payloads = st.fixed_dictionaries(
    {
        "type": mostly(st.sampled_from(["PRICE", "SIMPLE", "GHG", "ALERT_X", "CTA2045_REBOOT"])),
        "values": st.one_of(
            st.lists(numbers, max_size=5),
            st.lists(numbers, max_size=5),
            st.lists(numbers, max_size=5),
            st.lists(numbers, min_size=1, max_size=1).map(lambda v: v * 5000),
            st.builds(nested, st.integers(min_value=1, max_value=80), numbers),
            junk,
        ),
    }
)
intervals = st.lists(
    st.fixed_dictionaries(
        {"id": st.one_of(st.integers(min_value=0, max_value=5), junk)},
        optional={
            "intervalPeriod": st.one_of(periods, junk),
            "payloads": st.lists(payloads, max_size=2),
        },
    ),
    min_size=1,
    max_size=3,
)
events = st.fixed_dictionaries(
    {"id": st.just("bad"), "programID": mostly(st.just("p1"))},
    optional={
        "intervalPeriod": mostly(periods),
        "duration": mostly(durations),
        "priority": mostly(st.integers(min_value=0, max_value=2**70)),
        "intervals": mostly(intervals),
        "modificationDateTime": mostly(starts),
        "reportDescriptors": mostly(
            st.lists(
                st.fixed_dictionaries(
                    {"payloadType": mostly(st.just("USAGE"))},
                    optional={"frequency": mostly(st.integers()), "startInterval": junk},
                ),
                max_size=2,
            )
        ),
    },
)


@FUZZ
@given(
    events,
    st.sampled_from([NOW, datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)]),
)
def test_extreme_events_are_rejected_precisely_and_the_good_one_survives(
    raw: dict[str, Any], now: datetime
) -> None:
    # As from the network: NaN and Infinity are JSON literals that Python's json reads.
    listed = json.loads(json.dumps([raw, GOOD]))
    # Pushed: the event is applied or rejected with a PayloadError naming the field.
    ven = VtnClient(
        VtnSettings(base_url="http://127.0.0.1:9/x"),
        wall_clock=lambda: now,
        timeline_builder=TimelineBuilder(rand=lambda: 1.0),  # the largest shift
    )
    ven.apply_event_notification("CREATE", listed[1])
    pushed_error: PayloadError | None = None
    try:
        ven.apply_event_notification("UPDATE", listed[0])
    except PayloadError as exc:
        pushed_error = exc
    assert pushed_error is None or (pushed_error.object_id, bool(pushed_error.where)) == (
        "bad",
        True,
    )
    assert "good" in ven.events
    ven.rebuild_timeline()
    # Polled, next to a good event: the good one comes through whatever the bad one holds.
    store = EventStore(TimelineBuilder(rand=lambda: 1.0), lambda: now)
    result = store.apply_poll(listed, None)
    assert "good" in store.events
    if now.year < 9999:
        assert "good" in {i.event_id for i in store.timeline.intervals}
    for error in result.errors:
        assert isinstance(error, PayloadError)
        assert error.object_id == "bad"
        assert error.where, f"rejected without naming a field: {error}"
    assert ("bad" in store.events) is not bool(result.errors)
    store.builder.build(store.events.values(), now + timedelta(days=1))


programs = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"id": st.one_of(st.text(min_size=1, max_size=4), junk), "programName": junk},
            optional={"intervalPeriod": st.one_of(periods, junk), "payloadDescriptors": junk},
        ),
        junk,
    ),
    max_size=4,
)


@FUZZ
@given(programs)
def test_malformed_programs_never_raise_and_keep_good_events(raw_programs: list[Any]) -> None:
    ven = VtnClient(
        VtnSettings(base_url="http://127.0.0.1:9/x", program_names=("tou",)), wall_clock=lambda: NOW
    )
    ven._update_programs([{"id": "p1", "programName": "tou"}])
    mapped = [p for p in json.loads(json.dumps(raw_programs)) if isinstance(p, dict)]
    ven._update_programs([{"id": "p1", "programName": "tou"}, *mapped])
    ven.event_store.apply_poll([GOOD], ven._wanted_program_ids())
    assert "good" in ven.events


notification_objects = st.one_of(events, junk, st.builds(nested, st.integers(0, 300), junk))
snake = st.sampled_from(["object_type", "objectType", "OBJECT_TYPE", "operation", "object"])
bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "objectType": st.one_of(st.sampled_from(["EVENT", "PROGRAM", "event"]), junk),
            "operation": st.one_of(st.sampled_from(["CREATE", "PUT", "DELETE", "POST"]), junk),
            "object": notification_objects,
        }
    ).map(lambda d: json.dumps(d).encode()),
    st.dictionaries(snake, junk, max_size=4).map(lambda d: json.dumps(d).encode()),
    st.integers(min_value=1, max_value=60_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=60_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.binary(max_size=64),
)


@FUZZ
@given(bodies)
def test_notifications_raise_only_payload_errors(body: bytes) -> None:
    ven = VtnClient(VtnSettings(base_url="http://127.0.0.1:9/x"), wall_clock=lambda: NOW)
    ven.apply_event_notification("CREATE", GOOD)
    try:
        note = parse_notification(body)
        if note.object_type == "EVENT":
            ven.apply_event_notification(note.operation, note.object)
    except PayloadError:
        pass
    assert "good" in ven.events or b"DELETE" in body


@pytest.mark.parametrize("depth", [64, 65, 1000, 200_000])
def test_notification_depth_limit_is_exact(depth: int) -> None:
    body = b'{"objectType":"EVENT","operation":"CREATE","object":{"x":' + b"[" * (depth - 2)
    body += b"]" * (depth - 2) + b"}}"
    if depth <= 64:
        assert parse_notification(body, max_bytes=10**6).object_type == "EVENT"
    else:
        with pytest.raises(PayloadError, match="nested deeper than 64 levels"):
            parse_notification(body, max_bytes=10**6)
