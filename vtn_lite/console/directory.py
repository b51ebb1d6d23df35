"""What the console lists, kept in memory: every ven object and each client's last report per
payload type. Seeded from storage once, then kept current by the service's change listeners,
so the VEN list never scans the store (10,000 VENs: docs/console.md "Figures")."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

from vtn_lite.storage import StoredObject

#: Target granted to each VEN the console dispatches to alone (docs/console.md "Targets").
VEN_TARGET_PREFIX: Final = "ven:"
#: Report payloads that only qualify the other payload of an interval (User Guide §7.8).
QUALIFIERS: Final = frozenset({"DATA_QUALITY"})


def ven_target(ven_id: str) -> str:
    return f"{VEN_TARGET_PREFIX}{ven_id}"


def ven_of_target(target: str) -> str | None:
    """The VEN id of a per-VEN target, None for any other target."""
    return target.removeprefix(VEN_TARGET_PREFIX) if target.startswith(VEN_TARGET_PREFIX) else None


@dataclass(frozen=True, slots=True)
class ReportValue:
    payload_type: str
    value: Any
    units: str | None
    at: str  # RFC 3339: the interval's start, else when the report was written


@dataclass(slots=True)
class VenEntry:
    id: str
    name: str
    client_id: str | None
    targets: tuple[str, ...]
    attributes: list[Any] = field(default_factory=list)

    @property
    def protocol(self) -> str:
        """The OpenADR version the VEN speaks: 2.0b when it registered through the 2.0b face
        (vtn_lite/oadr2b), else 3."""
        for attribute in self.attributes:
            if isinstance(attribute, dict) and attribute.get("type") == "OADR_PROTOCOL":
                values = attribute.get("values") or []
                return str(values[0]) if values else "3"
        return "3"

    @property
    def groups(self) -> tuple[str, ...]:
        """Granted targets other than the per-VEN ones the console grants itself."""
        return tuple(t for t in self.targets if not t.startswith(VEN_TARGET_PREFIX))


def report_values(body: dict[str, Any]) -> list[ReportValue]:
    """Each payload value of a report body with its units and time, in report order.

    Defensive although stored reports passed the report model: one odd report must not keep
    the console from listing the others."""
    units: dict[str, str | None] = {}
    for descriptor in _dicts(body.get("payloadDescriptors")):
        kind, unit = descriptor.get("payloadType"), descriptor.get("units")
        if isinstance(kind, str):
            units[kind] = unit if isinstance(unit, str) else None
    written = str(body.get("modificationDateTime", ""))
    found: list[ReportValue] = []
    for resource in _dicts(body.get("resources")):
        for interval in _dicts(resource.get("intervals")):
            period = interval.get("intervalPeriod") or resource.get("intervalPeriod")
            start = period.get("start") if isinstance(period, dict) else None
            at = start if isinstance(start, str) else written
            for payload in _dicts(interval.get("payloads")):
                kind, values = payload.get("type"), payload.get("values")
                if not isinstance(kind, str) or kind in QUALIFIERS:
                    continue
                if not isinstance(values, list) or not values:
                    continue
                found.append(ReportValue(kind, values[0], units.get(kind), at))
    return found


def _dicts(items: Any) -> list[dict[str, Any]]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


class VenDirectory:
    def __init__(self) -> None:
        self.vens: dict[str, VenEntry] = {}
        self.last_reports: dict[str, dict[str, ReportValue]] = {}
        self.revision = 0
        self._ven_changes = 0  # VEN objects only: reports do not reorder the list
        self._sorted: tuple[int, list[VenEntry]] | None = None

    def by_name(self) -> list[VenEntry]:
        """All VENs sorted by name (kept until the next change)."""
        if self._sorted is None or self._sorted[0] != self._ven_changes:
            self._sorted = (self._ven_changes, sorted(self.vens.values(), key=lambda v: v.name))
        return self._sorted[1]

    def seed(self, vens: list[StoredObject], reports: list[StoredObject]) -> None:
        for ven in vens:
            self._put_ven(ven)
        self._ven_changes += 1
        for report in reports:
            self._put_report(report)
        self.revision += 1

    async def on_change(self, operation: str, stored: StoredObject) -> None:
        if stored.kind == "VEN":
            self._ven_changes += 1
            if operation == "DELETE":
                self.vens.pop(stored.id, None)
            else:
                self._put_ven(stored)
        elif stored.kind == "REPORT" and operation != "DELETE":
            self._put_report(stored)
        self.revision += 1

    def by_client(self, client_id: str) -> VenEntry | None:
        for ven in self.vens.values():
            if ven.client_id == client_id:
                return ven
        return None

    def groups(self) -> list[str]:
        return sorted({group for ven in self.vens.values() for group in ven.groups})

    def _put_ven(self, stored: StoredObject) -> None:
        body = stored.body
        self.vens[stored.id] = VenEntry(
            id=stored.id,
            name=str(body.get("venName", "")),
            client_id=stored.client_id,
            targets=tuple(stored.targets),
            attributes=list(body.get("attributes") or []),
        )

    def put_points(self, client_id: str, points: list[dict[str, Any]]) -> None:
        """Values a 2.0b VEN reported (oadrUpdateReport), one per rID: the same "last reports"
        as a 3.x VEN's (docs/vtn-lite-2.0b.md "Console")."""
        latest = self.last_reports.setdefault(client_id, {})
        for point in points:
            r_id, at = str(point.get("rID", "")), str(point.get("at", ""))
            known = latest.get(r_id)
            if known is None or known.at <= at:
                latest[r_id] = ReportValue(r_id, point.get("value"), point.get("units"), at)
        self.revision += 1

    def _put_report(self, stored: StoredObject) -> None:
        if stored.client_id is None:
            return
        latest = self.last_reports.setdefault(stored.client_id, {})
        for value in report_values(stored.body):
            known = latest.get(value.payload_type)
            if known is None or known.at <= value.at:
                latest[value.payload_type] = value
