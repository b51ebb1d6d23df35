"""VtnLink while the VTN is unreachable: reports keep being queued, names survive restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.link import VtnLink
from ven_edge.oadr3.outbox import ReportOutbox
from ven_edge.oadr3.readings import DeviceReadings
from ven_edge.oadr3.reports import ReportScheduler
from ven_edge.oadr3.vtnhttp import VtnSettings
from ven_edge.store import StateStore

T0 = datetime(2030, 1, 1, 17, 0, tzinfo=UTC)
EVENT = {
    "id": "ev1",
    "programID": "p1",
    "intervalPeriod": {"start": "2030-01-01T17:00:00Z", "duration": "PT4H"},
    "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
    "reportDescriptors": [{"payloadType": "STORAGE_CHARGE_LEVEL", "frequency": 0}],
}


def make_link(store: StateStore, now: list[datetime]) -> VtnLink:
    # Port 9 (discard) on loopback: nothing listens, every request fails at once.
    client = VtnClient(
        VtnSettings(base_url="http://127.0.0.1:9/openadr3/3.1.0"), wall_clock=lambda: now[0]
    )
    client.apply_event_notification("CREATE", EVENT)
    return VtnLink(
        client,
        outbox=ReportOutbox(store),
        scheduler=ReportScheduler("gw", cadence=timedelta(minutes=15)),
        readings=lambda: DeviceReadings(charge_percent=55.0),
        store=store,
        wall_clock=lambda: now[0],
    )


async def test_reports_queue_offline_and_names_survive_a_restart(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    now = [T0]
    link = make_link(store, now)
    assert link.queue_due_reports() == 1
    assert link.queue_due_reports() == 0  # not due again before the cadence
    now[0] += timedelta(minutes=15)
    assert link.queue_due_reports() == 1
    assert link.outbox is not None
    assert link.health.pending_reports == 2
    assert await link.outbox.flush(link.client) == 0  # unreachable: kept
    await link.client.close()
    await store.flush()  # as the process does on its way out

    restarted = make_link(store, now)
    now[0] += timedelta(minutes=15)
    assert restarted.queue_due_reports() == 1
    assert restarted.outbox is not None
    names = [b["reportName"] for b in restarted.outbox.pending]
    assert names == [f"gw/ev1/STORAGE_CHARGE_LEVEL/{n}" for n in (1, 2, 3)]
    await restarted.client.close()


async def test_report_without_a_reading_waits_for_one(tmp_path: Path) -> None:
    now = [T0]
    link = make_link(StateStore(tmp_path), now)
    charge: list[float | None] = [None]
    link.readings = lambda: DeviceReadings(charge_percent=charge[0])
    assert link.queue_due_reports() == 0
    charge[0] = 20.0
    assert link.queue_due_reports() == 1
    assert link.outbox is not None
    assert [b["reportName"] for b in link.outbox.pending] == ["gw/ev1/STORAGE_CHARGE_LEVEL/1"]
    await link.client.close()


async def test_reading_history_is_saved_every_few_minutes_offline(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    now = [T0]
    link = make_link(store, now)
    charge = [10.0]
    link.readings = lambda: DeviceReadings(charge_percent=charge[0])
    assert link.queue_due_reports() == 1  # saved with the queued report

    def saved() -> list[float]:
        return [row[2] for row in store.load("oadr3_link")["readings"]["samples"]]

    assert saved() == [10.0]
    charge[0], now[0] = 20.0, T0 + timedelta(minutes=1)
    assert link.queue_due_reports() == 0
    assert saved() == [10.0]  # not rewritten at every call
    charge[0], now[0] = 30.0, T0 + timedelta(minutes=5)
    assert link.queue_due_reports() == 0
    assert saved() == [10.0, 20.0, 30.0]
    await link.client.close()
