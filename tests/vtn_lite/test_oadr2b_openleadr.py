"""vtn_lite's 2.0b face against openleadr's OpenADRClient over plain HTTP (lab mode)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from openleadr import OpenADRClient

from tests.vtn_lite.oadr2b_peer import simple_event, vtn_with_2b, wait_for, with_settings
from vtn_lite.console.status_pages import ven_rows


def _start(minutes: int = 30) -> str:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes)
    return moment.isoformat().replace("+00:00", "Z")


async def test_event_from_the_31_api_reaches_the_openleadr_ven_and_its_opt_in_is_stored() -> None:
    async with vtn_with_2b() as (running, api):
        assert running.oadr2b_url is not None
        received: list[dict[str, Any]] = []

        async def on_event(event: dict[str, Any]) -> str:
            received.append(event)
            return "optIn"

        client = OpenADRClient(ven_name="wh_ven", vtn_url=running.oadr2b_url)
        client.add_handler("on_event", on_event)
        created = await simple_event(api, 2, start=_start())
        try:
            await client.run()
            assert client.registration_id is not None
            await wait_for(lambda: received)
            event = received[0]
            assert event["event_descriptor"]["event_id"] == created["id"]
            signal = event["event_signals"][0]
            assert (signal["signal_name"], signal["signal_type"]) == ("SIMPLE", "level")
            assert signal["intervals"][0]["signal_payload"] == 2.0
            store = running.parts.store

            async def opted() -> Any:
                return await store.oadr2b_records("opt", ven_id=client.ven_id)

            opts = await wait_for(opted)
            assert opts[0].body["optType"] == "optIn"
            assert opts[0].body["eventID"] == created["id"]
        finally:
            await client.stop()


async def test_price_event_carries_currency_and_cancel_reaches_the_ven() -> None:
    async with vtn_with_2b() as (running, api):
        assert running.oadr2b_url is not None
        received: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []

        async def on_event(event: dict[str, Any]) -> str:
            received.append(event)
            return "optIn"

        async def on_update_event(event: dict[str, Any]) -> str:
            updates.append(event)
            return "optIn"

        client = OpenADRClient(ven_name="price_ven", vtn_url=running.oadr2b_url)
        client.add_handler("on_event", on_event)
        client.add_handler("on_update_event", on_update_event)
        program = await api.ok(
            "POST",
            "/programs",
            body={
                "programName": "tou",
                "payloadDescriptors": [{"payloadType": "PRICE", "units": "KWH", "currency": "CAD"}],
            },
        )
        event = await api.ok(
            "POST",
            "/events",
            body={
                "programID": program["id"],
                "intervalPeriod": {"start": _start(), "duration": "PT1H"},
                "intervals": [
                    {"id": i, "payloads": [{"type": "PRICE", "values": [price]}]}
                    for i, price in enumerate((0.12, 0.35))
                ],
            },
        )
        try:
            await client.run()
            await wait_for(lambda: received)
            signal = received[0]["event_signals"][0]
            assert signal["signal_name"] == "ELECTRICITY_PRICE"
            assert [i["signal_payload"] for i in signal["intervals"]] == [0.12, 0.35]
            assert signal["measurement"]["name"] == "currencyPerKWh"
            assert signal["measurement"]["unit"] == "CAD"
            await api.ok("DELETE", f"/events/{event['id']}")
            await wait_for(lambda: updates)
            assert updates[0]["event_descriptor"]["event_status"] == "cancelled"
            assert updates[0]["event_descriptor"]["modification_number"] == 1
        finally:
            await client.stop()


async def test_pending_registration_waits_for_the_operator(caplog: Any) -> None:
    async with vtn_with_2b(with_settings(auto_approve=False)) as (running, _api):
        assert running.oadr2b_url is not None
        assert running.parts.oadr2b is not None
        client = OpenADRClient(ven_name="new_ven", vtn_url=running.oadr2b_url)
        with caplog.at_level(logging.INFO):
            await client.run()
        await client.stop()
        assert client.registration_id is None  # pending: no registrationID
        assert "pending operator approval" in caplog.text
        store = running.parts.store
        pending = await store.oadr2b_registration("new_ven")
        assert pending is not None
        assert pending.state == "pending"
        await running.parts.oadr2b.registry.approve("new_ven")
        again = OpenADRClient(ven_name="new_ven", vtn_url=running.oadr2b_url)
        try:
            await again.run()
            assert again.registration_id is not None
            approved = await store.oadr2b_registration("new_ven")
            assert approved is not None
            assert approved.ven_id == again.ven_id
            # The approved 2.0b VEN is a ven object, listed with the 3.x VENs.
            assert running.parts.console is not None
            entry = running.parts.console.directory.vens[again.ven_id]
            assert entry.protocol == "2.0b"
        finally:
            await again.stop()


async def test_telemetry_usage_reports_show_in_the_console_ven_status() -> None:
    async with vtn_with_2b() as (running, _api):
        assert running.oadr2b_url is not None
        client = OpenADRClient(ven_name="metered_ven", vtn_url=running.oadr2b_url)
        client.add_report(
            callback=lambda: 4500.0,
            resource_id="tank",
            measurement="power_real",
            unit="W",
            sampling_rate=timedelta(seconds=1),
        )
        try:
            await client.run()
            store = running.parts.store

            async def reported() -> Any:
                return await store.oadr2b_records("report", ven_id=client.ven_id)

            records = await wait_for(reported)
            point = records[0].body["points"][0]
            assert point["value"] == 4500.0
            assert point["units"] == "W"
            metadata = await store.oadr2b_records("metadata", ven_id=client.ven_id)
            assert metadata[0].body["reports"][0]["reportName"] == "METADATA_TELEMETRY_USAGE"
            console = running.parts.console
            assert console is not None
            shown = console.directory.last_reports["oadr2b:metered_ven"]
            assert [v.value for v in shown.values()] == [4500.0]
            html = str(ven_rows(console, {}))
            assert "metered_ven" in html
            assert "2.0b" in html
            assert "4500.0 W" in html
        finally:
            await client.stop()
