"""USAGE is counted once: the kWh the gateway reports for an event equal the energy the heater's
meter (CTA-2045 commodity code 0, cumulative) advanced by, however often the link's cycles and the
daemon's report ticks read it in between."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.devices import answering
from ven_edge.grid_port import VtnGridPort
from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.vtnhttp import VtnSettings
from ven_edge.store import StateStore

T0 = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
KW = 4.5  # the element running flat out: 4.5 kWh per hour
CADENCE = timedelta(minutes=15)


def usage_kwh(bodies: tuple[Any, ...]) -> float:
    total = 0.0
    for body in bodies:
        for resource in body["resources"]:
            for interval in resource["intervals"]:
                for payload in interval["payloads"]:
                    if payload["type"] == "USAGE":
                        total += sum(payload["values"])
    return total


@pytest.mark.parametrize(
    ("descriptor", "event_hours"),
    [({"payloadType": "USAGE", "frequency": 0}, 2), ({"payloadType": "USAGE"}, 1)],
    ids=["ad-hoc", "whole-event"],
)
async def test_reported_usage_equals_the_heaters_energy(
    tmp_path: Path, descriptor: dict[str, Any], event_hours: int
) -> None:
    now = [T0]
    client = VtnClient(VtnSettings(base_url="http://127.0.0.1:9/openadr3/3.1.0"))
    grid = VtnGridPort(client, StateStore(tmp_path), clock=lambda: now[0], report_cadence=CADENCE)
    client.apply_event_notification(
        "CREATE",
        {
            "id": "ev1",
            "programID": "p1",
            "intervalPeriod": {"start": T0.isoformat(), "duration": f"PT{event_hours}H"},
            "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
            "reportDescriptors": [descriptor],
        },
    )
    meter = 100.0  # the heater's cumulative energy counter at the start
    start_meter = meter
    step = timedelta(minutes=1)
    try:
        while now[0] < T0 + timedelta(hours=event_hours, minutes=20):
            grid.queue_reports(answering(operational_state=1, energy_used_wh=round(1000 * meter)))
            if now[0].minute % 5 == 0:
                grid.link.queue_due_reports()  # a VTN cycle reads the same meter in between
            if now[0] < T0 + timedelta(hours=event_hours):
                meter += KW * step / timedelta(hours=1)
            now[0] += step
        end_meter = meter
        reported = usage_kwh(grid.outbox.pending)
        assert reported == pytest.approx(end_meter - start_meter, abs=1e-3)
    finally:
        await client.close()
