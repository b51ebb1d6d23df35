"""Report bodies: the ``reportRequest`` JSON for the payloads this gateway produces.

Builders take plain values (an operating-state name, a percentage, kWh per interval), so this
module does not depend on the CTA-2045 stack; the daemon maps device state to these values.
Report shapes follow User Guide 3.1.0 §7.5-§7.8 and the 3.1.0 YAML ``reportRequest``; 3.0.1
reports also need ``programID``. Every report gets a deterministic ``reportName`` (client, event,
payload type, sequence), which :class:`~ven_edge.oadr3.outbox.ReportOutbox` uses to deliver it
once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ven_edge.oadr3.readings import OPERATING_STATES
from ven_edge.oadr3.timefmt import duration_from_timedelta, format_datetime, format_duration

#: Report payload types this gateway can produce (docs/openadr3.md §6).
SUPPORTED_REPORTS: frozenset[str] = frozenset({"OPERATING_STATE", "STORAGE_CHARGE_LEVEL", "USAGE"})

#: UG §7.8: a payload qualifying the single other payload of a report interval.
DATA_QUALITY = "DATA_QUALITY"
#: Definition 3.1.0 data quality value for an interval without a reading.
MISSING = "MISSING"
#: UG §7.7: the resource name of a report that sums all targeted resources.
AGGREGATED_REPORT = "AGGREGATED_REPORT"
#: Reading types (Definition 3.1.0 "Reading Type Enumerations") used when none is asked for.
DIRECT_READ = "DIRECT_READ"
FORECAST = "FORECAST"
#: The units each supported report is produced in (docs/openadr3.md §6); no conversion.
REPORT_UNITS: dict[str, str | None] = {
    "OPERATING_STATE": None,
    "STORAGE_CHARGE_LEVEL": "PERCENT",
    "USAGE": "KWH",
}


@dataclass(frozen=True)
class ReportInterval:
    """One report interval; ``id`` reuses the event's interval id where one applies (UG §7.6)."""

    id: int
    values: tuple[float | int | str | bool, ...]
    start: datetime | None = None
    duration: timedelta | None = None
    #: A DATA_QUALITY value (UG §7.8: OK, MISSING, ESTIMATED, BAD) sent next to the payload.
    quality: str | None = None


def report_name(client_name: str, event_id: str, payload_type: str, sequence: int) -> str:
    """The idempotency key of one report (stable across restarts)."""
    return f"{client_name}/{event_id}/{payload_type}/{sequence}"


#: YAML components/schemas objectID: 1-128 characters of this alphabet.
_OBJECT_ID = re.compile(r"^[a-zA-Z0-9_-]*$")
#: YAML components/schemas: names (clientName, payloadType, units, ...) are 1-128 characters.
_NAME_MAX = 128
#: YAML interval ``id``: a 32-bit signed integer.
_INTERVAL_ID_RANGE = range(-(2**31), 2**31)


def _check_text(field: str, value: str, *, pattern: re.Pattern[str] | None = None) -> str:
    if not 1 <= len(value) <= _NAME_MAX:
        raise ValueError(f"report {field} must be 1-{_NAME_MAX} characters, got {value!r}")
    if pattern is not None and not pattern.match(value):
        raise ValueError(f"report {field} {value!r} must match {pattern.pattern}")
    return value


def _wire_interval(payload_type: str, interval: ReportInterval) -> dict[str, Any]:
    if interval.id not in _INTERVAL_ID_RANGE:
        raise ValueError(f"report interval id {interval.id} is not a 32-bit integer")
    wire: dict[str, Any] = {"id": interval.id}
    period: dict[str, Any] = {}
    if interval.start is not None:
        period["start"] = format_datetime(interval.start)
    if interval.duration is not None:
        period["duration"] = format_duration(duration_from_timedelta(interval.duration))
    if period:
        wire["intervalPeriod"] = period
    payloads = [{"type": payload_type, "values": list(interval.values)}]
    if interval.quality is not None:
        payloads.append({"type": DATA_QUALITY, "values": [interval.quality]})
    wire["payloads"] = payloads
    return wire


def build_report(
    *,
    event_id: str,
    client_name: str,
    resource_name: str,
    payload_type: str,
    intervals: Sequence[ReportInterval],
    name: str,
    units: str | None = None,
    reading_type: str | None = None,
    program_id: str | None = None,
) -> dict[str, Any]:
    """A ``reportRequest`` body (camelCase, RFC 3339, canonical durations)."""
    if not intervals:
        raise ValueError(f"a {payload_type} report needs at least one interval")
    # The canonical wire form of ``models.ReportRequest`` (camelCase, RFC 3339, canonical
    # durations, absent fields left out), written without loading pydantic: pydantic and the
    # wire models would cost the daemon ~10 MB of its 45 MB RSS budget (docs/gateway.md "Figures").
    # tests/oadr3/test_report_canonical.py checks each body is a fixed point of the model's
    # validate-and-dump and that the model refuses what this refuses.
    _check_text("eventID", event_id, pattern=_OBJECT_ID)
    _check_text("clientName", client_name)
    _check_text("payloadType", payload_type)
    descriptor: dict[str, Any] = {
        "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
        "payloadType": payload_type,
    }
    if reading_type is not None:
        descriptor["readingType"] = _check_text("readingType", reading_type)
    if units is not None:
        descriptor["units"] = _check_text("units", units)
    body: dict[str, Any] = {
        "eventID": event_id,
        "clientName": client_name,
        "reportName": name,
        "payloadDescriptors": [descriptor],
        "resources": [
            {
                "resourceName": _check_text("resourceName", resource_name),
                "intervals": [_wire_interval(payload_type, i) for i in intervals],
            }
        ],
    }
    if program_id is not None:
        body["programID"] = program_id  # required by the 3.0.1 report schema
    return body


def operating_state_report(
    *, state: str, at: datetime, interval_id: int = 0, **common: Any
) -> dict[str, Any]:
    """OPERATING_STATE at one instant; ``state`` is a Table 4 name such as ``IDLE_CURTAILED``."""
    if state not in OPERATING_STATES:
        raise ValueError(f"unknown operating state {state!r} (Definition 3.1.0 Table 4)")
    interval = ReportInterval(interval_id, (state,), start=at)
    return build_report(payload_type="OPERATING_STATE", intervals=[interval], **common)


def storage_charge_level_report(
    *, percent: float, at: datetime, interval_id: int = 0, **common: Any
) -> dict[str, Any]:
    """STORAGE_CHARGE_LEVEL in PERCENT, 0-100 (docs/openadr3.md §6)."""
    if not 0.0 <= percent <= 100.0:
        raise ValueError(f"storage charge level must be 0-100 %, got {percent}")
    interval = ReportInterval(interval_id, (round(float(percent), 2),), start=at)
    return build_report(
        payload_type="STORAGE_CHARGE_LEVEL", intervals=[interval], units="PERCENT", **common
    )


def usage_report(*, readings: Sequence[ReportInterval], **common: Any) -> dict[str, Any]:
    """USAGE: energy (kWh) per interval, e.g. from CTA-2045 commodity code 0 readings."""
    for reading in readings:
        if reading.duration is None or reading.start is None:
            raise ValueError(f"USAGE interval {reading.id} needs a start and a duration")
        for value in reading.values:
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"USAGE interval {reading.id}: {value!r} is not kWh >= 0")
    return build_report(
        payload_type="USAGE", intervals=readings, units="KWH", reading_type="DIRECT_READ", **common
    )
