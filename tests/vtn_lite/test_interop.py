"""Independent PyPI clients against vtn_lite over HTTP on 127.0.0.1.

python-oa3-client (synchronous httpx) runs in a worker thread so the server keeps serving in this
event loop; toadr3 (aiohttp, 3.0.x shapes) reads events through the 3.0.1 base path.
"""

from __future__ import annotations

import asyncio
from typing import Any

import toadr3
from openadr3_client import BlClient, VenClient

from vtn_lite.server import RunningVtn

PRICE_EVENT = {
    "intervalPeriod": {"start": "2026-02-17T19:00:00Z", "duration": "PT1H"},
    "payloadDescriptors": [
        {
            "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
            "payloadType": "PRICE",
            "units": "KWH",
            "currency": "USD",
        }
    ],
    "intervals": [
        {"id": i, "payloads": [{"type": "PRICE", "values": [price]}]}
        for i, price in enumerate((0.1, 0.11, 0.12))
    ],
}


def _oa3_session(base_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # Business logic: discovers the token URL via GET /auth/server, form client credentials.
    with BlClient(url=base_url, client_id="bl_client", client_secret="1001") as bl:
        created = bl.create_program(
            {
                "programName": "hpwh-tou",
                "intervalPeriod": {"start": "2026-01-01T00:00:00Z", "duration": "P1D"},
            }
        )
        assert created.status_code == 201, created.text
        program_id = created.json()["id"]
        event = bl.create_event({"programID": program_id, **PRICE_EVENT})
        assert event.status_code == 201, event.text
        out["event_id"] = event.json()["id"]
        out["program_id"] = program_id
    with VenClient(url=base_url, client_id="ven_client", client_secret="999") as ven:
        ven.register("extra-ven-1")
        out["ven_id"] = ven.ven_id
        ven.register("extra-ven-1")  # idempotent: finds the ven by name
        assert ven.ven_id == out["ven_id"]
        events = ven.events(programID=program_id)
        out["events"] = [
            (
                e.id,
                [(p.type, [float(v) for v in p.values]) for i in e.intervals for p in i.payloads],
            )
            for e in events
        ]
        report = ven.create_report(
            {
                "eventID": out["event_id"],
                "clientName": "extra-ven-1",
                "resources": [
                    {
                        "resourceName": "AGGREGATED_REPORT",
                        "intervals": [{"id": 0, "payloads": [{"type": "USAGE", "values": [1.5]}]}],
                    }
                ],
            }
        )
        assert report.status_code == 201, report.text
        out["report_client"] = report.json()["clientID"]
    return out


async def test_python_oa3_client(server: RunningVtn) -> None:
    result = await asyncio.to_thread(_oa3_session, server.base_url)
    assert result["events"] == [
        (result["event_id"], [("PRICE", [0.1]), ("PRICE", [0.11]), ("PRICE", [0.12])])
    ]
    assert result["report_client"] == "ven_client"
    stored = await server.vtn.stored("VEN", result["ven_id"])
    assert stored is not None
    assert stored.client_id == "ven_client"


async def test_toadr3_reads_events(server: RunningVtn) -> None:
    program_id = (await asyncio.to_thread(_oa3_session, server.base_url))["program_id"]
    config = toadr3.OAuthScopeConfig(
        token_url=f"{server.base_url_301}/auth/token",
        grant_type="client_credentials",
        scope="read_all",
        client_id="ven_client",
        client_secret="999",
    )
    async with toadr3.ToadrClient(server.base_url_301, oauth_config=config) as client:
        programs = await client.get_programs()
        assert [p.program_name for p in programs] == ["hpwh-tou"]
        events = await client.get_events(program_id=program_id, skip=0, limit=10)
        assert len(events) == 1
        values = [p.values for i in events[0].intervals for p in i.payloads]
        assert values == [[0.1], [0.11], [0.12]]
        assert events[0].interval_period is not None
        assert events[0].interval_period.start.tzinfo is not None
