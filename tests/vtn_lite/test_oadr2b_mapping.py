"""Stored 3.1 events as 2.0b events: the rows of docs/vtn-lite-2.0b.md "Mapping"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.oadr2b.schema import assert_valid
from ven_edge.oadr2b.distribute import build_distribute, parse_distribute
from ven_edge.oadr2b.envelope import open_payload
from ven_edge.oadr2b.events import DistributeEvent, Event, EventStatus, Targets
from ven_edge.oadr2b.ns import OADR, POWER
from vtn_lite.oadr2b.mapping import Unmapped, at_time, next_change, to_2b_event

START = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)
BEFORE = START - timedelta(hours=1)


def _body(*intervals: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "id": "ev-1",
        "programID": "p-1",
        "createdDateTime": "2026-12-05T14:00:00Z",
        "modificationDateTime": "2026-12-05T14:30:00Z",
        "intervalPeriod": {"start": "2026-12-05T16:00:00Z", "duration": "PT1H"},
        "intervals": list(intervals),
        **fields,
    }


def _interval(i: int, kind: str, value: Any, **period: str) -> dict[str, Any]:
    item: dict[str, Any] = {"id": i, "payloads": [{"type": kind, "values": [value]}]}
    if period:
        item["intervalPeriod"] = period
    return item


def _map(body: dict[str, Any], *, now: datetime = BEFORE, **kw: Any) -> Event:
    mapped = to_2b_event(
        body,
        modification=kw.pop("modification", 0),
        now=now,
        targets=kw.pop("targets", Targets()),
        market_context="oadr://vtn-lite/p",
        **kw,
    )
    assert isinstance(mapped, Event), mapped
    # Whatever is mapped writes a schema-valid distribute that reads back the same.
    payload = build_distribute(DistributeEvent("r", "VTN", (mapped,)))
    assert_valid(payload)
    assert parse_distribute(open_payload(payload).message).events[0].signals == mapped.signals
    return mapped


def test_simple_levels_intervals_and_event_fields() -> None:
    event = _map(
        _body(_interval(0, "SIMPLE", 1), _interval(1, "SIMPLE", 3), priority=0, eventName="peak")
    )
    [signal] = event.signals
    assert (signal.signal_name, signal.signal_type) == ("SIMPLE", "level")
    assert [(i.uid, i.duration, i.value) for i in signal.intervals] == [
        (0, timedelta(hours=1), 1.0),
        (1, timedelta(hours=1), 3.0),
    ]
    assert (event.dtstart, event.duration, event.status) == (START, timedelta(hours=2), "far")
    assert event.priority == 1  # 3.x 0 is the highest; 2.0b 1 is
    assert event.vtn_comment == "peak"
    assert event.notification == timedelta(minutes=90)
    assert signal.current_value == 0.0  # not active (rule 14)


def test_simple_outside_0_to_3_is_not_sent() -> None:
    mapped = to_2b_event(
        _body(_interval(0, "SIMPLE", 7)),
        modification=0,
        now=BEFORE,
        targets=Targets(),
        market_context="x",
    )
    assert isinstance(mapped, Unmapped)
    assert "SIMPLE 7.0 is not a level 0-3" in mapped.reason


def test_price_carries_its_currency_per_kwh() -> None:
    descriptors = [{"payloadType": "PRICE", "units": "KWH", "currency": "EUR"}]
    event = _map(
        _body(_interval(0, "PRICE", 0.12), _interval(1, "PRICE", 0.35)),
        program_descriptors=descriptors,
    )
    [signal] = event.signals
    assert (signal.signal_name, signal.signal_type) == ("ELECTRICITY_PRICE", "price")
    assert signal.item is not None
    assert (signal.item.element, signal.item.namespace, signal.item.units) == (
        "currencyPerKWh",
        OADR,
        "EUR",
    )
    without = _map(_body(_interval(0, "PRICE", 0.12)))
    assert without.signals[0].item is None  # lossy: no currency to say


def test_capacity_limit_is_a_load_dispatch_setpoint_in_kw() -> None:
    event = _map(_body(_interval(0, "IMPORT_CAPACITY_LIMIT", 2.5)))
    [signal] = event.signals
    assert (signal.signal_name, signal.signal_type) == ("LOAD_DISPATCH", "setpoint")
    assert signal.item is not None
    assert (signal.item.element, signal.item.namespace, signal.item.units) == (
        "powerReal",
        POWER,
        "W",
    )
    assert signal.item.scale == "k"


def test_gaps_fill_with_level_0_for_simple_and_drop_other_signals() -> None:
    gap = {"start": "2026-12-05T18:00:00Z", "duration": "PT1H"}
    simple = _map(_body(_interval(0, "SIMPLE", 2), _interval(1, "SIMPLE", 1, **gap)))
    assert [(i.duration, i.value) for i in simple.signals[0].intervals] == [
        (timedelta(hours=1), 2.0),
        (timedelta(hours=1), 0.0),
        (timedelta(hours=1), 1.0),
    ]
    assert sum((i.duration for i in simple.signals[0].intervals), timedelta()) == simple.duration
    price = to_2b_event(
        _body(_interval(0, "PRICE", 0.1), _interval(1, "PRICE", 0.2, **gap)),
        modification=0,
        now=BEFORE,
        targets=Targets(),
        market_context="x",
    )
    assert isinstance(price, Unmapped)
    assert "PRICE intervals leave a gap" in price.reason


def test_randomize_start_is_startafter_and_p9999y_is_open_ended() -> None:
    event = _map(
        _body(
            _interval(0, "SIMPLE", 1),
            intervalPeriod={
                "start": "2026-12-05T16:00:00Z",
                "duration": "P9999Y",
                "randomizeStart": "PT10M",
            },
        )
    )
    assert event.startafter == timedelta(minutes=10)
    assert event.duration == timedelta(0)  # rule 47: open-ended


def test_other_payload_types_have_no_signal_but_do_not_hide_the_mapped_ones() -> None:
    body = _body(
        {
            "id": 0,
            "payloads": [
                {"type": "SIMPLE", "values": [1]},
                {"type": "GHG", "values": [300]},
            ],
        }
    )
    event = _map(body)
    assert [s.signal_name for s in event.signals] == ["SIMPLE"]


def test_status_and_current_value_follow_the_clock_without_a_new_version() -> None:
    event = _map(_body(_interval(0, "SIMPLE", 1), _interval(1, "SIMPLE", 2)))
    during = at_time(event, START + timedelta(minutes=90))
    assert during.status is EventStatus.ACTIVE
    assert during.signals[0].current_value == 2.0
    assert during.modification_number == event.modification_number
    after = at_time(event, START + timedelta(hours=3))
    assert after.status is EventStatus.COMPLETED
    cancelled = _map(_body(_interval(0, "SIMPLE", 1)), cancelled=True, modification=4)
    assert at_time(cancelled, START).status is EventStatus.CANCELLED
    assert cancelled.modification_number == 4


def test_targets_are_passed_through() -> None:
    targets = Targets(ven_ids=("VEN-1",), group_ids=("north",))
    assert _map(_body(_interval(0, "SIMPLE", 1)), targets=targets).targets == targets


def test_next_change_is_the_next_start_interval_end_or_end() -> None:
    event = _map(_body(_interval(0, "SIMPLE", 1), _interval(1, "SIMPLE", 2)))
    assert next_change(event, BEFORE) == START.timestamp()
    assert next_change(event, START) == (START + timedelta(hours=1)).timestamp()
    assert (
        next_change(event, START + timedelta(hours=1)) == (START + timedelta(hours=2)).timestamp()
    )
    assert next_change(event, START + timedelta(hours=3)) is None
    cancelled = _map(_body(_interval(0, "SIMPLE", 1)), cancelled=True)
    assert next_change(cancelled, BEFORE) is None
