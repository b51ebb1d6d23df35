"""OpenADR 3 events → the internal :class:`~ven_edge.signals.SignalTimeline` (sans-I/O).

:class:`TimelineBuilder` resolves everything relative in an event into absolute intervals
(User Guide 3.1.0 §7.3, §7.4, docs/openadr3.md §5):

* "now" starts (``0001-01-01`` and friends): the first interval starts at the event's start, or
  at the moment this event revision was first seen; later intervals follow on.
* ``P9999Y`` durations are open-ended (a far-future end, as :mod:`ven_edge.signals` asks).
* ``randomizeStart``: one uniform draw in ``[-r, +r]`` per event, kept across polls (and across
  restarts via :meth:`TimelineBuilder.export_state`), so the heater does not jump every poll.
* ``event.duration`` (3.1, changelog #271) repeats or truncates the interval set.
* Cancellation: an event that is no longer listed, or one whose intervalPeriod is set to start
  "now" with duration ``PT0S`` (UG §7.9), contributes nothing.
* Modification: a new ``modificationDateTime`` is a new revision; "now" is re-anchored.

Priorities and multi-value prices are the timeline's business (:func:`ven_edge.signals.winner`,
:data:`ven_edge.signals.SUB_INTERVAL_KINDS`): intervals carry the event's priority and the values
unchanged.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ven_edge.oadr3.errors import PayloadError
from ven_edge.oadr3.eventparse import Event, Interval, Period, add_duration, is_zero
from ven_edge.oadr3.spans import follow_on_spans
from ven_edge.oadr3.timefmt import ZERO_DURATION, IsoDuration, shift
from ven_edge.signals import SignalInterval, SignalTimeline

LOG = logging.getLogger(__name__)

#: The end given to open-ended intervals (``P9999Y``), per the signals.py contract.
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)

#: Payload types handed to the control core unchanged (docs/openadr3.md §6).
PASS_THROUGH_KINDS: frozenset[str] = frozenset({"PRICE", "GHG", "SIMPLE", "IMPORT_CAPACITY_LIMIT"})
PASS_THROUGH_PREFIXES: tuple[str, ...] = ("ALERT_", "CTA2045_")

#: A zero-length interval of a command-like payload (e.g. CTA2045_REBOOT) is an instantaneous
#: instruction (3.0.1 YAML: "PT0S indicates instantaneous or infinity, depending on payloadType");
#: the timeline needs ``end > start``, so it is shown for this long.
INSTANT_SPAN = timedelta(minutes=1)

#: How far ahead a repeating (``event.duration``) event is unrolled; the planner looks 24-48 h out.
DEFAULT_HORIZON = timedelta(days=8)

#: Bound on the intervals one repeating event may unroll to (PT1M intervals over eight days are
#: 11 520); keeps a hostile or mistaken event from exhausting a small gateway's memory.
MAX_UNROLLED_SPANS = 20_000


def is_pass_through(kind: str) -> bool:
    return kind in PASS_THROUGH_KINDS or kind.startswith(PASS_THROUGH_PREFIXES)


@dataclass(frozen=True)
class EventAnchor:
    """What must stay fixed for one event across polls: when "now" was, and the random shift."""

    revision: str
    first_seen: datetime
    randomize: timedelta
    offset: timedelta

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "first_seen": self.first_seen.isoformat(),
            "randomize_s": self.randomize.total_seconds(),
            "offset_s": self.offset.total_seconds(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EventAnchor:
        return cls(
            str(data["revision"]),
            datetime.fromisoformat(str(data["first_seen"])),
            timedelta(seconds=float(data["randomize_s"])),
            timedelta(seconds=float(data["offset_s"])),
        )


def is_cancelled(event: Event) -> bool:
    """UG §7.9: a BL may cancel by setting start "now" and duration PT0S instead of deleting."""
    period = event.period
    by_period = (
        period is not None
        and period.has_start
        and period.start is None
        and period.has_duration
        and is_zero(period.duration)
    )
    by_duration = event.has_duration and is_zero(event.duration)
    return by_period or by_duration


class TimelineBuilder:
    """Turns the current set of events into a :class:`SignalTimeline`, remembering anchors."""

    def __init__(
        self,
        rand: Callable[[], float] = random.random,
        horizon: timedelta = DEFAULT_HORIZON,
    ) -> None:
        self._rand = rand
        self.horizon = horizon
        self._anchors: dict[str, EventAnchor] = {}
        self._ignored_kinds: set[str] = set()
        self._unplaceable: set[tuple[str, str]] = set()  # (event id, revision) already logged
        # Each event's intervals as last built, reused while the event and its anchor are the
        # same: a pushed event then costs its own intervals, not every event's again.
        self._built: dict[str, tuple[Event, EventAnchor | None, tuple[SignalInterval, ...]]] = {}

    # -- persistence of anchors (so a restart keeps the same randomized start) --------------
    def export_state(self) -> dict[str, Any]:
        return {event_id: anchor.to_json() for event_id, anchor in self._anchors.items()}

    def restore_state(self, document: Mapping[str, Any]) -> None:
        for event_id, data in document.items():
            try:
                self._anchors[str(event_id)] = EventAnchor.from_json(data)
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                LOG.warning("ignoring unreadable timeline anchor for event %s: %s", event_id, exc)

    def first_seen(self, event_id: str) -> datetime | None:
        """When the current revision of the event was first seen (its "now"), if known."""
        anchor = self._anchors.get(event_id)
        return anchor.first_seen if anchor is not None else None

    def anchor(self, event: Event, now: datetime) -> EventAnchor:
        """The anchor of ``event``, created on first sight or on a new revision."""
        randomize = _randomize_of(event)
        old = self._anchors.get(event.id)
        if old is not None and old.revision == event.revision:
            return old
        if old is not None and old.randomize == randomize:
            offset = old.offset  # a modification must not re-roll the dice (stable start)
        else:
            offset = (2.0 * self._rand() - 1.0) * randomize
        anchor = EventAnchor(event.revision, now, randomize, offset)
        self._anchors[event.id] = anchor
        return anchor

    # -- conversion ------------------------------------------------------------------------
    def build(self, events: Iterable[Event], now: datetime) -> SignalTimeline:
        """The timeline for exactly these events (absent ones are cancelled and forgotten).

        An event that cannot be placed on the timeline contributes nothing (logged once per
        revision); the others are unaffected.
        """
        intervals: list[SignalInterval] = []
        seen: set[str] = set()
        horizon_end = now + self.horizon
        for event in events:
            seen.add(event.id)
            built = self._built.get(event.id)
            anchor = self._anchors.get(event.id)
            if built is not None and built[1] is anchor and built[0] == event:
                intervals.extend(built[2])
                continue
            try:
                out = self.checked_intervals(event, now)
            except PayloadError as exc:
                key = (event.id, event.revision)
                if key not in self._unplaceable:
                    LOG.error("event %r left out of the timeline: %s", event.id, exc.reason)
                self._unplaceable.add(key)
                self._built.pop(event.id, None)
                continue
            # Reusable only if the horizon did not shape it (nothing reaches the horizon's end:
            # a later "now" only moves the horizon further out).
            if all(i.end < horizon_end for i in out):
                self._built[event.id] = (event, self._anchors.get(event.id), out)
            else:
                self._built.pop(event.id, None)
            intervals.extend(out)
        for gone in set(self._anchors) - seen:
            del self._anchors[gone]
        for gone in set(self._built) - seen:
            del self._built[gone]
        self._unplaceable = {key for key in self._unplaceable if key[0] in seen}
        return SignalTimeline(tuple(intervals))

    def checked_intervals(self, event: Event, now: datetime) -> tuple[SignalInterval, ...]:
        """:meth:`intervals_for`, any failure reported as a :class:`PayloadError` of the event.

        Parsing bounds every value, so nothing is expected to fail here; this keeps a defect
        that slipped through to the one event that carries it.
        """
        try:
            return self.intervals_for(event, now)
        except Exception as exc:  # one event's defect must never escape
            reason = f"cannot be placed on the timeline ({type(exc).__name__}: {exc})"
            raise PayloadError("", reason, event.id) from None

    def intervals_for(self, event: Event, now: datetime) -> tuple[SignalInterval, ...]:
        if is_cancelled(event):
            return ()
        anchor = self.anchor(event, now)
        spans = _interval_spans(event, anchor.first_seen)
        spans = _apply_event_duration(event, spans, now + self.horizon)
        out: list[SignalInterval] = []
        for start, end, interval in spans:
            moved = shift(start, anchor.offset)
            if moved is None:
                continue  # beyond the end of time
            out.extend(self._signals(event, interval, moved, _shift_end(end, anchor.offset)))
        return tuple(out)

    def _signals(
        self, event: Event, interval: Interval, start: datetime, end: datetime | None
    ) -> Iterable[SignalInterval]:
        for payload in interval.payloads:
            if not is_pass_through(payload.type):
                if payload.type not in self._ignored_kinds:
                    self._ignored_kinds.add(payload.type)
                    LOG.info("ignoring payload type %s (event %s)", payload.type, event.id)
                continue
            if not payload.values or start >= FAR_FUTURE:
                continue  # report-only intervals carry empty payloads (UG §7.6)
            stop = end
            if stop is not None and stop <= start:
                # Zero length: alerts last until the event ends, commands are instantaneous.
                stop = None if payload.type.startswith("ALERT_") else start + INSTANT_SPAN
            yield SignalInterval(
                start=start,
                end=min(stop, FAR_FUTURE) if stop is not None else FAR_FUTURE,
                kind=payload.type,
                values=payload.values,
                priority=event.priority,
                event_id=event.id,
                program_id=event.program_id,
                event_name=event.name,
                unit=payload_unit(event, payload.type),
            )


Span = tuple[datetime, datetime | None, Interval]


def _shift_end(end: datetime | None, offset: timedelta) -> datetime | None:
    """An end moved by ``offset``; ``None`` (open-ended) stays so, as does an end pushed past
    the datetime range."""
    return None if end is None else shift(end, offset)


def _randomize_of(event: Event) -> timedelta:
    first = event.intervals[0].period if event.intervals else None
    if first is not None and first.randomize_start:
        return first.randomize_start
    return event.period.randomize_start if event.period is not None else timedelta(0)


def _interval_spans(event: Event, first_seen: datetime) -> list[Span]:
    """Absolute ``(start, end or None for open-ended, interval)`` before randomization."""
    default = event.period
    # UG §7.3: a "now" first interval starts at the event start if any, else now.
    first_start = default.start if default is not None and default.start else first_seen

    def duration(own: Period | None) -> IsoDuration | None:
        if own is not None and own.has_duration:
            return own.duration
        if default is not None and default.has_duration:
            return default.duration
        return ZERO_DURATION

    periods = [
        (interval.period.start if interval.period is not None else None, duration(interval.period))
        for interval in event.intervals
    ]
    # The walk stops after an open-ended interval (nothing can follow it): zip to its length.
    spans = follow_on_spans(first_start, periods)
    return [
        (start, end, interval)
        for (start, end), interval in zip(spans, event.intervals, strict=False)
    ]


def _apply_event_duration(event: Event, spans: list[Span], horizon_end: datetime) -> list[Span]:
    """3.1 ``event.duration``: repeat the interval set to fill it, or truncate to it."""
    if not event.has_duration or not spans:
        return spans
    first = min(s[0] for s in spans)
    span_end = add_duration(first, event.duration)
    ends = [s[1] for s in spans]
    out = list(spans)
    if all(e is not None for e in ends):
        period = max(e for e in ends if e is not None) - first
        if period > timedelta(0):
            limit = min(span_end, horizon_end) if span_end is not None else horizon_end
            offset = period
            while len(out) < MAX_UNROLLED_SPANS:
                repeat_start = shift(first, offset)
                if repeat_start is None or repeat_start >= limit:
                    break
                for s, e, iv in spans:
                    moved = shift(s, offset)
                    if moved is not None:
                        out.append((moved, _shift_end(e, offset), iv))
                offset += period  # stays below limit - first + period: no overflow
    if span_end is None:
        return out
    clipped: list[Span] = []
    for start, end, interval in out:
        if start >= span_end:
            continue
        clipped.append((start, span_end if end is None or end > span_end else end, interval))
    return clipped


def event_spans(event: Event, first_seen: datetime, horizon_end: datetime) -> list[Span]:
    """The event's absolute interval spans as published (no randomization), repeated or cut by
    ``event.duration``; reports refer to these (UG §7.5: "identical IDs, start times, and
    durations" as the event, example 8.3)."""
    if is_cancelled(event):
        return []
    return _apply_event_duration(event, _interval_spans(event, first_seen), horizon_end)


def payload_unit(event: Event, kind: str) -> str | None:
    """The unit of ``kind``'s values from the event's payload descriptors: the currency over
    the unit for a price (OpenADR 3.1.0 EventPayloadDescriptor: ``currency`` and ``units``,
    e.g. USD and KWH), the unit alone otherwise; None when no descriptor names one."""
    for descriptor in event.payload_descriptors:
        if descriptor.payload_type != kind:
            continue
        if descriptor.currency and descriptor.units:
            return f"{descriptor.currency}/{descriptor.units}"
        return descriptor.units or descriptor.currency
    return None
