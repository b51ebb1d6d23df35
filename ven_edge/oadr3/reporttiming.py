"""When a reportDescriptor wants reports, and which intervals each report covers (sans-I/O).

The 3.1.0 YAML ``reportDescriptor`` and User Guide 3.1.0 §7.5 define the timing fields; this
module reads them as follows (indices count the event's intervals from 0, across loops when
``event.duration`` repeats them):

* ``numIntervals`` N: intervals per report; -1 = all intervals of the event (one loop).
* ``startInterval`` S: the interval on which the first report is generated; -1 = the last
  interval when historical, the first when a forecast.
* ``frequency`` F: intervals between reports; -1 = same as N; 0 = ad hoc (the VEN chooses,
  handled by the scheduler's cadence, not here).
* ``repeat`` R: number of reports; -1 = indefinitely (bounded by the event's intervals).
* ``historical``: report k is generated at the END of interval G = S + k*F and covers the N
  intervals up to and including G ("intervals preceding startInterval"); a forecast
  (``historical = false``) is generated at the START of interval G and covers G .. G+N-1.

This reproduces the UG §7.5 examples: the defaults give one report after the last interval
covering all intervals; S=1, N=2, F=2, R=3 gives reports after intervals 1, 3 and 5 covering
{0,1}, {2,3}, {4,5}; S=0, N=3, F=1, R=3, forecast gives rolling reports {0-2}, {1-3}, {2-4}.

An event without intervals but with an event-level ``intervalPeriod`` of non-zero duration has
"implied" intervals (UG §7.5 'report-only' event with implied intervals, example 8.7-1): interval
k starts at ``start + k*duration`` and has id k.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ven_edge.oadr3.eventparse import Event, ReportDescriptor, add_duration, is_zero
from ven_edge.oadr3.timeline import DEFAULT_HORIZON, MAX_UNROLLED_SPANS, event_spans

#: YAML ``reportDescriptor`` sentinels (3.1.0 and 3.0.1 share them).
LAST_INTERVAL = -1  # startInterval: "generate report at end of last interval"
ALL_INTERVALS = -1  # numIntervals: "all intervals are to be included"
SAME_AS_NUM_INTERVALS = -1  # frequency: "same as numIntervals"
AD_HOC = 0  # frequency: the VEN reports whenever it chooses (UG §7.5 "Ad hoc report")
REPEAT_FOREVER = -1  # repeat: "repeat indefinitely"


@dataclass(frozen=True)
class ReportSpan:
    """One event interval as a report refers to it: the event's interval id and period."""

    id: int
    start: datetime
    end: datetime | None  # None: open-ended (P9999Y), never over


@dataclass(frozen=True)
class ReportWindow:
    """Report number ``index`` (from 0) of one descriptor: when it is due and what it covers."""

    index: int
    due_at: datetime
    spans: tuple[ReportSpan, ...]
    historical: bool


@dataclass(frozen=True)
class EventIntervals:
    """The spans reports may cover, and how many make up one pass of the event (a "loop")."""

    spans: tuple[ReportSpan, ...]
    per_loop: int


def report_intervals(
    event: Event, first_seen: datetime, now: datetime, horizon: timedelta = DEFAULT_HORIZON
) -> EventIntervals:
    """The event's intervals for reporting (explicit, looped or implied)."""
    horizon_end = now + horizon
    if event.intervals:
        spans = tuple(
            ReportSpan(interval.id, start, end)
            for start, end, interval in event_spans(event, first_seen, horizon_end)
        )
        return EventIntervals(spans, max(1, len(event.intervals)))
    return _implied_intervals(event, first_seen, horizon_end)


def _implied_intervals(event: Event, first_seen: datetime, horizon_end: datetime) -> EventIntervals:
    period = event.period
    if period is None or period.duration is None or is_zero(period.duration):
        return EventIntervals((), 0)  # VEN-determined intervals: ad hoc
    start = period.start or first_seen
    event_end = add_duration(start, event.duration) if event.has_duration else None
    limit = min(event_end, horizon_end) if event_end is not None else horizon_end
    spans: list[ReportSpan] = []
    cursor: datetime | None = start
    while cursor is not None and cursor < limit and len(spans) < MAX_UNROLLED_SPANS:
        end = add_duration(cursor, period.duration)
        spans.append(ReportSpan(len(spans), cursor, end))
        cursor = end
    # All implied intervals within a bounded event form one loop; an unbounded event has no
    # "all intervals", so -1 then means one interval.
    return EventIntervals(tuple(spans), len(spans) if event_end is not None else 1)


def is_ad_hoc(descriptor: ReportDescriptor, intervals: EventIntervals) -> bool:
    """Reports the VEN times itself: frequency 0, or no intervals to time them by."""
    return descriptor.frequency == AD_HOC or not intervals.spans


def report_window(
    descriptor: ReportDescriptor, intervals: EventIntervals, index: int
) -> ReportWindow | None:
    """Report ``index`` of ``descriptor``; None when there is no such report."""
    repeat = descriptor.repeat if descriptor.repeat == REPEAT_FOREVER else max(1, descriptor.repeat)
    if index < 0 or (repeat != REPEAT_FOREVER and index >= repeat):
        return None
    spans = intervals.spans
    count = descriptor.num_intervals if descriptor.num_intervals > 0 else intervals.per_loop
    step = descriptor.frequency if descriptor.frequency > 0 else count
    first = descriptor.start_interval
    if first < 0:
        first = intervals.per_loop - 1 if descriptor.historical else 0
    at = first + index * step
    if not spans or at >= len(spans):
        return None
    if descriptor.historical:
        due = spans[at].end
        if due is None:
            return None  # an open-ended interval never ends, so its report is never due
        covered = spans[max(0, at - count + 1) : at + 1]
    else:
        due = spans[at].start
        covered = spans[at : at + count]
    return ReportWindow(index, due, covered, descriptor.historical)
