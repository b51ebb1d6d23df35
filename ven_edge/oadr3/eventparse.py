"""Tolerant reading of OpenADR 3 event objects into frozen dataclasses (sans-I/O).

A VTN's event is checked field by field. A field that matters for control (an interval's start or
duration, a payload's values) that cannot be read makes the whole event fail with a
:class:`PayloadError` naming the JSON path; metadata that does not matter (a creation timestamp in
an odd format, User Guide examples 7.2-x) is tolerated and dropped (docs/openadr3.md §10.1).

Everything a VTN sends is bounded here, before any arithmetic (see :mod:`ven_edge.oadr3.timefmt`):
date-times lie in 1970..9999 (or are the "now" sentinel), durations within ``P9999Y`` (or are the
infinity convention), ``randomizeStart`` within :data:`MAX_RANDOMIZE_START`, numbers finite, and a
payload has at most :data:`MAX_VALUES` values. :func:`parse_event` raises nothing but
:class:`PayloadError`: an unexpected failure is reported as one too, so one bad event can only
ever cost that event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ven_edge.oadr3 import timefmt
from ven_edge.oadr3.errors import PayloadError
from ven_edge.oadr3.timefmt import IsoDuration

Scalar = float | int | str | bool

#: Largest ``randomizeStart`` accepted. The User Guide (§7.3) uses it to spread load over minutes;
#: a shift of more than a day would move a DR event away from the grid need it answers.
MAX_RANDOMIZE_START = timedelta(days=1)
#: Most values in one payload: 3.1 packs sub-intervals into ``values`` (one per minute of a day
#: is 1440); more would be sub-intervals too short to act on.
MAX_VALUES = 10_000


@dataclass(frozen=True)
class Period:
    """An intervalPeriod. ``start`` None means "now"; ``duration`` None means infinite (P9999Y)."""

    start: datetime | None
    duration: IsoDuration | None
    randomize_start: timedelta
    has_start: bool = True
    has_duration: bool = True


@dataclass(frozen=True)
class Payload:
    type: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Interval:
    id: int
    period: Period | None
    payloads: tuple[Payload, ...]


@dataclass(frozen=True)
class PayloadDescriptor:
    payload_type: str
    units: str | None
    currency: str | None


@dataclass(frozen=True)
class ReportDescriptor:
    """What a reportDescriptor asks for; defaults from the 3.1.0 YAML ``reportDescriptor``."""

    payload_type: str
    reading_type: str | None = None
    units: str | None = None
    aggregate: bool = False
    start_interval: int = -1
    num_intervals: int = -1
    historical: bool = True
    frequency: int = -1
    repeat: int = 1
    #: 3.1 ``reportIntervals``: INTERVALS (default), SUB_INTERVALS or OPEN_INTERVALS (UG §7.5).
    report_intervals: str = "INTERVALS"


@dataclass(frozen=True)
class Event:
    id: str
    program_id: str
    name: str | None
    priority: int | None
    modified: datetime | None
    period: Period | None
    duration: IsoDuration | None
    has_duration: bool
    intervals: tuple[Interval, ...]
    payload_descriptors: tuple[PayloadDescriptor, ...]
    report_descriptors: tuple[ReportDescriptor, ...]
    #: 3.1 target strings (3.0.1 valuesMaps: their values) as the VTN showed them; metadata,
    #: so an odd entry is dropped rather than failing the event.
    targets: tuple[str, ...] = ()

    @property
    def revision(self) -> str:
        """Identifies this version of the event (modificationDateTime, else its content)."""
        if self.modified is not None:
            return self.modified.isoformat()
        # repr() of these frozen dataclasses is deterministic, unlike hash() of strings (which
        # is salted per process): the revision must survive a restart to keep "now" anchors.
        content = repr((self.period, self.duration, self.intervals, self.priority))
        return "sha256:" + hashlib.sha256(content.encode()).hexdigest()[:24]


def parse_datetime(text: object, where: str) -> datetime | None:
    """RFC 3339 or the variants seen in the wild; None for the "now" markers. Naive means UTC."""
    if not isinstance(text, str):
        raise PayloadError(where, f"expected a date-time string, got {type(text).__name__}")
    try:
        parsed = timefmt.parse_datetime(text)
        if timefmt.is_now(parsed):
            return None
        return timefmt.to_utc_in_range(parsed)
    except timefmt.TimeFormatError as exc:
        raise PayloadError(where, str(exc)) from None


def parse_metadata_datetime(text: object) -> datetime | None:
    """Like :func:`parse_datetime` but never fails: odd metadata timestamps are dropped."""
    if text is None:
        return None
    try:
        return parse_datetime(text, "")
    except PayloadError:
        return None


def parse_duration(text: object, where: str) -> IsoDuration | None:
    """ISO 8601 duration; None for P9999Y (infinite). Negative durations are rejected."""
    if not isinstance(text, str):
        kind = type(text).__name__
        raise PayloadError(where, f"expected an ISO 8601 duration string, got {kind}")
    try:
        parsed = timefmt.parse_duration(text)
    except timefmt.TimeFormatError as exc:
        raise PayloadError(where, str(exc)) from None
    if parsed.negative:
        raise PayloadError(where, f"negative duration {text!r}")
    return None if parsed.is_infinite else parsed


def add_duration(start: datetime, duration: IsoDuration | None) -> datetime | None:
    """``start + duration``; None when infinite or beyond the datetime range."""
    if duration is None:
        return None
    return duration.end_from(start)


def is_zero(duration: IsoDuration | None) -> bool:
    return duration == timefmt.ZERO_DURATION or (
        duration is not None
        and not duration.has_calendar_units
        and duration.as_timedelta() == timedelta(0)
    )


def _mapping(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise PayloadError(where, f"expected an object, got {type(raw).__name__}")
    return raw


def _sequence(raw: object, where: str) -> Sequence[Any]:
    if raw is None:
        return ()
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise PayloadError(where, f"expected an array, got {type(raw).__name__}")
    return raw


def _string(raw: object, where: str, *, max_len: int = 128) -> str:
    if not isinstance(raw, str) or not raw:
        raise PayloadError(where, f"expected a non-empty string, got {_brief(raw)}")
    if len(raw) > max_len:
        raise PayloadError(where, f"string longer than {max_len} characters")
    return raw


def _optional_int(raw: object, where: str, default: int | None = None) -> int | None:
    if raw is None:
        return default
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise PayloadError(where, f"expected an integer, got {_brief(raw)}")
    return raw


def _brief(raw: object) -> str:
    """A short description of a bad value for the log: scalars shown, containers only named
    (their repr could be megabytes long or nested too deep to print)."""
    if raw is None or isinstance(raw, bool | int | float | str):
        text = repr(raw) if not isinstance(raw, int) or abs(raw) < 10**20 else "a huge integer"
        return text if len(text) <= 64 else text[:61] + "..."
    return type(raw).__name__


def parse_period(raw: object, where: str) -> Period | None:
    """An intervalPeriod object (JSON null is treated as absent, quirk 10.2#3)."""
    if raw is None:
        return None
    data = _mapping(raw, where)
    has_start = data.get("start") is not None
    start = parse_datetime(data["start"], f"{where}.start") if has_start else None
    has_duration = data.get("duration") is not None
    duration: IsoDuration | None = (
        parse_duration(data["duration"], f"{where}.duration")
        if has_duration
        else timefmt.ZERO_DURATION
    )
    randomize = timedelta(0)
    if data.get("randomizeStart") is not None:
        at = f"{where}.randomizeStart"
        parsed = parse_duration(data["randomizeStart"], at)
        if parsed is None or parsed.has_calendar_units:
            raise PayloadError(at, "must be finite and without months")
        randomize = parsed.as_timedelta()
        if randomize > MAX_RANDOMIZE_START:
            limit = timefmt.format_duration(timefmt.duration_from_timedelta(MAX_RANDOMIZE_START))
            text = timefmt.format_duration(parsed)
            raise PayloadError(at, f"duration {text} exceeds the limit {limit}")
    return Period(start, duration, randomize, has_start, has_duration)


def _scalar(raw: object, where: str) -> Scalar:
    if isinstance(raw, bool | int | str):
        return raw
    if isinstance(raw, float):
        if raw != raw or raw in (float("inf"), float("-inf")):
            raise PayloadError(where, "value is not a finite number")
        return raw
    raise PayloadError(where, f"expected a number, string or boolean, got {type(raw).__name__}")


def parse_payload(raw: object, where: str) -> Payload:
    data = _mapping(raw, where)
    kind = _string(data.get("type"), f"{where}.type")
    raw_values = _sequence(data.get("values"), f"{where}.values")
    if len(raw_values) > MAX_VALUES:
        raise PayloadError(f"{where}.values", f"more than {MAX_VALUES} values")
    values = tuple(_scalar(v, f"{where}.values[{i}]") for i, v in enumerate(raw_values))
    return Payload(kind, values)


def parse_interval(raw: object, where: str) -> Interval:
    data = _mapping(raw, where)
    ident = _optional_int(data.get("id"), f"{where}.id", 0)
    period = parse_period(data.get("intervalPeriod"), f"{where}.intervalPeriod")
    payloads = tuple(
        parse_payload(p, f"{where}.payloads[{i}]")
        for i, p in enumerate(_sequence(data.get("payloads"), f"{where}.payloads"))
    )
    return Interval(ident or 0, period, payloads)


def parse_payload_descriptors(raw: object, where: str) -> tuple[PayloadDescriptor, ...]:
    out = []
    for i, item in enumerate(_sequence(raw, where)):
        data = _mapping(item, f"{where}[{i}]")
        kind = data.get("payloadType")
        if not isinstance(kind, str):
            continue  # descriptors only add units; a bad one must not cost us the event
        units, currency = data.get("units"), data.get("currency")
        out.append(
            PayloadDescriptor(
                kind,
                units if isinstance(units, str) else None,
                currency if isinstance(currency, str) else None,
            )
        )
    return tuple(out)


def parse_report_descriptors(raw: object, where: str) -> tuple[ReportDescriptor, ...]:
    out = []
    for i, item in enumerate(_sequence(raw, where)):
        at = f"{where}[{i}]"
        data = _mapping(item, at)
        # UG examples 7.7-1 and 8.6-1 spell the key "payLoadType".
        kind = _string(data.get("payloadType", data.get("payLoadType")), f"{at}.payloadType")
        reading, units = data.get("readingType"), data.get("units")
        intervals = data.get("reportIntervals")
        out.append(
            ReportDescriptor(
                payload_type=kind,
                reading_type=reading if isinstance(reading, str) else None,
                units=units if isinstance(units, str) else None,
                aggregate=bool(data.get("aggregate") or False),
                # 0 is a real interval index (UG §7.5 "counted from the zero-th"), not "unset".
                start_interval=_int_default(data.get("startInterval"), f"{at}.startInterval", -1),
                num_intervals=_int_default(data.get("numIntervals"), f"{at}.numIntervals", -1),
                historical=data.get("historical") is not False,
                frequency=_int_default(data.get("frequency"), f"{at}.frequency", -1),
                repeat=_int_default(data.get("repeat"), f"{at}.repeat", 1),
                report_intervals=intervals if isinstance(intervals, str) else "INTERVALS",
            )
        )
    return tuple(out)


def _priority(raw: object) -> int | None:
    value = _optional_int(raw, "priority")
    if value is not None and value < 0:
        raise PayloadError("priority", f"must be >= 0 (0 is the highest), got {value}")
    return value


def _int_default(raw: object, where: str, default: int) -> int:
    value = _optional_int(raw, where, default)
    return default if value is None else value


def _event_intervals(data: Mapping[str, Any], version: str) -> Sequence[Any]:
    """The event's interval array; absent (or JSON null, which means absent) only where allowed.

    3.0.1 requires ``intervals`` on every event (oadr3.0.1.yaml ``event.required``). 3.1.0 makes
    it optional for report-only events (reportDescriptors and no intervals, UG §7.5), so there it
    may be absent only next to reportDescriptors. Anywhere else an event without intervals is
    malformed (an UPDATE with ``intervals: null`` would otherwise wipe the event's signals); the
    caller keeps the last good version. ``intervals: []`` is a valid array and read as such.
    """
    raw = data.get("intervals")
    if raw is not None:
        return _sequence(raw, "intervals")
    if version == "3.0.1":
        raise PayloadError("intervals", "missing or null; required on every 3.0.1 event")
    if data.get("reportDescriptors") is None:
        raise PayloadError(
            "intervals", "missing or null, and no reportDescriptors (not a report-only event)"
        )
    return ()


#: Most targets read from one event: a schedule names one VEN; more is not worth the memory.
MAX_TARGETS = 256


def parse_targets(raw: object) -> tuple[str, ...]:
    """3.1 target strings, or the values of 3.0.1 ``{type, values}`` targets; anything else
    is dropped (targets only decide whom an event is for: docs/fleet-planner.md)."""
    if not isinstance(raw, list):
        return ()
    out: list[str] = []
    for item in raw[:MAX_TARGETS]:
        if isinstance(item, str) and 0 < len(item) <= 128:
            out.append(item)
        elif isinstance(item, Mapping) and isinstance(item.get("values"), list):
            out.extend(v for v in item["values"][:MAX_TARGETS] if isinstance(v, str) and v)
    return tuple(out[:MAX_TARGETS])


def parse_event(raw: object, *, version: str = "3.1.0") -> Event:
    """Read one event object; raises :class:`PayloadError` with the path of the first bad field.

    ``version`` is the OpenADR version the VTN speaks ("3.1.0" or "3.0.1"): the schemas differ in
    whether ``intervals`` is required.
    """
    data = _mapping(raw, "")
    ident_raw = data.get("id")
    if ident_raw is None:
        metadata = data.get("objectMetadata")
        ident_raw = metadata.get("id") if isinstance(metadata, Mapping) else None
    ident = ident_raw if isinstance(ident_raw, str) and ident_raw else None
    try:
        if ident is None:
            raise PayloadError("id", "missing event id")
        program_id = _string(data.get("programID"), "programID")
        name = data.get("eventName")
        period = parse_period(data.get("intervalPeriod"), "intervalPeriod")
        has_duration = data.get("duration") is not None
        duration = parse_duration(data["duration"], "duration") if has_duration else None
        intervals = tuple(
            parse_interval(iv, f"intervals[{i}]")
            for i, iv in enumerate(_event_intervals(data, version))
        )
        if period is None:
            for i, iv in enumerate(intervals):
                if iv.period is None:
                    # UG §7.3: without an event intervalPeriod every interval must carry its own.
                    raise PayloadError(
                        f"intervals[{i}].intervalPeriod",
                        "missing, and the event has no intervalPeriod",
                    )
        return Event(
            id=ident,
            program_id=program_id,
            name=name if isinstance(name, str) else None,
            priority=_priority(data.get("priority")),
            modified=parse_metadata_datetime(data.get("modificationDateTime")),
            period=period,
            duration=duration,
            has_duration=has_duration,
            intervals=intervals,
            payload_descriptors=parse_payload_descriptors(
                data.get("payloadDescriptors"), "payloadDescriptors"
            ),
            report_descriptors=parse_report_descriptors(
                data.get("reportDescriptors"), "reportDescriptors"
            ),
            targets=parse_targets(data.get("targets")),
        )
    except PayloadError as exc:
        if exc.object_id is None and ident is not None:
            raise PayloadError(exc.where, exc.reason, ident) from None
        raise
    except Exception as exc:  # one event's defect must never escape as a crash
        # Every known defect is caught above with its field's path; this is the net for the
        # unknown ones, so the caller can still reject just this event.
        raise PayloadError("", f"unreadable ({type(exc).__name__}: {exc})", ident) from None
