"""The internal signal timeline: what every VTN adapter produces and the control core consumes.

A VTN adapter (the OpenADR 3 client, later a 2.0b adapter) turns events into
:class:`SignalInterval` values and collects them in a :class:`SignalTimeline`. The planner reads
prices and limits from the timeline; nothing downstream sees OpenADR wire objects.

Contract (what producers must give and consumers may rely on):

* Times are timezone-aware :class:`datetime.datetime` values; an interval covers the half-open
  range ``[start, end)`` with ``end > start``. Adapters resolve OpenADR's relative forms
  ("now", ``P9999Y``, ``randomizeStart``, the event's default ``intervalPeriod``) before building
  an interval; an open-ended interval gets a far-future ``end``.
* ``kind`` is the OpenADR payload type verbatim (``"PRICE"``, ``"GHG"``, ``"SIMPLE"``,
  ``"IMPORT_CAPACITY_LIMIT"``, ``"ALERT_GRID_EMERGENCY"``, ``"CTA2045_REBOOT"``, …).
* ``values`` is the payload's ``values`` array, unchanged. For the unitary payload types in
  :data:`SUB_INTERVAL_KINDS` several values are packed sub-intervals: the interval is divided into
  ``len(values)`` equal parts, one value each (OpenADR 3.1.0 User Guide, "multi-valued payloads").
  :meth:`SignalInterval.value_at` and :meth:`SignalInterval.sub_intervals` apply that rule; for
  other kinds (``POINT`` and friends) the values belong together and ``value_at`` returns the first.
* Intervals of one kind may overlap when they come from different events. The one with the
  highest priority wins: a lower ``priority`` number is a higher priority, ``0`` is the highest
  and ``None`` (no priority given) ranks below every number (OpenADR 3.1.0 User Guide §7.1;
  ``event.priority`` in the 3.1.0 schema). OpenADR leaves equal priorities unspecified; here the
  interval that starts later wins (the newer instruction), then the larger ``event_id``, so the
  result never depends on the order in which events arrived.
* A timeline holds its intervals sorted by ``(start, end, kind, event_id)``; it never merges or
  drops intervals, so reports can still name the event behind every value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

Value = float | int | str | bool

#: Payload types whose multiple values are equal-length sub-intervals of the interval
#: (OpenADR 3.1.0 User Guide, "multi-valued payloads": PRICE, EXPORT_PRICE and GHG).
SUB_INTERVAL_KINDS: frozenset[str] = frozenset({"PRICE", "EXPORT_PRICE", "GHG"})

#: datetime's resolution: the shortest sub-interval a packed value may have.
_RESOLUTION = timedelta(microseconds=1)


def _require_aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class SignalInterval:
    """One payload of one event interval, covering ``[start, end)``.

    ``priority`` is the event's priority (lower number = higher priority; ``None`` = lowest).
    ``event_id``/``program_id`` are the VTN's object ids and ``event_name`` the event's optional
    name; they let reports and the status page say where a value came from.
    """

    start: datetime
    end: datetime
    kind: str
    values: tuple[Value, ...]
    priority: int | None = None
    event_id: str = ""
    program_id: str = ""
    event_name: str | None = None
    #: The unit the event's payload descriptor gives for this payload type, with its currency
    #: when it has one (a PRICE in ``"USD/KWH"``); None when the event does not say.
    unit: str | None = None

    def __post_init__(self) -> None:
        _require_aware("start", self.start)
        _require_aware("end", self.end)
        if self.end <= self.start:
            raise ValueError(
                f"interval end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        if not self.kind:
            raise ValueError("kind must be a non-empty payload type")
        if not self.values:
            raise ValueError(f"{self.kind} interval from {self.start.isoformat()} has no values")
        if self.is_packed and self.duration < _RESOLUTION * len(self.values):
            # Each packed value needs a sub-interval of at least the clock's resolution, or
            # the sub-interval arithmetic (duration / n) divides by zero.
            raise ValueError(
                f"{self.kind} interval from {self.start.isoformat()} is too short for "
                f"{len(self.values)} sub-intervals"
            )
        if self.priority is not None and (
            isinstance(self.priority, bool) or not isinstance(self.priority, int)
        ):
            raise TypeError(f"priority must be an int or None, got {self.priority!r}")
        if self.priority is not None and self.priority < 0:
            raise ValueError(f"priority must be >= 0, got {self.priority}")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    @property
    def is_packed(self) -> bool:
        """True when ``values`` are sub-intervals (a unitary kind with several values)."""
        return self.kind in SUB_INTERVAL_KINDS and len(self.values) > 1

    def contains(self, t: datetime) -> bool:
        """Whether ``t`` lies in ``[start, end)``."""
        return self.start <= t < self.end

    def _sub_bounds(self, index: int) -> tuple[datetime, datetime]:
        n = len(self.values)
        step = self.duration / n
        start = self.start + step * index
        end = self.end if index == n - 1 else self.start + step * (index + 1)
        return start, end

    def sub_intervals(self) -> tuple[SignalInterval, ...]:
        """The interval split into one single-value interval per packed value (or itself)."""
        if not self.is_packed:
            return (self,)
        parts = []
        for i, value in enumerate(self.values):
            start, end = self._sub_bounds(i)
            parts.append(
                SignalInterval(
                    start,
                    end,
                    self.kind,
                    (value,),
                    self.priority,
                    self.event_id,
                    self.program_id,
                    self.event_name,
                    self.unit,
                )
            )
        return tuple(parts)

    def value_at(self, t: datetime) -> Value:
        """The value in force at ``t`` (which must lie in the interval); sub-interval aware."""
        if not self.contains(t):
            raise ValueError(f"{t.isoformat()} is outside [{self.start}, {self.end})")
        if not self.is_packed:
            return self.values[0]
        n = len(self.values)
        index = min(int((t - self.start) / (self.duration / n)), n - 1)
        # Guard against rounding in the timedelta division at a sub-interval boundary.
        while index > 0 and t < self._sub_bounds(index)[0]:
            index -= 1
        while index < n - 1 and t >= self._sub_bounds(index)[1]:
            index += 1
        return self.values[index]

    def boundaries(self) -> tuple[datetime, ...]:
        """Every instant at which this interval's value may change, in order."""
        if not self.is_packed:
            return (self.start, self.end)
        return (*(self._sub_bounds(i)[0] for i in range(len(self.values))), self.end)


