"""Typed OpenADR 2.0b events (ei:eiEvent), shared by the VEN engine and the VTN face.

Values only: parsing and writing live in :mod:`ven_edge.oadr2b.distribute`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class EventStatus(StrEnum):
    """ei:eventStatus (rule 13)."""

    NONE = "none"
    FAR = "far"
    NEAR = "near"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ResponseRequired(StrEnum):
    """oadr:oadrResponseRequired (rule 62)."""

    ALWAYS = "always"
    NEVER = "never"


class Opt(StrEnum):
    OPT_IN = "optIn"
    OPT_OUT = "optOut"


@dataclass(frozen=True, slots=True)
class ItemBase:
    """The unit of a signal (emix itemBase substitution group), e.g. ``powerReal`` in ``W``."""

    element: str  # local name: powerReal, currency, customUnit, energyReal, ...
    namespace: str
    units: str
    description: str = ""
    scale: str | None = None


@dataclass(frozen=True, slots=True)
class Interval:
    """One ei:interval of a signal; intervals follow each other from the event's start."""

    uid: int
    duration: timedelta
    value: float


@dataclass(frozen=True, slots=True)
class EventSignal:
    signal_name: str
    signal_type: str
    signal_id: str
    intervals: tuple[Interval, ...]
    item: ItemBase | None = None
    current_value: float | None = None


@dataclass(frozen=True, slots=True)
class Targets:
    """ei:eiTarget; criteria are OR'ed and an empty target means "the recipient" (rule 22)."""

    ven_ids: tuple[str, ...] = ()
    resource_ids: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()
    group_names: tuple[str, ...] = ()
    party_ids: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (
            self.ven_ids
            or self.resource_ids
            or self.group_ids
            or self.group_names
            or self.party_ids
        )

    def includes_ven(self, ven_id: str) -> bool:
        """True when the event is for ``ven_id``: empty target, or the venID among the criteria.

        Group, resource and party criteria address devices this VEN represents as well (the
        gateway is one resource), so their presence alone also includes it.
        """
        if self.is_empty or ven_id in self.ven_ids:
            return True
        return bool(self.resource_ids or self.group_ids or self.group_names or self.party_ids)


@dataclass(frozen=True, slots=True)
class Event:
    event_id: str
    modification_number: int
    status: EventStatus
    dtstart: datetime
    duration: timedelta  # zero: open-ended until cancelled (rule 47)
    signals: tuple[EventSignal, ...]
    market_context: str = "oadr://unknown.context"
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    priority: int = 0
    test_event: bool = False
    startafter: timedelta | None = None
    ramp_up: timedelta | None = None
    recovery: timedelta | None = None
    notification: timedelta | None = None
    targets: Targets = Targets()
    response_required: ResponseRequired = ResponseRequired.ALWAYS
    modification_reason: str | None = None
    vtn_comment: str | None = None


@dataclass(frozen=True, slots=True)
class BadEvent:
    """An event of a distribute that could not be read; answered per event (rule 19)."""

    event_id: str | None
    modification_number: int | None
    code: int
    reason: str
    response_required: ResponseRequired = ResponseRequired.ALWAYS


@dataclass(frozen=True, slots=True)
class DistributeEvent:
    """oadr:oadrDistributeEvent: all far, near and active events for the VEN (rule 50)."""

    request_id: str
    vtn_id: str
    events: tuple[Event, ...]
    bad_events: tuple[BadEvent, ...] = ()
