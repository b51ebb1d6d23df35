"""vtn_lite's 2.0b face against the gateway's own 2.0b VEN (ven_edge/oadr2b): an event created
through the 3.1 API reaches the gateway's signal timeline, and the gateway's TELEMETRY_USAGE and
TELEMETRY_STATUS reports reach the store and the console."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.vtn_lite.oadr2b_peer import simple_event, vtn_with_2b, wait_for
from ven_edge.oadr2b.engine import VenEngine
from ven_edge.oadr2b.link import Oadr2bLink
from ven_edge.oadr2b.reports import Sample
from ven_edge.oadr2b.vtnhttp import VtnTransport
from ven_edge.signals import SignalTimeline


async def test_gateway_ven_receives_events_and_its_reports_are_stored() -> None:
    async with vtn_with_2b() as (running, api):
        assert running.oadr2b_url is not None
        timelines: list[SignalTimeline] = []
        # The gateway's wall clock, moved on by hand so its reports fall due without waiting
        # for their granularity.
        clock = [datetime.now(UTC)]
        link = Oadr2bLink(
            VenEngine("gateway_ven", "heater"),
            VtnTransport(running.oadr2b_url),
            on_timeline=timelines.append,
            poll_s=1.0,
            wall_clock=lambda: clock[0],
        )
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
        created = await simple_event(api, 2, start=start.isoformat().replace("+00:00", "Z"))
        task = asyncio.create_task(link.run())
        try:
            timeline = await wait_for(
                lambda: next((t for t in reversed(timelines) if len(t) > 0), None)
            )
            [interval] = [i for i in timeline.intervals if i.kind == "SIMPLE"]
            assert interval.event_id == created["id"]
            assert interval.values == (2,) or interval.values == (2.0,)
            assert interval.start == start
            store = running.parts.store

            async def opted() -> Any:
                return await store.oadr2b_records("opt")

            opts = await wait_for(opted)  # the gateway answered the event (rule 62)
            assert opts[0].body["eventID"] == created["id"]

            async def reports_asked() -> Any:
                return await store.oadr2b_records("metadata")

            await wait_for(reports_asked)

            async def reported() -> Any:
                clock[0] += timedelta(seconds=30)
                link.device_update(Sample(clock[0], 4200.0, True, False), False)
                found = await store.oadr2b_records("report")
                points = [p for r in found for p in r.body["points"]]
                kinds = {p["rID"] for p in points}
                if any(k.endswith("/oadrOnline") for k in kinds) and any(
                    isinstance(p["value"], float) for p in points
                ):
                    return points
                await asyncio.sleep(0.2)
                return None

            points = await wait_for(reported)
            assert 4200.0 in [p["value"] for p in points]
            assert any(p["rID"].endswith("/oadrOnline") and p["value"] is True for p in points)
            assert any(
                p["rID"].endswith("/oadrManualOverride") and p["value"] is False for p in points
            )
            assert running.parts.console is not None
            shown = running.parts.console.directory.last_reports["oadr2b:gateway_ven"]
            assert any(value.value == 4200.0 for value in shown.values())
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await link.transport.close()
