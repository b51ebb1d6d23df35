"""The planning program's objects: the program, its planning request and the per-VEN fleet
schedules (docs/fleet-planner.md, "The planning program and its request", "The fleet
schedule"). Written through the service as business logic, so subscribers hear of each change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from ven_edge.oadr3 import timefmt
from ven_edge.oadr3.planning import IMPORT_CAPACITY_LIMIT, PLANNING_DESCRIPTORS, STEP
from vtn_lite.auth import Principal
from vtn_lite.service import Vtn
from vtn_lite.storage import Query

#: The planner writes as business logic (it is the VTN's own business logic).
PLANNER: Final = Principal("vtn-lite-planner", "bl")
REQUEST_NAME: Final = "fleet-planning-inputs"
SCHEDULE_PREFIX: Final = "fleet-schedule-"
#: Every object of a kind, for the searches below (the store's own bound is the table).
ALL: Final = 10**9


async def find_program(vtn: Vtn, name: str) -> str | None:
    found = await vtn.store.search(Query(kind="PROGRAM", name=name, limit=1))
    return found[0].id if found else None


async def ensure_program(vtn: Vtn, name: str) -> str:
    """The planning program's id; created when missing."""
    existing = await find_program(vtn, name)
    if existing is not None:
        return existing
    created = await vtn.create(PLANNER, "PROGRAM", {"programName": name})
    return str(created["id"])


async def find_event(vtn: Vtn, program_id: str, name: str) -> str | None:
    found = await vtn.store.search(Query(kind="EVENT", program_id=program_id, name=name, limit=1))
    return found[0].id if found else None


def request_body(program_id: str, now: datetime) -> dict[str, Any]:
    return {
        "programID": program_id,
        "eventName": REQUEST_NAME,
        # A report-only event (User Guide 3.1.0 §8.6): no intervals, open-ended.
        "intervalPeriod": {"start": timefmt.format_datetime(now), "duration": "P9999Y"},
        "intervals": [],
        "reportDescriptors": [
            {
                "payloadType": kind,
                **({"units": units} if units else {}),
                **({"readingType": reading} if reading else {}),
                "frequency": 0,
            }
            for kind, units, reading in PLANNING_DESCRIPTORS
        ],
    }


async def ensure_request(vtn: Vtn, program_id: str, now: datetime) -> str:
    """The planning request event's id; created when missing."""
    existing = await find_event(vtn, program_id, REQUEST_NAME)
    if existing is not None:
        return existing
    created = await vtn.create(PLANNER, "EVENT", request_body(program_id, now))
    return str(created["id"])


def schedule_body(
    program_id: str, ven_name: str, start: datetime, power_kw: Sequence[float]
) -> dict[str, Any]:
    """A VEN's fleet schedule: its planned kW per quarter hour as IMPORT_CAPACITY_LIMIT."""
    duration = timefmt.format_duration(timefmt.duration_from_timedelta(STEP))
    return {
        "programID": program_id,
        "eventName": SCHEDULE_PREFIX + ven_name,
        "payloadDescriptors": [
            {
                "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                "payloadType": IMPORT_CAPACITY_LIMIT,
                "units": "KW",
            }
        ],
        "intervalPeriod": {"start": timefmt.format_datetime(start), "duration": duration},
        "intervals": [
            {
                "id": k,
                # Rounded to 0.1 W: the kW the heater's plan may reach, never below zero.
                "payloads": [{"type": IMPORT_CAPACITY_LIMIT, "values": [round(max(kw, 0.0), 4)]}],
            }
            for k, kw in enumerate(power_kw)
        ],
        "targets": [ven_name],
    }


async def publish_schedule(
    vtn: Vtn,
    program_id: str,
    ven_id: str,
    ven_name: str,
    targets: Sequence[str],
    start: datetime,
    power_kw: Sequence[float],
) -> str:
    """Create or modify (never add a second) the VEN's schedule event; its ven object is
    granted its own name as a target first, so it alone reads the schedule."""
    if ven_name not in targets:
        await vtn.grant_targets(PLANNER, ven_id, [*targets, ven_name])
    body = schedule_body(program_id, ven_name, start, power_kw)
    existing = await find_event(vtn, program_id, body["eventName"])
    if existing is None:
        created = await vtn.create(PLANNER, "EVENT", body)
        return str(created["id"])
    await vtn.update(PLANNER, "EVENT", existing, body)
    return existing
