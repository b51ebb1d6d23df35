"""Report scheduling: which reports fall due, and the body answering each due report.

The report bodies themselves are :mod:`.reportbodies`; the outbox is :mod:`.outbox`. When
reports fall due and which event intervals they cover is :mod:`ven_edge.oadr3.reporttiming`; the
values over past intervals come from a :class:`~ven_edge.oadr3.readinglog.ReadingLog`.

Exactly once: every report gets a deterministic ``reportName`` (client, event, payload type,
sequence), which :class:`~ven_edge.oadr3.outbox.ReportOutbox` uses to deliver it once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from ven_edge.oadr3.eventparse import Event, ReportDescriptor
from ven_edge.oadr3.planning import (
    PLANNING_INPUTS,
    PLANNING_MARKER,
    PLANNING_PAYLOADS,
    PlanningInputs,
    is_planning_request,
    planning_report,
)
from ven_edge.oadr3.readinglog import ReadingLog
from ven_edge.oadr3.readings import DeviceReadings
from ven_edge.oadr3.reportbodies import (
    AGGREGATED_REPORT,
    DIRECT_READ,
    FORECAST,
    MISSING,
    REPORT_UNITS,
    SUPPORTED_REPORTS,
    ReportInterval,
    build_report,
    operating_state_report,
    report_name,
    storage_charge_level_report,
    usage_report,
)
from ven_edge.oadr3.reporttiming import (
    EventIntervals,
    ReportSpan,
    ReportWindow,
    is_ad_hoc,
    report_intervals,
    report_window,
)
from ven_edge.oadr3.timeline import DEFAULT_HORIZON
from ven_edge.signals import SignalTimeline

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueReport:
    """One report to send now. ``window`` is set for interval reports (timed by the descriptor),
    None for ad hoc ones (one reading, now)."""

    event_id: str
    program_id: str
    payload_type: str
    name: str
    descriptor: ReportDescriptor | None = None
    window: ReportWindow | None = None
    descriptor_index: int = 0
    #: Ad hoc reports: the previous report of this descriptor (else the event's first sight).
    #: USAGE covers the energy from here to now, so every kWh is reported once.
    since: datetime | None = None


_Key = TypeVar("_Key", tuple[str, int], tuple[str, str])

#: Per-event schedule entries remembered after their event is gone (names stay unique if the
#: event comes back); the oldest are forgotten beyond this.
MAX_REMEMBERED_EVENTS = 1000


#: Spans a plan keeps; an event with more (a long loop of short intervals) is not planned past
#: its listing, and its reports after it stops being listed are not made.
MAX_PLANNED_SPANS = 2000


@dataclass(frozen=True)
class ReportPlan:
    """What is needed to make an event's timed reports once the VTN no longer lists it."""

    program_id: str
    intervals: EventIntervals
    descriptors: tuple[tuple[int, str, ReportDescriptor], ...]

    @property
    def ends_at(self) -> datetime:
        return max(span.end for span in self.intervals.spans if span.end is not None)

    @classmethod
    def of(
        cls,
        program_id: str,
        intervals: EventIntervals,
        descriptors: tuple[tuple[int, str, ReportDescriptor], ...],
    ) -> ReportPlan | None:
        spans = intervals.spans
        finite = bool(spans) and all(span.end is not None for span in spans)
        if not descriptors or not finite or len(spans) > MAX_PLANNED_SPANS:
            return None
        return cls(program_id, intervals, descriptors)

    def to_json(self) -> dict[str, Any]:
        return {
            "program_id": self.program_id,
            "per_loop": self.intervals.per_loop,
            "spans": [
                [s.id, s.start.isoformat(), s.end.isoformat() if s.end else None]
                for s in self.intervals.spans
            ],
            "descriptors": [[i, tag, asdict(d)] for i, tag, d in self.descriptors],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReportPlan:
        spans = tuple(
            ReportSpan(
                int(ident),
                datetime.fromisoformat(str(start)),
                datetime.fromisoformat(str(end)) if end is not None else None,
            )
            for ident, start, end in data["spans"]
        )
        descriptors = tuple(
            (int(i), str(tag), ReportDescriptor(**d)) for i, tag, d in data["descriptors"]
        )
        intervals = EventIntervals(spans, int(data["per_loop"]))
        return cls(str(data["program_id"]), intervals, descriptors)


class ReportScheduler:
    """Decides which reports are due (sans-I/O; time passed in).

    For every known event, each reportDescriptor of a supported payload type is answered:

    * timed descriptors (``frequency != 0`` on an event with intervals, explicit or implied)
      by the reports :func:`~ven_edge.oadr3.reporttiming.report_window` defines: each when its
      ``due_at`` has passed, covering its intervals; late if need be. Of the reports already
      due when the event first arrived, only the most recent is sent (UG §7.5 "'do it now'
      event reporting").
    * ad hoc ones (``frequency == 0``, or a report-only event without intervals) every
      ``cadence`` while the event is listed, with the reading at that moment.

    Other payload types are logged once per event and ignored. Report ``n`` of a descriptor is
    always named the same (:func:`report_name`), so the outbox can deliver it exactly once.
    """

    def __init__(
        self,
        client_name: str,
        cadence: timedelta = timedelta(minutes=15),
        horizon: timedelta = DEFAULT_HORIZON,
    ) -> None:
        self.client_name = client_name
        self.cadence = cadence
        self.horizon = horizon
        self._last: dict[tuple[str, str], datetime] = {}
        self._sequence: dict[tuple[str, str], int] = {}
        self._next: dict[tuple[str, int], int] = {}
        self._first_seen: dict[str, tuple[str, datetime]] = {}
        self._introduced: dict[str, datetime] = {}  # first sight of any revision
        self._ignored: set[tuple[str, str]] = set()
        self._listed: set[str] = set()  # the events of the previous call
        self._plans: dict[str, ReportPlan] = {}

    # -- persistence -----------------------------------------------------------------------
    def export_state(self) -> dict[str, Any]:
        return {
            "adhoc": {
                "|".join(key): {"last": last.isoformat(), "seq": self._sequence.get(key, 0)}
                for key, last in self._last.items()
            },
            "sequence": {"|".join(key): seq for key, seq in self._sequence.items()},
            "next": [[event, index, k] for (event, index), k in self._next.items()],
            "first_seen": {
                event: [revision, at.isoformat()]
                for event, (revision, at) in self._first_seen.items()
            },
            "introduced": {event: at.isoformat() for event, at in self._introduced.items()},
            "plans": {event: plan.to_json() for event, plan in self._plans.items()},
        }

    def restore_state(self, document: Mapping[str, Any]) -> None:
        adhoc = document.get("adhoc")
        if not isinstance(adhoc, Mapping):
            adhoc = document  # the first format held only the ad hoc entries
        for text, data in adhoc.items():
            parts = str(text).split("|")
            try:
                if len(parts) == 2 and isinstance(data, Mapping):
                    key = (parts[0], parts[1])
                    self._last[key] = datetime.fromisoformat(str(data["last"]))
                    self._sequence[key] = int(data["seq"])
            except (KeyError, TypeError, ValueError) as exc:
                LOG.warning("ignoring unreadable report schedule entry %s: %s", text, exc)
        try:
            for text, seq in (document.get("sequence") or {}).items():
                event, _, tag = str(text).rpartition("|")
                self._sequence[(event, tag)] = max(int(seq), self._sequence.get((event, tag), 0))
            for event, index, k in document.get("next") or []:
                self._next[(str(event), int(index))] = int(k)
            for event, (revision, at) in (document.get("first_seen") or {}).items():
                self._first_seen[str(event)] = (str(revision), datetime.fromisoformat(str(at)))
            for event, at in (document.get("introduced") or {}).items():
                self._introduced[str(event)] = datetime.fromisoformat(str(at))
            for event, plan in (document.get("plans") or {}).items():
                self._plans[str(event)] = ReportPlan.from_json(plan)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            LOG.warning("ignoring unreadable report schedule: %s", exc)

    # -- deciding --------------------------------------------------------------------------
    def due(
        self,
        events: Iterable[Event],
        timeline: SignalTimeline,
        now: datetime,
        *,
        first_seen: Callable[[str], datetime | None] | None = None,
    ) -> list[DueReport]:
        """The reports due at ``now``. ``timeline`` is accepted for callers' convenience; the
        timing comes from the events' own (unrandomized) intervals, which reports refer to.
        ``first_seen`` (e.g. :meth:`TimelineBuilder.first_seen`) pins "now" starts to the same
        moment as the timeline; without it the scheduler's own first sight is used."""
        del timeline
        due: list[DueReport] = []
        listed: set[str] = set()
        for event in events:
            listed.add(event.id)
            due.extend(self._due_for(event, now, first_seen))
        for event_id in [i for i in self._plans if i not in listed]:
            plan = self._plans[event_id]
            if plan.ends_at <= now:
                # A 3.1 VTN stops listing an event once it is over (query active=true, #234),
                # just when its end-of-event reports fall due; the plan (kept across restarts)
                # still knows them.
                due.extend(self._due_from_plan(event_id, plan, now))
                del self._plans[event_id]
            elif event_id in self._listed:
                del self._plans[event_id]  # gone before its end: cancelled (UG §7.9)
        self._listed = listed
        for key in [k for k in self._last if k[0] not in listed]:
            del self._last[key]  # the event is gone: forget its cadence (names are kept)
        self._trim()
        return due

    def _due_for(
        self,
        event: Event,
        now: datetime,
        first_seen: Callable[[str], datetime | None] | None,
    ) -> list[DueReport]:
        due: list[DueReport] = []
        intervals: EventIntervals | None = None
        kinds_seen: set[str] = set()
        timed: list[tuple[int, str, ReportDescriptor]] = []
        # A planning request's descriptors are answered together by one report
        # (ven_edge.oadr3.planning), every cadence while the event is listed.
        planning = is_planning_request([d.payload_type for d in event.report_descriptors])
        for index, descriptor in enumerate(event.report_descriptors):
            kind = descriptor.payload_type
            if planning and kind in PLANNING_PAYLOADS:
                if kind == PLANNING_MARKER:
                    report = self._due_ad_hoc(event, descriptor, index, PLANNING_INPUTS, now)
                    if report is not None:
                        due.append(replace(report, payload_type=PLANNING_INPUTS))
                continue
            if kind not in SUPPORTED_REPORTS:
                self._ignore_once(event.id, kind)
                continue
            # A second descriptor of the same type gets its own names.
            tag = kind if kind not in kinds_seen else f"{kind}.{index}"
            kinds_seen.add(kind)
            if intervals is None:
                start = self._seen(event, now, first_seen)
                intervals = report_intervals(event, start, now, horizon=self.horizon)
            if is_ad_hoc(descriptor, intervals):
                report = self._due_ad_hoc(event, descriptor, index, tag, now)
                due.extend([report] if report is not None else [])
                continue
            timed.append((index, tag, descriptor))
            due.extend(
                self._due_windows(
                    event.id, event.program_id, descriptor, index, tag, intervals, now
                )
            )
        self._introduced.setdefault(event.id, now)
        plan = ReportPlan.of(event.program_id, intervals, tuple(timed)) if intervals else None
        if plan is not None:
            self._plans[event.id] = plan
        else:
            self._plans.pop(event.id, None)
        return due

    def _due_from_plan(self, event_id: str, plan: ReportPlan, now: datetime) -> list[DueReport]:
        intervals = plan.intervals
        due: list[DueReport] = []
        for index, tag, descriptor in plan.descriptors:
            due.extend(
                self._due_windows(event_id, plan.program_id, descriptor, index, tag, intervals, now)
            )
        return due

    def _seen(
        self, event: Event, now: datetime, anchor_of: Callable[[str], datetime | None] | None
    ) -> datetime:
        """When this revision of ``event`` was first seen: where its "now" intervals start."""
        anchored = anchor_of(event.id) if anchor_of is not None else None
        known = self._first_seen.get(event.id)
        if known is None or known[0] != event.revision or anchored is not None:
            known = (event.revision, anchored or now)
            self._first_seen[event.id] = known
        return known[1]

    def _ignore_once(self, event_id: str, kind: str) -> None:
        if (event_id, kind) not in self._ignored:
            self._ignored.add((event_id, kind))
            LOG.info(
                "event %s asks for %s reports, which this gateway does not make", event_id, kind
            )

    def _due_ad_hoc(
        self, event: Event, descriptor: ReportDescriptor, index: int, tag: str, now: datetime
    ) -> DueReport | None:
        key = (event.id, tag)
        if key in self._last and now - self._last[key] < self.cadence:
            return None
        since = self._last.get(key, self._introduced.get(event.id, now))
        sequence = self._sequence.get(key, 0) + 1
        self._sequence[key] = sequence
        self._last[key] = now
        name = report_name(self.client_name, event.id, tag, sequence)
        return DueReport(
            event.id,
            event.program_id,
            descriptor.payload_type,
            name,
            descriptor,
            None,
            index,
            since=since,
        )

    def _due_windows(
        self,
        event_id: str,
        program_id: str,
        descriptor: ReportDescriptor,
        index: int,
        tag: str,
        intervals: EventIntervals,
        now: datetime,
    ) -> list[DueReport]:
        key = (event_id, index)
        passed: list[ReportWindow] = []
        k = self._next.get(key, 0)
        while (window := report_window(descriptor, intervals, k)) is not None:
            if window.due_at > now:
                break
            passed.append(window)
            k += 1
        if not passed:
            return []
        # UG §7.5 "'do it now' event reporting": of the reports already due when the event
        # arrived, only the most recent is sent. Reports that fell due later are all sent, late
        # if need be (the gateway was busy or off), so none is lost.
        introduced = self._introduced.setdefault(event_id, now)
        before = [w for w in passed if w.due_at < introduced]
        send = before[-1:] + [w for w in passed if w.due_at >= introduced]
        if len(before) > 1:
            LOG.info(
                "event %s arrived after %d %s reports were due; sending the latest (UG 7.5)",
                event_id,
                len(before),
                descriptor.payload_type,
            )
        self._next[key] = passed[-1].index + 1
        return [
            DueReport(
                event_id,
                program_id,
                descriptor.payload_type,
                report_name(self.client_name, event_id, tag, window.index + 1),
                descriptor,
                window,
                index,
            )
            for window in send
        ]

    def _trim(self) -> None:
        self._next = _newest_events(self._next)
        self._sequence = _newest_events(self._sequence)
        if len(self._ignored) > MAX_REMEMBERED_EVENTS:
            self._ignored.clear()  # at worst one more log line per event
        for table in (self._first_seen, self._introduced, self._plans):
            for event in list(table)[:-MAX_REMEMBERED_EVENTS]:
                del table[event]

    def forget(self, due: DueReport) -> None:
        """Undo :meth:`due` for a report that could not be built (e.g. no reading yet), so it
        is offered again next time, under the same name."""
        if due.window is not None:
            key = (due.event_id, due.descriptor_index)
            if self._next.get(key) == due.window.index + 1:
                self._next[key] = due.window.index
            return
        tag = due.name.rsplit("/", 2)[-2]
        ad_hoc = (due.event_id, tag)
        if due.name == report_name(
            self.client_name, due.event_id, tag, self._sequence.get(ad_hoc, 0)
        ):
            self._sequence[ad_hoc] -= 1
        if due.since is not None and due.since != self._introduced.get(due.event_id):
            # The previous report was sent: the next one must start where it ended, or the
            # energy in between would be reported twice.
            self._last[ad_hoc] = due.since
        else:
            self._last.pop(ad_hoc, None)


def _newest_events(table: dict[_Key, int]) -> dict[_Key, int]:
    """``table`` without the entries of all but the newest :data:`MAX_REMEMBERED_EVENTS`."""
    events = list(dict.fromkeys(key[0] for key in table))
    if len(events) <= MAX_REMEMBERED_EVENTS:
        return table
    keep = set(events[-MAX_REMEMBERED_EVENTS:])
    return {key: value for key, value in table.items() if key[0] in keep}


def _descriptor_units(due: DueReport) -> str | None:
    units = REPORT_UNITS[due.payload_type]
    asked = due.descriptor.units if due.descriptor is not None else None
    if asked is not None and asked != units:
        LOG.info(
            "%s reports are in %s, not the %s asked for (no conversion)", due.name, units, asked
        )
    return units


def _window_value(
    kind: str, span: ReportSpan, window: ReportWindow, history: ReadingLog, reading_type: str
) -> float | int | str | bool | None:
    """One covered interval's value: measured when historical, a persistence forecast else."""
    end = span.end
    if window.historical and end is not None:
        if kind == "OPERATING_STATE":
            return history.state(span.start, end)
        if kind == "STORAGE_CHARGE_LEVEL":
            return history.percent(span.start, end, reading_type)
        return history.energy(span.start, end)
    # Forecasts: the gateway does not model the device ahead, so it forecasts "as now" (the
    # state and charge level hold; energy use continues at the last day's average rate).
    if kind == "OPERATING_STATE":
        return history.latest_state()
    if kind == "STORAGE_CHARGE_LEVEL":
        return history.latest_percent()
    rate = history.energy_rate(window.due_at)
    if rate is None or end is None:
        return None
    return round(rate * (end - span.start).total_seconds(), 4)


def build_window_report(
    due: DueReport,
    history: ReadingLog,
    *,
    resource_name: str,
    program_id: str | None = None,
) -> dict[str, Any]:
    """The report answering an interval-timed ``due``: one report interval per covered event
    interval, with the event interval's id, start and duration (UG §7.5, example 8.3); an
    interval without a reading carries an empty value and DATA_QUALITY MISSING (UG §7.8)."""
    window = due.window
    if window is None:
        raise ValueError(f"{due.name} is an ad hoc report, not an interval report")
    descriptor = due.descriptor
    reading_type = (descriptor.reading_type if descriptor else None) or (
        DIRECT_READ if window.historical else FORECAST
    )
    intervals: list[ReportInterval] = []
    for span in window.spans:
        value = _window_value(due.payload_type, span, window, history, reading_type)
        duration = span.end - span.start if span.end is not None else None
        values: tuple[float | int | str | bool, ...] = () if value is None else (value,)
        quality = MISSING if value is None else None
        intervals.append(ReportInterval(span.id, values, span.start, duration, quality))
    aggregate = descriptor is not None and descriptor.aggregate
    return build_report(
        event_id=due.event_id,
        client_name=due.name.split("/", 1)[0],
        # One resource here, so the aggregate (UG §7.7: the sum) is that resource's data.
        resource_name=AGGREGATED_REPORT if aggregate else resource_name,
        payload_type=due.payload_type,
        intervals=intervals,
        name=due.name,
        units=_descriptor_units(due),
        reading_type=reading_type,
        program_id=program_id,
    )


def build_due_report(
    due: DueReport,
    readings: DeviceReadings,
    *,
    resource_name: str,
    now: datetime,
    program_id: str | None = None,
    history: ReadingLog | None = None,
    planning: PlanningInputs | None = None,
) -> dict[str, Any] | None:
    """The body answering ``due``; None when an ad hoc report's value is not known yet.

    Interval reports read ``history`` (by default just ``readings`` at ``now``); a planning
    request is answered with ``planning`` (None: the planner cannot tell yet)."""
    if due.payload_type == PLANNING_INPUTS:
        if planning is None:
            return None
        return planning_report(
            planning,
            event_id=due.event_id,
            client_name=due.name.split("/", 1)[0],
            resource_name=resource_name,
            name=due.name,
            program_id=program_id,
        )
    if due.descriptor is not None and due.descriptor.aggregate:
        resource_name = AGGREGATED_REPORT
    if due.window is not None:
        if history is None:
            history = ReadingLog()
            history.record(now, readings)
        return build_window_report(due, history, resource_name=resource_name, program_id=program_id)
    common: dict[str, Any] = {
        "event_id": due.event_id,
        "client_name": due.name.split("/", 1)[0],
        "resource_name": resource_name,
        "name": due.name,
        "program_id": program_id,
    }
    if due.payload_type == "OPERATING_STATE" and readings.operating_state is not None:
        return operating_state_report(state=readings.operating_state, at=now, **common)
    if due.payload_type == "STORAGE_CHARGE_LEVEL" and readings.charge_percent is not None:
        return storage_charge_level_report(percent=readings.charge_percent, at=now, **common)
    if (
        due.payload_type == "USAGE"
        and due.since is not None
        and now > due.since
        and history is not None
    ):
        # The energy since the previous report of this descriptor, from the meter history: the
        # latest reading alone covers only the time since whoever read the meter last. (The
        # first report at the event's first sight has no span yet: it sends the latest reading.)
        kwh = history.energy(due.since, now)
        if kwh is None:
            return None
        reading = ReportInterval(0, (kwh,), start=due.since, duration=now - due.since)
        return usage_report(readings=[reading], **common)
    if due.payload_type == "USAGE" and readings.usage_kwh is not None:
        reading = ReportInterval(
            0,
            (readings.usage_kwh,),
            start=readings.usage_start or now,
            duration=readings.usage_duration or timedelta(0),
        )
        return usage_report(readings=[reading], **common)
    return None