def winner(candidates: tuple[SignalInterval, ...]) -> SignalInterval | None:
    """The interval that takes effect among overlapping ``candidates`` of one kind.

    Highest priority first (lowest number; ``None`` last); among equals the later start, then
    the larger ``event_id`` (see the module docstring).
    """
    if not candidates:
        return None
    newest_first = sorted(candidates, key=lambda i: (i.start, i.event_id), reverse=True)
    # min() keeps the first of equal keys, i.e. the newest among equal priorities.
    return min(
        newest_first,
        key=lambda i: (i.priority is None, 0 if i.priority is None else i.priority),
    )


@dataclass(frozen=True, slots=True)
class SignalTimeline:
    """An immutable, sorted collection of :class:`SignalInterval` (possibly overlapping)."""

    intervals: tuple[SignalInterval, ...] = field(default=())

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.intervals, key=lambda i: (i.start, i.end, i.kind, i.event_id)))
        object.__setattr__(self, "intervals", ordered)

    def __len__(self) -> int:
        return len(self.intervals)

    def kinds(self) -> frozenset[str]:
        """The payload types present."""
        return frozenset(i.kind for i in self.intervals)

    def of_kind(self, kind: str) -> SignalTimeline:
        """Only the intervals of payload type ``kind``."""
        return SignalTimeline(tuple(i for i in self.intervals if i.kind == kind))

    def without_event(self, event_id: str) -> SignalTimeline:
        """The timeline with every interval of ``event_id`` removed (event deleted or ended)."""
        return SignalTimeline(tuple(i for i in self.intervals if i.event_id != event_id))

    def with_event(self, event_id: str, intervals: tuple[SignalInterval, ...]) -> SignalTimeline:
        """The timeline with ``event_id``'s intervals replaced by ``intervals`` (event created or
        updated). Every new interval must carry ``event_id``."""
        for interval in intervals:
            if interval.event_id != event_id:
                raise ValueError(
                    f"interval of event {interval.event_id!r} given as part of {event_id!r}"
                )
        return SignalTimeline(self.without_event(event_id).intervals + intervals)

    def window(self, start: datetime, end: datetime) -> SignalTimeline:
        """Only the intervals that overlap ``[start, end)`` (not clipped)."""
        return SignalTimeline(tuple(i for i in self.intervals if i.start < end and i.end > start))

    def active_at(self, t: datetime) -> tuple[SignalInterval, ...]:
        """Every interval (any kind, any priority) whose ``[start, end)`` contains ``t``."""
        _require_aware("t", t)
        return tuple(i for i in self.intervals if i.contains(t))

    def winner_at(self, kind: str, t: datetime) -> SignalInterval | None:
        """The interval of ``kind`` in force at ``t`` after priority resolution, if any."""
        return winner(tuple(i for i in self.active_at(t) if i.kind == kind))

    def value_at(self, kind: str, t: datetime) -> Value | None:
        """The value of ``kind`` in force at ``t`` (priority and sub-interval aware), or None."""
        chosen = self.winner_at(kind, t)
        return None if chosen is None else chosen.value_at(t)

    def next_change_after(self, t: datetime) -> datetime | None:
        """The first instant strictly after ``t`` at which any interval or sub-interval starts
        or ends (so the value of some kind may change), or None when nothing changes later."""
        _require_aware("t", t)
        best: datetime | None = None
        for interval in self.intervals:
            if interval.end <= t:
                continue
            for b in interval.boundaries():
                if b > t and (best is None or b < best):
                    best = b
                    break
        return best

    def span(self) -> tuple[datetime, datetime] | None:
        """``(earliest start, latest end)`` or None for an empty timeline."""
        if not self.intervals:
            return None
        return self.intervals[0].start, max(i.end for i in self.intervals)
