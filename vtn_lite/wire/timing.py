"""When an event starts and ends (User Guide §7.3, §7.4, §7.9).

Sans-I/O: callers pass ``now``. The event-level ``intervalPeriod`` is the default for every
interval; an interval's own period overrides it. ``duration`` on the event (3.1, #271) sets the
span explicitly (``P9999Y`` repeats the intervals indefinitely).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ven_edge.oadr3.spans import follow_on_spans
from ven_edge.oadr3.timefmt import ZERO_DURATION, IsoDuration, is_now
from vtn_lite.wire.models import EventRequest, IntervalPeriod


@dataclass(frozen=True, slots=True)
class EventSpan:
    """Absolute span of an event; ``end is None`` means it never ends."""

    start: datetime
    end: datetime | None

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment and (self.end is None or moment < self.end)

    def is_over(self, moment: datetime) -> bool:
        return self.end is not None and self.end <= moment


def _period_duration(period: IntervalPeriod | None, default: IsoDuration) -> IsoDuration:
    if period is not None and period.duration is not None:
        return period.duration
    return default


def _own_start(period: IntervalPeriod | None) -> datetime | None:
    """An interval's own start; None when it follows on ("now" on an interval means that)."""
    if period is None or period.start is None or is_now(period.start):
        return None
    return period.start


def event_span(event: EventRequest, now: datetime) -> EventSpan | None:
    """The event's span resolved against ``now`` ("now" starts become ``now``).

    ``None`` when the event carries no start anywhere (a report-only event with no timing).
    A cancelled event in the User Guide §7.9 form (start "now", duration ``PT0S``) yields an
    empty span at ``now``, which is over.
    """
    default_period = event.interval_period
    default_duration = _period_duration(default_period, ZERO_DURATION)
    start: datetime | None = default_period.start if default_period else None
    intervals = event.intervals or []
    if start is None and intervals and intervals[0].interval_period is not None:
        start = intervals[0].interval_period.start
    if start is None:
        return None
    if is_now(start):
        start = now
    if event.duration is not None:
        return EventSpan(start, event.duration.end_from(start))
    if not intervals:
        return EventSpan(start, default_duration.end_from(start))
    periods = [
        (
            _own_start(interval.interval_period),
            _period_duration(interval.interval_period, default_duration),
        )
        for interval in intervals
    ]
    ends = [end for _, end in follow_on_spans(start, periods)]
    if any(end is None for end in ends):
        return EventSpan(start, None)
    return EventSpan(start, max([start, *(end for end in ends if end is not None)]))
