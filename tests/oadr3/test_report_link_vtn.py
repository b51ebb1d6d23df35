"""Descriptor-timed reports through VtnLink to a real vtn_lite, with an injected wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port
from tests.vtn_lite.schema import validate_component
from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.errors import VtnUnreachableError
from ven_edge.oadr3.link import VtnLink
from ven_edge.oadr3.outbox import ReportOutbox
from ven_edge.oadr3.readings import DeviceReadings
from ven_edge.oadr3.reports import ReportScheduler
from ven_edge.store import StateStore

from .test_client_vtn import Utility, ven_settings, vtn_at

T = datetime(2030, 1, 1, 17, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
STATES = ["RUNNING_NORMAL", "IDLE_CURTAILED", "IDLE_CURTAILED", "RUNNING_CURTAILED"]


class Heater:
    """Device readings as a function of the injected time: 0.1 kWh per minute."""

    def __init__(self, now: list[datetime]) -> None:
        self.now = now

    def __call__(self) -> DeviceReadings:
        minute = max(0, int((self.now[0] - T) / MIN))
        return DeviceReadings(
            operating_state=STATES[minute % len(STATES)],
            charge_percent=float(minute),
            usage_kwh=0.1,
            usage_start=T + (minute - 1) * MIN,
            usage_duration=MIN,
        )


def make_link(client: VtnClient, store: StateStore, now: list[datetime]) -> VtnLink:
    return VtnLink(
        client,
        outbox=ReportOutbox(store),
        scheduler=ReportScheduler("gateway-1", cadence=timedelta(hours=1)),
        readings=Heater(now),
        store=store,
        wall_clock=lambda: now[0],
    )


EVENT: dict[str, Any] = {
    "intervals": [
        {"id": 100 + i, "payloads": [{"type": "PRICE", "values": [0.1 * i]}]} for i in range(6)
    ],
    "intervalPeriod": {"start": "2030-01-01T17:00:00Z", "duration": "PT1M"},
    "reportDescriptors": [
        {
            "payloadType": "USAGE",
            "startInterval": 3,
            "numIntervals": 4,
            "frequency": 1,
            "repeat": -1,
        },
        {"payloadType": "OPERATING_STATE"},  # defaults: once, after the last interval
        {"payloadType": "BASELINE"},  # not made here: ignored
    ],
}


@pytest.mark.parametrize("version", ["3.1.0", "3.0.1"])
async def test_rolling_usage_and_end_of_event_reports_exactly_once_across_an_outage(
    tmp_path: Path, version: str
) -> None:
    port = free_port()
    store = StateStore(tmp_path / "state")
    now = [T]
    # The VTN runs on the same injected clock, so its active=true filter (3.1) drops the event
    # once it is over, as a real VTN would.
    vtn_clock = lambda: now[0].timestamp()  # noqa: E731
    async with vtn_at(tmp_path, port, clock=vtn_clock) as vtn, Utility(vtn.base_url) as bl:
        base = vtn.base_url if version == "3.1.0" else vtn.base_url_301
        client = VtnClient(ven_settings(base, version))
        event_id = await bl.event(0.0, **EVENT)
        link = make_link(client, store, now)
        sent: dict[datetime, int] = {}
        while now[0] < T + 5 * MIN:  # cycles every 20 s of injected time
            await link.cycle()
            sent[now[0]] = len(await bl.client.get_all("/reports"))
            now[0] += timedelta(seconds=20)
        growth = [at - T for at, n in sent.items() if n > sent.get(at - timedelta(seconds=20), 0)]
        assert growth == [4 * MIN]  # USAGE/1 after interval 3 ends, nothing before
    # VTN down from 17:05: reports keep being queued on disk, even across a gateway restart.
    with pytest.raises(VtnUnreachableError):
        await link.cycle()
    now[0] = T + 5 * MIN
    assert link.queue_due_reports() == 1  # USAGE/2
    await client.close()
    await store.flush()  # as the process does on its way out
    client = VtnClient(ven_settings(base, version))  # the same port once the VTN is back
    link = make_link(client, store, now)
    now[0] = T + 6 * MIN
    # The restarted client knows no events yet (it has not polled), and the VTN will not list
    # this one again (it is over); the persisted plan still makes USAGE/3 and OPERATING_STATE/1.
    assert not link.client.events
    assert link.queue_due_reports() == 2
    assert link.queue_due_reports() == 0
    assert link.outbox is not None
    assert len(link.outbox.pending) == 3
    async with vtn_at(tmp_path, port, clock=vtn_clock) as vtn, Utility(vtn.base_url) as bl:
        now[0] = T + 10 * MIN
        await link.cycle()
        await link.cycle()
        if version == "3.1.0":
            assert event_id not in link.client.events  # over: no longer listed (active=true)
        reports = await bl.client.get_all("/reports")
        own = await client.get_all("/reports")  # as this API version serves them to the VEN
    await client.close()
    by_name = {r["reportName"]: r for r in reports}
    assert sorted(by_name) == sorted(
        [f"gateway-1/{event_id}/USAGE/{n}" for n in (1, 2, 3)]
        + [f"gateway-1/{event_id}/OPERATING_STATE/1"]
    )
    assert len(reports) == 4  # none duplicated
    for n, first in ((1, 0), (2, 1), (3, 2)):
        usage = by_name[f"gateway-1/{event_id}/USAGE/{n}"]
        intervals = usage["resources"][0]["intervals"]
        assert [i["id"] for i in intervals] == [100 + first + k for k in range(4)]
        assert [i["payloads"][0]["values"] for i in intervals] == [[0.1]] * 4
        assert intervals[0]["intervalPeriod"]["duration"] == "PT1M"
    state = by_name[f"gateway-1/{event_id}/OPERATING_STATE/1"]
    assert [i["payloads"][0]["values"][0] for i in state["resources"][0]["intervals"]] == [
        STATES[m % 4]
        for m in range(6)  # the state in force at each interval's end
    ]
    assert sorted(r["reportName"] for r in own) == sorted(by_name)
    for report in own:
        validate_component(version, "report", report)
