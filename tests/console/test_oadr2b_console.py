"""The console and 2.0b VENs: approving registrations, and dispatching to a 2.0b VEN."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from openleadr import OpenADRClient

from tests.console.console_site import DISPATCHER, VIEWER, csrf_of, jar, login
from tests.vtn_lite.oadr2b_peer import wait_for
from vtn_lite.auth import Principal
from vtn_lite.server import demo_config, running_vtn

BL = Principal("bl_client", "bl")


async def test_operator_approves_a_pending_2b_ven_and_dispatches_to_it(tmp_path: Path) -> None:
    config = demo_config(tmp_path, port=0, scrypt_n=2**4)
    assert config.oadr2b is not None
    config = replace(config, oadr2b=replace(config.oadr2b, auto_approve=False, poll_interval=1.0))
    async with (
        running_vtn(config) as vtn,
        aiohttp.ClientSession(cookie_jar=jar()) as viewer,
        aiohttp.ClientSession(cookie_jar=jar()) as operator,
    ):
        assert vtn.oadr2b_url is not None
        first = OpenADRClient(ven_name="heater_2b", vtn_url=vtn.oadr2b_url)
        await first.run()
        await first.stop()
        assert first.registration_id is None  # pending

        await login(viewer, vtn.url, *VIEWER)
        async with viewer.get(f"{vtn.url}/console/oadr2b") as page:
            text = await page.text()
            assert "heater_2b" in text
            assert "pending" in text
            assert "Approve" not in text  # a viewer has no buttons
            token = csrf_of(text)
        async with viewer.post(
            f"{vtn.url}/console/oadr2b/heater_2b/approve", data={"csrf": token}
        ) as refused:
            assert refused.status == 403

        await login(operator, vtn.url, *DISPATCHER)
        async with operator.get(f"{vtn.url}/console/oadr2b") as page:
            token = csrf_of(await page.text())
        async with operator.post(
            f"{vtn.url}/console/oadr2b/heater_2b/approve",
            data={"csrf": token},
            allow_redirects=False,
        ) as approved:
            assert approved.status == 303
        registration = await vtn.parts.store.oadr2b_registration("heater_2b")
        assert registration is not None
        assert registration.state == "approved"

        received: list[dict[str, Any]] = []

        async def on_event(event: dict[str, Any]) -> str:
            received.append(event)
            return "optOut"

        client = OpenADRClient(ven_name="heater_2b", vtn_url=vtn.oadr2b_url)
        client.add_handler("on_event", on_event)
        try:
            await client.run()
            assert client.ven_id == registration.ven_id
            program = await vtn.vtn.create(BL, "PROGRAM", {"programName": "shed"})
            async with operator.get(f"{vtn.url}/console/dispatch") as page:
                text = await page.text()
                assert "heater_2b" in text  # listed with the 3.x VENs
                token = csrf_of(text)
            form = {
                "csrf": token,
                "program": program["id"],
                "payload_type": "SIMPLE",
                "value": "3",
                "start_mode": "now",
                "duration": "30",
                "randomize": "10",
                "target_mode": "vens",
                "vens": client.ven_id,
            }
            async with operator.post(f"{vtn.url}/console/dispatch", data=form) as sent:
                assert sent.status == 200
            await wait_for(lambda: received)
            event = received[0]
            assert event["event_signals"][0]["intervals"][0]["signal_payload"] == 3.0
            assert event["active_period"]["tolerance"]["tolerate"]["startafter"] == timedelta(
                minutes=10
            )
            assert event["targets"] == [{"ven_id": client.ven_id}]

            async def opted() -> Any:
                return await vtn.parts.store.oadr2b_records("opt")

            await wait_for(opted)
            async with operator.get(f"{vtn.url}/console/oadr2b") as page:
                text = await page.text()
                assert "optOut" in text
            async with operator.get(f"{vtn.url}/console/vens") as page:
                assert "2.0b" in await page.text()
        finally:
            await client.stop()
