"""The console in Debian's Chromium (Playwright) against a VTN and a fleet of three real
gateways on simulated heaters: log in, dispatch SIMPLE 1 to two of them, watch them shed and
their reports arrive. Screenshots go to ``test-artifacts/console/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from hil.fleet import Member, running_fleet
from tests.conftest import REPO_ROOT, wait_for
from tests.console.console_site import DISPATCHER, console_vtn
from vtn_lite.auth import Principal

# The shared browser fixture lives in the module's event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")

ARTIFACTS = REPO_ROOT / "test-artifacts" / "console"
POLL_S = 5.0  # the gateway's shortest poll interval
LIMIT_S = 60.0  # generous: a loaded machine runs three daemons, a VTN and a browser


async def api_status(http: aiohttp.ClientSession, member: Member) -> dict[str, Any]:
    async with http.get(f"{member.web_url}api/status") as response:
        data: dict[str, Any] = json.loads(await response.text())
        return data


async def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    print(f"screenshot: {ARTIFACTS / name}.png")


async def test_dispatch_to_two_of_three_gateways(tmp_path: Path, browser: Browser) -> None:
    async with (
        console_vtn(tmp_path, fleet=3) as vtn,
        running_fleet(3, vtn.base_url, tmp_path / "fleet", poll_interval_s=POLL_S) as fleet,
        aiohttp.ClientSession() as http,
    ):
        console = vtn.parts.console
        assert console is not None
        await vtn.vtn.create(Principal("utility", "bl"), "PROGRAM", {"programName": "peak"})
        await wait_for(lambda: len(console.directory.vens) == 3, LIMIT_S, "three VENs registered")
        page = await browser.new_page()
        await page.goto(f"{vtn.url}/console/login")
        await page.fill("input[name=user]", DISPATCHER[0])
        await page.fill("input[name=password]", DISPATCHER[1])
        await page.click("button[type=submit]")
        await expect(page.locator("table.vens tbody tr")).to_have_count(3)
        await expect(page.locator("table.vens .badge.on")).to_have_count(3, timeout=LIMIT_S * 1000)
        await shot(page, "01-vens")

        await page.click("text=Dispatch")
        await page.select_option("select[name=payload_type]", "SIMPLE")
        await page.fill("input[name=value]", "1")
        await page.fill("input[name=duration]", "60")
        await page.check("input[name=target_mode][value=vens]")
        await page.select_option("select[name=vens]", label=["fleet-1", "fleet-2"])
        await shot(page, "02-dispatch-form")
        await page.click("#dispatch button[type=submit]")
        await expect(page.locator("#dispatched")).to_contain_text("fleet-1, fleet-2")
        [event] = await vtn.vtn.operator_objects("EVENT")

        shed, spared = fleet[:2], fleet[2]
        for member in shed:

            async def sheds(member: Member = member) -> bool:
                status = await api_status(http, member)
                current = status["events"]["current"]
                return bool(current and current["id"] == event.id) and (
                    status["heater"]["mode"] == "saving"
                )

            await wait_async(sheds, f"{member.name} sheds")
        third = await api_status(http, spared)
        assert third["events"]["current"] is None
        assert third["heater"]["mode"] != "saving"

        # Reports (the event asks for them) arrive on the VEN pages, live.
        ven_id = next(v.id for v in console.directory.vens.values() if v.name == "fleet-1")
        await page.goto(f"{vtn.url}/console/vens/{ven_id}")
        await expect(page.locator("table.reports")).to_contain_text(
            "STORAGE_CHARGE_LEVEL", timeout=LIMIT_S * 1000
        )
        await expect(page.locator("table.reports")).to_contain_text("PERCENT")
        await expect(page.locator("table.timeline")).to_contain_text("active")
        await wait_async(
            lambda: page.evaluate("Number(document.getElementById('chart').dataset.points || 0)"),
            "points on the chart",
        )
        await shot(page, "03-ven-page")


async def wait_async(predicate: Any, what: str) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + LIMIT_S
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


EVIL = '<img src=x onerror="alert(1)"><script>alert(2)</script>'


async def test_markup_is_inert_logins_are_delayed_and_forms_need_their_token(
    tmp_path: Path, browser: Browser
) -> None:
    now = [1_900_000_000.0]
    async with console_vtn(tmp_path, clock=lambda: now[0]) as vtn:
        utility = Principal("utility", "bl")
        program = (await vtn.vtn.create(utility, "PROGRAM", {"programName": EVIL}))["id"]
        body = {"objectType": "BL_VEN_REQUEST", "clientID": "ven_client", "venName": EVIL,
                "targets": [EVIL]}  # fmt: skip
        ven = (await vtn.vtn.create(utility, "VEN", body))["id"]
        event = await vtn.vtn.create(utility, "EVENT", {
            "programID": program, "eventName": EVIL, "targets": [EVIL],
            "intervalPeriod": {"start": "2030-03-17T18:00:00Z", "duration": "PT1H"},
            "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}]})  # fmt: skip
        interval = {"id": 0, "payloads": [{"type": "OPERATING_STATE", "values": [EVIL]}]}
        await vtn.vtn.create(Principal("ven_client", "ven"), "REPORT", {
            "eventID": event["id"], "clientName": EVIL, "reportName": "r",
            "payloadDescriptors": [{"payloadType": "OPERATING_STATE", "units": EVIL}],
            "resources": [{"resourceName": "tank", "intervals": [interval]}]})  # fmt: skip
        page = await browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))

        # Wrong passwords: free at first, then the login waits (429) whatever is typed.
        for attempt in range(5):
            await page.goto(f"{vtn.url}/console/login")
            await page.fill("input[name=user]", DISPATCHER[0])
            await page.fill("input[name=password]", "not the password")
            await page.click("button[type=submit]")
            expected = "Too many failed logins" if attempt == 4 else "Wrong user or password"
            await expect(page.locator(".error")).to_contain_text(expected)
        await shot(page, "04-login-delayed")
        now[0] += 60
        await page.fill("input[name=password]", DISPATCHER[1])
        await page.click("button[type=submit]")
        await expect(page.locator("table.vens")).to_be_visible()

        for path in ("/console/vens", f"/console/vens/{ven}", "/console/dispatch"):
            await page.goto(f"{vtn.url}{path}")
            await page.wait_for_load_state("networkidle")
            assert await page.locator("main img").count() == 0, path
            assert await page.locator("main script").count() == 0, path
        await expect(page.locator("table.reports")).to_have_count(0)  # on the dispatch page
        await page.goto(f"{vtn.url}/console/vens/{ven}")
        await expect(page.locator("h1")).to_have_text(f"VEN {EVIL}")
        await expect(page.locator("table.reports")).to_contain_text(EVIL)
        await expect(page.locator("table.timeline")).to_contain_text(EVIL)
        await shot(page, "05-markup-inert")
        assert dialogs == []

        # A form whose token was removed is refused and stores nothing.
        await page.goto(f"{vtn.url}/console/dispatch")
        await page.evaluate("document.querySelector('#dispatch input[name=csrf]').remove()")
        await page.check("input[name=target_mode][value=all]")
        await page.click("#dispatch button[type=submit]")
        await expect(page.locator(".error")).to_contain_text("security token")
        assert len(await vtn.vtn.operator_objects("EVENT")) == 1
