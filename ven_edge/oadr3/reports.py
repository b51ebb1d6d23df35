"""Reports to the VTN: builders, a due-report scheduler, and a disk-backed exactly-once outbox.

Builders take plain values (an operating-state name, a percentage, kWh per interval), so this
module does not depend on the CTA-2045 stack; the daemon maps device state to these values.
Report shapes follow User Guide 3.1.0 §7.5-§7.8 and the 3.1.0 YAML ``reportRequest``; 3.0.1
reports also need ``programID``.

Exactly once: every report gets a deterministic ``reportName`` (client, event, payload type,
sequence). :class:`ReportOutbox` persists a report before sending it and marks it "attempted"
before each POST; after a crash or a lost response it asks the VTN (GET /reports) whether a report
with that name already exists before sending again. Delivered names are remembered so the same
report queued twice is sent once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ven_edge.oadr3 import models
from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.errors import (
    PayloadError,
    ResponseTooLargeError,
    VtnHttpError,
    VtnUnreachableError,
)
from ven_edge.oadr3.eventparse import Event
from ven_edge.oadr3.timefmt import duration_from_timedelta
from ven_edge.signals import SignalTimeline
from ven_edge.store import StateStore

LOG = logging.getLogger(__name__)

#: Definition 3.1.0 Table 4, "Operating State Enumerations" (CTA-2045 states plus NORMAL/ERROR).
OPERATING_STATES: frozenset[str] = frozenset(
    {
        "NORMAL",
        "ERROR",
        "IDLE_NORMAL",
        "RUNNING_NORMAL",
        "RUNNING_CURTAILED",
        "RUNNING_HEIGHTENED",
        "IDLE_CURTAILED",
        "SGD_ERROR_CONDITION",
        "IDLE_HEIGHTENED",
        "IDLE_OPTED_OUT",
        "RUNNING_OPTED_OUT",
    }
)

#: Report payload types this gateway can produce (issue 5 item 3).
SUPPORTED_REPORTS: frozenset[str] = frozenset({"OPERATING_STATE", "STORAGE_CHARGE_LEVEL", "USAGE"})


@dataclass(frozen=True)
class ReportInterval:
    """One report interval; ``id`` reuses the event's interval id where one applies (UG §7.6)."""

    id: int
    values: tuple[float | int | str | bool, ...]
    start: datetime | None = None
    duration: timedelta | None = None


def report_name(client_name: str, event_id: str, payload_type: str, sequence: int) -> str:
    """The idempotency key of one report (stable across restarts)."""
    return f"{client_name}/{event_id}/{payload_type}/{sequence}"


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
    wire_intervals: list[dict[str, Any]] = []
    for interval in intervals:
        wire: dict[str, Any] = {
            "id": interval.id,
            "payloads": [{"type": payload_type, "values": list(interval.values)}],
        }
        period: dict[str, Any] = {}
        if interval.start is not None:
            period["start"] = interval.start
        if interval.duration is not None:
            period["duration"] = duration_from_timedelta(interval.duration)
        if period:
            wire["intervalPeriod"] = period
        wire_intervals.append(wire)
    descriptor = {
        "objectType": "REPORT_PAYLOAD_DESCRIPTOR",
        "payloadType": payload_type,
        "units": units,
        "readingType": reading_type,
    }
    # Validated through the shared wire model, so the VTN gets canonical, strict output.
    request = models.ReportRequest.model_validate(
        {
            "eventID": event_id,
            "clientName": client_name,
            "reportName": name,
            "payloadDescriptors": [descriptor],
            "resources": [{"resourceName": resource_name, "intervals": wire_intervals}],
        }
    )
    body = models.dump(request)
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
    """STORAGE_CHARGE_LEVEL in PERCENT, 0-100 (reference/openadr3.md §6)."""
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


