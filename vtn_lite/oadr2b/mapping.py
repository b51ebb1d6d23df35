"""A stored 3.1 event as a 2.0b event (docs/vtn-lite-2.0b.md "Mapping").

Sans-I/O: the caller passes the modificationNumber (from the store), the recipient's targets,
the market context and ``now``. One payload type becomes one eiEventSignal:

* SIMPLE → SIMPLE/level (an integer 0-3, rule 9);
* PRICE → ELECTRICITY_PRICE/price with currencyPerKWh (or per KW) in the descriptor's currency;
* IMPORT_CAPACITY_LIMIT and DISPATCH_SETPOINT → LOAD_DISPATCH/setpoint in powerReal (kW or W).

Any other payload type has no 2.0b signal here; an event with none that maps is not sent, with
the reason (:class:`Unmapped`). Nothing raises on a stored body: the face logs and goes on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import ValidationError

from ven_edge.oadr2b.events import (
    Event,
    EventSignal,
    EventStatus,
    Interval,
    ItemBase,
    Targets,
)
from ven_edge.oadr2b.ns import OADR, POWER
from ven_edge.oadr3.spans import follow_on_spans
from ven_edge.oadr3.timefmt import ZERO_DURATION, TimeFormatError, is_now, parse_datetime
from vtn_lite.wire import models
from vtn_lite.wire.timing import event_span


@dataclass(frozen=True, slots=True)
class SignalKind:
    signal_name: str
    signal_type: str


#: 3.x payload type → 2.0b signal (Table 1 of the 2.0b profile).
SIGNALS: Final = {
    "SIMPLE": SignalKind("SIMPLE", "level"),
    "PRICE": SignalKind("ELECTRICITY_PRICE", "price"),
    "IMPORT_CAPACITY_LIMIT": SignalKind("LOAD_DISPATCH", "setpoint"),
    "DISPATCH_SETPOINT": SignalKind("LOAD_DISPATCH", "setpoint"),
}
SIMPLE_LEVELS: Final = frozenset({0, 1, 2, 3})
_PRICE_ITEMS: Final = {"KWH": "currencyPerKWh", "KW": "currencyPerKW", "THERM": "currencyPerThm"}
_POWER_SCALES: Final = {"KW": "k", "W": "none", "MW": "M"}


@dataclass(frozen=True, slots=True)
class Unmapped:
    """An event that 2.0b VENs do not receive, and why (logged once per version)."""

    event_id: str
    reason: str


def to_2b_event(
    body: dict[str, Any],
    *,
    modification: int,
    now: datetime,
    targets: Targets,
    market_context: str,
    program_descriptors: list[dict[str, Any]] | None = None,
    cancelled: bool = False,
) -> Event | Unmapped:
    event_id = str(body.get("id", ""))
    try:
        request = models.EventRequest.model_validate(body)
        created = parse_datetime(body["createdDateTime"])
        written = parse_datetime(body["modificationDateTime"])
    except (ValidationError, TimeFormatError, KeyError) as exc:
        return Unmapped(event_id, f"stored body unreadable: {exc}")
    # A "now" start meant the time of the write (as the 3.x API reads it).
    span = event_span(request, written)
    if span is None:
        return Unmapped(event_id, "no start time (a report-only event)")
    duration = timedelta(0) if span.end is None else span.end - span.start
    descriptors = [
        *(models.dump(d) for d in request.payload_descriptors or ()),
        *(program_descriptors or ()),
    ]
    spans = _interval_spans(request, span.start)
    signals: list[EventSignal] = []
    skipped: list[str] = []
    for payload_type in _payload_types(request):
        kind = SIGNALS.get(payload_type)
        if kind is None:
            skipped.append(f"{payload_type} has no 2.0b signal")
            continue
        built = _signal(request, payload_type, kind, spans, span.start, duration, descriptors, now)
        if isinstance(built, str):
            skipped.append(built)
        else:
            signals.append(built)
    if not signals:
        return Unmapped(event_id, "; ".join(skipped) or "no payloads")
    startafter = _startafter(request)
    status = _status(span.start, duration, now, cancelled)
    return Event(
        event_id=event_id,
        modification_number=modification,
        status=status,
        dtstart=span.start,
        duration=duration,
        signals=tuple(signals),
        market_context=market_context,
        created=created,
        # 3.x priority: 0 is the highest, absent is none; 2.0b: 1 is the highest, 0 is none.
        priority=request.priority + 1 if request.priority is not None else 0,
        startafter=startafter,
        notification=max(span.start - written, timedelta(0)),
        targets=targets,
        vtn_comment=request.event_name,
    )


def _payload_types(request: models.EventRequest) -> list[str]:
    seen: dict[str, None] = {}
    for interval in request.intervals or ():
        for payload in interval.payloads:
            seen.setdefault(payload.type, None)
    return list(seen)


def _interval_spans(
    request: models.EventRequest, start: datetime
) -> list[tuple[datetime, datetime | None]]:
    default = request.interval_period
    default_duration = default.duration if default and default.duration else ZERO_DURATION
    periods = []
    for interval in request.intervals or ():
        period = interval.interval_period
        own = period.start if period and period.start and not is_now(period.start) else None
        periods.append((own, period.duration if period and period.duration else default_duration))
    return follow_on_spans(start, periods)


def _signal(
    request: models.EventRequest,
    payload_type: str,
    kind: SignalKind,
    spans: list[tuple[datetime, datetime | None]],
    start: datetime,
    duration: timedelta,
    descriptors: list[dict[str, Any]],
    now: datetime,
) -> EventSignal | str:
    intervals: list[Interval] = []
    cursor = start
    current = 0.0
    for interval, (begin, end) in zip(request.intervals or (), spans, strict=False):
        value = _value(interval, payload_type)
        if value is None:
            continue
        if payload_type == "SIMPLE" and value not in SIMPLE_LEVELS:
            return f"SIMPLE {value!r} is not a level 0-3 (rule 9)"
        if begin < cursor:
            return f"{payload_type} intervals overlap"
        if begin > cursor:
            if payload_type != "SIMPLE":
                # A gap has no price or limit to send; 2.0b intervals follow on (rule 8).
                return f"{payload_type} intervals leave a gap"
            intervals.append(Interval(len(intervals), begin - cursor, 0.0))
        length = timedelta(0) if end is None else end - begin
        intervals.append(Interval(len(intervals), length, value))
        if begin <= now and (end is None or now < end):
            current = value
        if end is None:
            break
        cursor = end
    if not intervals:
        return f"{payload_type} has no numeric values"
    if duration and cursor < start + duration and intervals[-1].duration:
        if payload_type != "SIMPLE":
            return f"{payload_type} intervals end before the event"
        intervals.append(Interval(len(intervals), start + duration - cursor, 0.0))
    return EventSignal(
        signal_name=kind.signal_name,
        signal_type=kind.signal_type,
        signal_id=payload_type,
        intervals=tuple(intervals),
        item=_item(payload_type, descriptors),
        current_value=current,
    )


def _value(interval: models.Interval, payload_type: str) -> float | None:
    for payload in interval.payloads:
        if payload.type != payload_type or not payload.values:
            continue
        value = payload.values[0]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None
    return None


def _item(payload_type: str, descriptors: list[dict[str, Any]]) -> ItemBase | None:
    descriptor = next((d for d in descriptors if d.get("payloadType") == payload_type), {})
    units = str(descriptor.get("units") or "").upper()
    if payload_type == "PRICE":
        currency = str(descriptor.get("currency") or "")
        element = _PRICE_ITEMS.get(units or "KWH")
        if element is None or len(currency) != 3 or not currency.isalpha():
            return None  # no unit the schema can say: the price goes without one
        return ItemBase(element, OADR, currency.upper(), element, "none")
    if payload_type in ("IMPORT_CAPACITY_LIMIT", "DISPATCH_SETPOINT"):
        scale = _POWER_SCALES.get(units or "KW")
        if scale is None:
            return None
        return ItemBase("powerReal", POWER, "W", "RealPower", scale)
    return None


def _startafter(request: models.EventRequest) -> timedelta | None:
    period = request.interval_period
    shift = period.randomize_start if period is not None else None
    if shift is None:
        return None
    try:
        span = shift.as_timedelta()
    except (TimeFormatError, ValueError, OverflowError):
        return None  # calendar units: no exact 2.0b duration
    return abs(span) or None


def at_time(event: Event, now: datetime) -> Event:
    """``event`` with the status and current values of ``now``: a mapped event is kept while
    its version stands and only these change with time (rule 5: no new modificationNumber)."""
    status = _status(event.dtstart, event.duration, now, event.status is EventStatus.CANCELLED)
    signals = tuple(
        replace(signal, current_value=_current(signal, event.dtstart, now))
        for signal in event.signals
    )
    if status is event.status and signals == event.signals:
        return event
    return replace(event, status=status, signals=signals)


def next_change(event: Event, now: datetime) -> float | None:
    """When :func:`at_time` next gives another status or current value (POSIX seconds);
    ``None``: never (cancelled, or open-ended and past its last interval start)."""
    if event.status is EventStatus.CANCELLED:
        return None
    moments = [event.dtstart]
    if event.duration:
        moments.append(event.dtstart + event.duration)
    for signal in event.signals:
        cursor = event.dtstart
        for interval in signal.intervals:
            cursor += interval.duration
            moments.append(cursor)
    later = [m for m in moments if m > now]
    return min(later).timestamp() if later else None


def _current(signal: EventSignal, start: datetime, now: datetime) -> float:
    cursor = start
    for interval in signal.intervals:
        if now < cursor:
            break
        if not interval.duration or now < cursor + interval.duration:
            return interval.value
        cursor += interval.duration
    return 0.0


def _status(start: datetime, duration: timedelta, now: datetime, cancelled: bool) -> EventStatus:
    if cancelled:
        return EventStatus.CANCELLED
    if now < start:
        return EventStatus.FAR
    if duration and now >= start + duration:
        return EventStatus.COMPLETED
    return EventStatus.ACTIVE


def utc_now(clock_value: float) -> datetime:
    return datetime.fromtimestamp(clock_value, tz=UTC)
