"""Typed 2.0b events to build test messages from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ven_edge.oadr2b.events import (
    DistributeEvent,
    Event,
    EventSignal,
    EventStatus,
    Interval,
    ItemBase,
    Targets,
)
from ven_edge.oadr2b.ns import POWER

START = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)


def simple_event(
    level: float = 1.0,
    *,
    event_id: str = "ev-1",
    modification: int = 0,
    status: EventStatus = EventStatus.FAR,
    start: datetime = START,
    duration: timedelta = timedelta(hours=1),
    startafter: timedelta | None = None,
    ven_id: str = "VEN_WH_1",
) -> Event:
    return Event(
        event_id=event_id,
        modification_number=modification,
        status=status,
        dtstart=start,
        duration=duration,
        signals=(EventSignal("SIMPLE", "level", "sig-0", (Interval(0, duration, level),)),),
        created=START - timedelta(days=1),
        startafter=startafter,
        targets=Targets(ven_ids=(ven_id,)),
    )


def dispatch_event() -> Event:
    return Event(
        event_id="ev-2",
        modification_number=3,
        status=EventStatus.ACTIVE,
        dtstart=START,
        duration=timedelta(hours=2),
        signals=(
            EventSignal(
                "LOAD_DISPATCH",
                "setpoint",
                "sig-1",
                (Interval(0, timedelta(hours=1), 1.5), Interval(1, timedelta(hours=1), 0.0)),
                ItemBase("powerReal", POWER, "W", "RealPower", "k"),
                current_value=1.5,
            ),
        ),
        created=START - timedelta(days=1),
        startafter=timedelta(minutes=10),
        ramp_up=timedelta(minutes=15),
        recovery=timedelta(minutes=-5),
        notification=timedelta(hours=1),
        targets=Targets(ven_ids=("VEN_WH_1",), group_ids=("north",)),
        modification_reason="moved",
        vtn_comment="winter peak",
    )


def distribute(*events: Event, request_id: str = "req-1") -> DistributeEvent:
    return DistributeEvent(request_id, "UTILITY_VTN", events)