@dataclass(frozen=True)
class DeviceReadings:
    """What the device reported, in plain values (None = not known)."""

    operating_state: str | None = None
    charge_percent: float | None = None
    usage_kwh: float | None = None
    usage_start: datetime | None = None
    usage_duration: timedelta | None = None


@dataclass(frozen=True)
class DueReport:
    event_id: str
    program_id: str
    payload_type: str
    name: str


class ReportScheduler:
    """Decides which reports are due (sans-I/O; time passed in).

    For every known event asking for a supported payload type (its reportDescriptors):
    ``frequency == -1`` with ``startInterval == -1`` (the defaults) means "when the last interval
    has ended" (UG §7.5): one report after the event's last timeline interval ends, then
    nothing. Any other request is answered every ``cadence`` while the event is listed (a
    simplification of startInterval/numIntervals/frequency, stated in the README).
    """

    def __init__(self, client_name: str, cadence: timedelta = timedelta(minutes=15)) -> None:
        self.client_name = client_name
        self.cadence = cadence
        self._last: dict[tuple[str, str], datetime] = {}
        self._sequence: dict[tuple[str, str], int] = {}
        self._finished: set[tuple[str, str]] = set()

    def export_state(self) -> dict[str, Any]:
        return {
            "|".join(key): {"last": last.isoformat(), "seq": self._sequence.get(key, 0)}
            for key, last in self._last.items()
        } | {"|".join(key) + "|final": {"done": True} for key in self._finished}

    def restore_state(self, document: Mapping[str, Any]) -> None:
        for text, data in document.items():
            parts = str(text).split("|")
            try:
                if len(parts) == 3 and parts[2] == "final":
                    self._finished.add((parts[0], parts[1]))
                elif len(parts) == 2:
                    key = (parts[0], parts[1])
                    self._last[key] = datetime.fromisoformat(str(data["last"]))
                    self._sequence[key] = int(data["seq"])
            except (KeyError, TypeError, ValueError) as exc:
                LOG.warning("ignoring unreadable report schedule entry %s: %s", text, exc)

    def due(
        self, events: Iterable[Event], timeline: SignalTimeline, now: datetime
    ) -> list[DueReport]:
        due: list[DueReport] = []
        listed: set[str] = set()
        for event in events:
            listed.add(event.id)
            ends = [i.end for i in timeline.intervals if i.event_id == event.id]
            for descriptor in event.report_descriptors:
                kind = descriptor.payload_type
                if kind not in SUPPORTED_REPORTS:
                    continue
                key = (event.id, kind)
                if key in self._finished:
                    continue
                at_end = descriptor.frequency == -1 and descriptor.start_interval == -1 and ends
                if at_end:
                    if now < max(ends):
                        continue
                    self._finished.add(key)
                elif key in self._last and now - self._last[key] < self.cadence:
                    continue
                sequence = self._sequence.get(key, 0) + 1
                name = report_name(self.client_name, event.id, kind, sequence)
                due.append(DueReport(event.id, event.program_id, kind, name))
                self._sequence[key] = sequence
                self._last[key] = now
        for key in [k for k in self._last if k[0] not in listed]:
            del self._last[key]  # the event is gone: forget it (sequence kept for names)
        return due

    def forget(self, due: DueReport) -> None:
        """Undo :meth:`due` for a report that could not be built (e.g. no reading yet), so it
        is offered again next time, under the same name."""
        key = (due.event_id, due.payload_type)
        if due.name == report_name(
            self.client_name, due.event_id, due.payload_type, self._sequence.get(key, 0)
        ):
            self._sequence[key] -= 1
        self._finished.discard(key)
        self._last.pop(key, None)


def build_due_report(
    due: DueReport,
    readings: DeviceReadings,
    *,
    resource_name: str,
    now: datetime,
    program_id: str | None = None,
) -> dict[str, Any] | None:
    """The body answering ``due`` from ``readings``; None when the needed value is unknown."""
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
    if due.payload_type == "USAGE" and readings.usage_kwh is not None:
        reading = ReportInterval(
            0,
            (readings.usage_kwh,),
            start=readings.usage_start or now,
            duration=readings.usage_duration or timedelta(0),
        )
        return usage_report(readings=[reading], **common)
    return None


