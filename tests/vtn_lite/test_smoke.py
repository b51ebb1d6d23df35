"""The demo server answers over HTTP: discovery, token, create and read."""

from __future__ import annotations

from tests.vtn_lite.conftest import Api


async def test_program_and_event_round_trip(api: Api) -> None:
    program = await api.ok("POST", "/programs", body={"programName": "tou"})
    event = await api.ok(
        "POST",
        "/events",
        body={
            "programID": program["id"],
            "intervalPeriod": {"start": "2026-01-01T00:00:00Z", "duration": "PT1H"},
            "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.3]}]}],
        },
    )
    assert event["objectType"] == "EVENT"
    events = await api.ok("GET", "/events", "ven")
    assert [e["id"] for e in events] == [event["id"]]
