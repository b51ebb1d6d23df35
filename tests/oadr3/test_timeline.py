"""Events → SignalTimeline: each timing rule and interop quirk of docs/openadr3.md §5, §10."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ven_edge.oadr3.errors import PayloadError
from ven_edge.oadr3.eventparse import add_duration, parse_datetime, parse_duration, parse_event
from ven_edge.oadr3.timeline import FAR_FUTURE, INSTANT_SPAN, TimelineBuilder

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def event(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "e1",
        "programID": "p1",
        "modificationDateTime": "2026-07-01T11:00:00Z",
        "intervalPeriod": {"start": "2026-07-01T13:00:00Z", "duration": "PT1H"},
        "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.3]}]}],
    }
    base.update(fields)
    return base


def build(*raw: dict[str, Any], now: datetime = T0, builder: TimelineBuilder | None = None):
    builder = builder or TimelineBuilder(rand=lambda: 0.5)
    return builder.build([parse_event(r) for r in raw], now)


def test_hourly_prices_follow_on_from_event_period() -> None:
    raw = event(
        intervals=[
            {"id": i, "payloads": [{"type": "PRICE", "values": [0.1 * (i + 1)]}]} for i in range(3)
        ]
    )
    tl = build(raw)
    assert [(i.start, i.end, i.values) for i in tl.intervals] == [
        (T0 + HOUR, T0 + 2 * HOUR, (0.1,)),
        (T0 + 2 * HOUR, T0 + 3 * HOUR, (0.2,)),
        (T0 + 3 * HOUR, T0 + 4 * HOUR, (pytest.approx(0.3),)),
    ]
    assert tl.intervals[0].event_id == "e1"
    assert tl.intervals[0].program_id == "p1"


@pytest.mark.parametrize(
    "marker", ["0001-01-01", "0001-01-01T00:00:00Z", "0000-01-01", "0000-00-00", "0001-01-01T00:00"]
)
def test_now_start_is_anchored_at_first_sight_and_stable(marker: str) -> None:
    builder = TimelineBuilder(rand=lambda: 0.5)
    raw = event(intervalPeriod={"start": marker, "duration": "PT2H"})
    first = build(raw, now=T0, builder=builder)
    later = build(raw, now=T0 + 30 * timedelta(minutes=1), builder=builder)
    assert first.intervals[0].start == T0
    assert later.intervals == first.intervals  # polling again does not push "now" forward


def test_now_event_with_p9999y_is_open_ended_alert() -> None:
    raw = event(
        intervalPeriod={"start": "0001-01-01", "duration": "P9999Y"},
        intervals=[{"id": 0, "payloads": [{"type": "ALERT_GRID_EMERGENCY", "values": ["Shed!"]}]}],
    )
    (only,) = build(raw).intervals
    assert (only.start, only.end, only.kind, only.values) == (
        T0,
        FAR_FUTURE,
        "ALERT_GRID_EMERGENCY",
        ("Shed!",),
    )


def test_randomize_start_drawn_once_per_event_and_kept_across_polls() -> None:
    draws = iter([1.0, 0.0, 0.0])
    builder = TimelineBuilder(rand=lambda: next(draws))
    raw = event(
        intervalPeriod={
            "start": "2026-07-01T13:00:00Z",
            "duration": "PT1H",
            "randomizeStart": "PT10M",
        },
        intervals=[
            {"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]},
            {"id": 1, "payloads": [{"type": "SIMPLE", "values": [2]}]},
        ],
    )
    a = build(raw, builder=builder)
    b = build(raw, now=T0 + HOUR, builder=builder)
    shift = timedelta(minutes=10)  # rand() == 1.0 → the full +randomizeStart
    assert [i.start for i in a.intervals] == [T0 + HOUR + shift, T0 + 2 * HOUR + shift]
    assert b.intervals == a.intervals
    # A modification keeps the same shift (no re-roll); a restart keeps it via export_state.
    modified = dict(raw, modificationDateTime="2026-07-01T11:30:00Z")
    assert build(modified, builder=builder).intervals[0].start == T0 + HOUR + shift
    restored = TimelineBuilder(rand=lambda: 0.0)
    restored.restore_state(builder.export_state())
    assert build(raw, builder=restored).intervals == a.intervals


def test_priorities_resolved_by_signal_timeline() -> None:
    low = event(id="low", priority=5)
    high = event(
        id="high",
        priority=1,
        intervals=[{"id": 0, "payloads": [{"type": "PRICE", "values": [0.9]}]}],
    )
    tl = build(low, high)
    assert len(tl) == 2
    assert tl.value_at("PRICE", T0 + HOUR + timedelta(minutes=5)) == 0.9


def test_multi_value_price_packs_sub_intervals() -> None:
    raw = event(intervals=[{"id": 0, "payloads": [{"type": "PRICE", "values": [1, 2, 3, 4]}]}])
    tl = build(raw)
    assert tl.value_at("PRICE", T0 + HOUR + timedelta(minutes=20)) == 2
    assert tl.value_at("PRICE", T0 + HOUR + timedelta(minutes=50)) == 4


def test_cancellation_by_deletion_and_by_now_pt0s() -> None:
    builder = TimelineBuilder(rand=lambda: 0.5)
    assert len(build(event(), builder=builder)) == 1
    assert len(builder.build([], T0)) == 0
    assert builder.export_state() == {}
    cancelled = event(intervalPeriod={"start": "0001-01-01", "duration": "PT0S"})
    assert len(build(cancelled)) == 0


def test_modification_is_a_new_revision_and_reanchors_now() -> None:
    builder = TimelineBuilder(rand=lambda: 0.5)
    raw = event(intervalPeriod={"start": "0001-01-01", "duration": "PT1H"})
    build(raw, now=T0, builder=builder)
    changed = dict(raw, modificationDateTime="2026-07-01T12:30:00Z")
    changed["intervals"] = [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.5]}]}]
    (iv,) = build(changed, now=T0 + timedelta(minutes=30), builder=builder).intervals
    assert (iv.start, iv.values) == (T0 + timedelta(minutes=30), (0.5,))


def test_interval_with_own_period_and_gaps() -> None:
    raw = event(
        intervalPeriod=None,
        intervals=[
            {
                "id": 0,
                "intervalPeriod": {"start": "2026-07-01T14:00:00Z", "duration": "PT30M"},
                "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [2.5]}],
            },
            {
                "id": 1,
                "intervalPeriod": {"start": "2026-07-01T18:00:00+02:00", "duration": "PT15M"},
                "payloads": [{"type": "IMPORT_CAPACITY_LIMIT", "values": [1.0]}],
            },
        ],
    )
    tl = build(raw)
    assert [(i.start, i.end) for i in tl.intervals] == [
        (T0 + 2 * HOUR, T0 + 2.5 * HOUR),
        (T0 + 4 * HOUR, T0 + 4 * HOUR + timedelta(minutes=15)),
    ]


def test_event_duration_repeats_and_truncates() -> None:
    day = event(
        intervalPeriod={"start": "2026-07-01T00:00:00Z", "duration": "PT12H"},
        intervals=[
            {"id": 0, "payloads": [{"type": "PRICE", "values": [0.1]}]},
            {"id": 1, "payloads": [{"type": "PRICE", "values": [0.4]}]},
        ],
    )
    week = build(dict(day, duration="P7D"))
    assert len(week) == 14
    assert week.span() == (T0 - 12 * HOUR, T0 - 12 * HOUR + timedelta(days=7))
    half = build(dict(day, duration="PT6H"))
    assert [(i.start, i.end) for i in half.intervals] == [(T0 - 12 * HOUR, T0 - 6 * HOUR)]
    forever = TimelineBuilder(rand=lambda: 0.5, horizon=timedelta(days=2))
    tl = build(dict(day, duration="P9999Y"), builder=forever)
    assert tl.span() is not None
    assert tl.span()[1] >= T0 + timedelta(days=2)


def test_pass_through_kinds_and_unknown_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    payloads = [
        {"type": "PRICE", "values": [0.2]},
        {"type": "GHG", "values": [400]},
        {"type": "SIMPLE", "values": [2]},
        {"type": "ALERT_FLEX_ALERT", "values": ["tomorrow"]},
        {"type": "CTA2045_REBOOT", "values": [0]},
        {"type": "DISPATCH_SETPOINT", "values": [3]},
        {"type": "EXPORT_PRICE", "values": [0.05]},
    ]
    builder = TimelineBuilder(rand=lambda: 0.5)
    raw = event(intervals=[{"id": 0, "payloads": payloads}])
    with caplog.at_level(logging.INFO, logger="ven_edge.oadr3.timeline"):
        tl = build(raw, builder=builder)
        build(raw, builder=builder)
    assert tl.kinds() == {"PRICE", "GHG", "SIMPLE", "ALERT_FLEX_ALERT", "CTA2045_REBOOT"}
    ignored = [r.getMessage() for r in caplog.records if "ignoring payload type" in r.getMessage()]
    assert len(ignored) == 2


def test_zero_length_command_is_instant_and_alert_is_open() -> None:
    raw = event(
        intervalPeriod={"start": "2026-07-01T13:00:00Z"},
        intervals=[
            {
                "id": 0,
                "payloads": [
                    {"type": "CTA2045_REBOOT", "values": [1]},
                    {"type": "ALERT_FIRE", "values": ["evacuate"]},
                ],
            }
        ],
    )
    by_kind = {i.kind: i for i in build(raw).intervals}
    assert by_kind["CTA2045_REBOOT"].duration == INSTANT_SPAN
    assert by_kind["ALERT_FIRE"].end == FAR_FUTURE


def test_report_only_event_gives_no_signals() -> None:
    raw = event(
        intervals=[{"id": 0, "payloads": []}],
        reportDescriptors=[{"payLoadType": "USAGE", "frequency": 0}],
    )
    parsed = parse_event(raw)
    assert parsed.report_descriptors[0].payload_type == "USAGE"
    assert parsed.report_descriptors[0].frequency == 0
    assert len(build(raw)) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22 03:53:46", datetime(2026, 11, 22, 3, 53, 46, tzinfo=UTC)),
        ("2025-02-13 19:00:00.000Z", datetime(2025, 2, 13, 19, tzinfo=UTC)),
        ("2026-07-01T14:00:00+02:00", T0),
        ("2026-07-01", datetime(2026, 7, 1, tzinfo=UTC)),
        ("0001-01-01", None),
    ],
)
def test_lenient_datetimes(text: str, expected: datetime | None) -> None:
    assert parse_datetime(text, "x") == expected


def test_time_only_metadata_is_tolerated_but_not_as_interval_start() -> None:
    assert parse_event(event(createdDateTime="12:22:12", modificationDateTime="12:22:12")).id
    with pytest.raises(PayloadError, match=r"intervals\[0\]\.intervalPeriod\.start"):
        parse_event(
            event(intervals=[{"id": 0, "intervalPeriod": {"start": "12:22:12"}, "payloads": []}])
        )


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"programID": None}, "programID"),
        ({"intervals": {"id": 0}}, "intervals"),
        ({"intervalPeriod": {"duration": "1 hour"}}, "intervalPeriod.duration"),
        ({"intervalPeriod": {"duration": "-PT1H"}}, "intervalPeriod.duration"),
        ({"priority": -1}, "priority"),
        ({"priority": "high"}, "priority"),
        (
            {"intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [{}]}]}]},
            "intervals[0].payloads[0].values[0]",
        ),
        ({"intervalPeriod": None}, "intervals[0].intervalPeriod"),
    ],
)
def test_malformed_events_name_the_field(fields: dict[str, Any], where: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_event(event(**fields))
    assert info.value.where == where
    assert info.value.object_id == "e1"
    assert "e1" in str(info.value)


def test_durations() -> None:
    assert parse_duration("P9999Y", "d") is None
    assert add_duration(T0, parse_duration("PT15M", "d")) == T0 + timedelta(minutes=15)
    assert add_duration(T0, parse_duration("P1W", "d")) == T0 + timedelta(days=7)
    assert add_duration(T0, parse_duration("P1M", "d")) == datetime(2026, 8, 1, 12, tzinfo=UTC)


def test_revision_without_modification_time_is_stable_and_content_based() -> None:
    raw = event(modificationDateTime=None)
    assert parse_event(raw).revision == parse_event(raw).revision
    assert parse_event(raw).revision.startswith("sha256:")
    changed = event(modificationDateTime=None, priority=3)
    assert parse_event(changed).revision != parse_event(raw).revision


@pytest.mark.parametrize("version", ["3.1.0", "3.0.1"])
@pytest.mark.parametrize("intervals", [None, "absent"])
def test_event_without_intervals_is_malformed(version: str, intervals: object) -> None:
    raw = event(intervals=intervals)
    if intervals == "absent":
        del raw["intervals"]
    with pytest.raises(PayloadError) as info:
        parse_event(raw, version=version)
    assert info.value.where == "intervals"
    assert "missing or null" in info.value.reason


def test_report_only_event_may_omit_intervals_in_3_1_only() -> None:
    descriptors = [{"payloadType": "USAGE"}]
    raw = event(intervals=None, reportDescriptors=descriptors)
    assert parse_event(raw).intervals == ()
    with pytest.raises(PayloadError, match=r"3\.0\.1"):
        parse_event(raw, version="3.0.1")


def test_empty_intervals_array_is_an_event_without_signals() -> None:
    assert parse_event(event(intervals=[])).intervals == ()
    assert build(event(intervals=[])).intervals == ()


def test_a_new_event_builds_only_its_own_intervals(monkeypatch: pytest.MonkeyPatch) -> None:
    # A burst of pushed events must not rebuild every event at each one (that grows with the
    # square of the events); the result is what a fresh builder makes, also as time passes.
    builder = TimelineBuilder(rand=lambda: 0.5, horizon=timedelta(days=2))
    built: list[str] = []
    real = builder.intervals_for

    def counting(ev: Any, now: datetime) -> Any:
        built.append(ev.id)
        return real(ev, now)

    monkeypatch.setattr(builder, "intervals_for", counting)
    day = {"start": "2026-07-01T00:00:00Z", "duration": "PT1H"}
    events = [parse_event(event(id=f"e{n}", intervalPeriod=day)) for n in range(30)]
    forever = parse_event(event(id="loop", intervalPeriod=day, duration="P9999Y"))
    for n in range(1, 31):
        now = T0 + timedelta(hours=n)
        timeline = builder.build([*events[:n], forever], now)
        fresh = TimelineBuilder(rand=lambda: 0.5, horizon=timedelta(days=2))
        fresh.restore_state(builder.export_state())
        assert timeline == fresh.build([*events[:n], forever], now)
    # Each dated event once; the repeating one (shaped by the moving horizon) every time.
    assert sorted(built) == sorted([f"e{n}" for n in range(30)] + ["loop"] * 30)
    changed = parse_event(
        event(id="e3", intervalPeriod=day, modificationDateTime="2026-07-01T12:00:00Z")
    )
    before = len(built)
    builder.build([*events[:3], changed], T0)  # e3 modified: rebuilt, the others reused
    assert built[before:] == ["e3"]


def test_prices_carry_the_unit_of_their_payload_descriptor() -> None:
    described = event(
        payloadDescriptors=[
            {"objectType": "EVENT_PAYLOAD_DESCRIPTOR", "payloadType": "PRICE",
             "units": "KWH", "currency": "USD"}
        ]
    )  # fmt: skip
    assert [i.unit for i in build(described).intervals] == ["USD/KWH"]
    assert [i.unit for i in build(event()).intervals] == [None]