#: Statuses after which a report is kept for a later retry instead of being dropped.
_RETRYABLE_STATUSES = frozenset({401, 403, 408, 409, 425, 429})
#: Delivered report names remembered to suppress duplicates (a few days of 15-min reports).
DELIVERED_MEMORY = 2000


class ReportOutbox:
    """Reports waiting for the VTN, persisted in ``store`` as document ``name`` (0600, atomic)."""

    def __init__(
        self, store: StateStore, name: str = "report_outbox", max_pending: int = 20_000
    ) -> None:
        self._store = store
        self._name = name
        self.max_pending = max_pending
        document = store.load(name, default={}) or {}
        pending = document.get("pending", []) if isinstance(document, Mapping) else []
        delivered = document.get("delivered", []) if isinstance(document, Mapping) else []
        self._pending: list[dict[str, Any]] = [
            p for p in pending if isinstance(p, dict) and isinstance(p.get("body"), dict)
        ]
        self._delivered: list[str] = [d for d in delivered if isinstance(d, str)]
        self._flushing = asyncio.Lock()  # one delivery run at a time keeps the order and counts

    def _save(self) -> None:
        self._store.save(self._name, {"pending": self._pending, "delivered": self._delivered})

    @property
    def pending(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(p["body"] for p in self._pending)

    @property
    def delivered(self) -> tuple[str, ...]:
        return tuple(self._delivered)

    def add(self, body: Mapping[str, Any]) -> bool:
        """Queue a report (persisted before returning); False if this reportName is known."""
        name = body.get("reportName")
        if not isinstance(name, str) or not name:
            raise ValueError("reports in the outbox need a reportName (the idempotency key)")
        if name in self._delivered or any(p["body"]["reportName"] == name for p in self._pending):
            return False
        if len(self._pending) >= self.max_pending:
            dropped = self._pending.pop(0)
            oldest = dropped["body"]["reportName"]
            LOG.error("report outbox full; dropped the oldest report %s", oldest)
        self._pending.append({"body": dict(body), "attempted": False})
        self._save()
        return True

    def _done(self, item: dict[str, Any]) -> None:
        self._pending.remove(item)
        self._delivered.append(item["body"]["reportName"])
        del self._delivered[:-DELIVERED_MEMORY]
        self._save()

    async def _already_there(self, client: VtnClient, body: Mapping[str, Any]) -> bool:
        existing = await client.find_reports(str(body.get("eventID")))
        return any(r.get("reportName") == body["reportName"] for r in existing)

    async def flush(self, client: VtnClient) -> int:
        """Send pending reports in order; returns how many were delivered.

        Stops (keeping the rest) when the VTN is unreachable or answers 5xx; a report the VTN
        refuses for good (400/404: e.g. its event was deleted) is logged and dropped.
        """
        async with self._flushing:
            return await self._flush(client)

    async def _flush(self, client: VtnClient) -> int:
        delivered = 0
        while self._pending:
            item = self._pending[0]
            body = item["body"]
            try:
                if item["attempted"] and await self._already_there(client, body):
                    self._done(item)
                    delivered += 1
                    continue
                item["attempted"] = True
                self._save()
                await client.create_report(body)
            except (VtnUnreachableError, PayloadError, ResponseTooLargeError) as exc:
                LOG.warning("report %s not delivered yet: %s", body["reportName"], exc)
                break
            except VtnHttpError as exc:
                if exc.status >= 500 or exc.status in _RETRYABLE_STATUSES:
                    LOG.warning("report %s not delivered yet: %s", body["reportName"], exc)
                    break
                LOG.error("report %s refused by the VTN, dropped: %s", body["reportName"], exc)
                self._pending.remove(item)
                self._save()
                continue
            self._done(item)
            delivered += 1
        return delivered
