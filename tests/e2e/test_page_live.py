"""The status page of the running gateway in headless Chromium: it shows the heater in the event
with the plan and its reasons, and follows the heater when the customer overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import async_playwright, expect

from hil.heater import DrEvent
from tests.conftest import REPO_ROOT, wait_for
from tests.e2e.harness import heater_on_pty, make_config, running_daemon
from tests.web.test_page_browser import CHROMIUM_ARGS, SCALES, chromium_path
from ven_edge.daemon import SIGNALS_DOC, timeline_to_json
from ven_edge.signals import SignalInterval, SignalTimeline
from ven_edge.store import StateStore

ARTIFACTS = REPO_ROOT / "test-artifacts"


async def test_live_page_shows_the_event_and_follows_an_override(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    signals = SignalTimeline(
        (
            SignalInterval(now, now + timedelta(hours=1), "SIMPLE", (1,), 0, "ev-live", "", "Peak"),
            *(
                SignalInterval(
                    now + timedelta(hours=h),
                    now + timedelta(hours=h + 1),
                    "PRICE",
                    (p,),
                    None,
                    "tou",
                )
                for h, p in enumerate([0.30, 0.12, 0.10, 0.11, 0.25, 0.28])
            ),
        )
    )
    async with heater_on_pty(tmp_path) as sim:
        config = make_config(tmp_path, sim.path)
        StateStore(config.state.dir).save(SIGNALS_DOC, timeline_to_json(signals))
        async with running_daemon(config) as parts, async_playwright() as playwright:
            await wait_for(lambda: sim.heater.event is DrEvent.SHED, 5, "Shed")
            browser = await playwright.chromium.launch(
                executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
            )
            try:
                page = await browser.new_page(viewport={"width": 1200, "height": 1000})
                assert parts.web_url is not None
                await page.goto(parts.web_url)
                await expect(page.locator("#state-text")).to_contain_text("Saving energy")
                await expect(page.locator("#heater-card")).to_have_attribute("data-mode", "saving")
                await expect(page.locator("#event-current")).to_contain_text("Peak")
                await expect(page.locator("#plan-chart")).to_be_visible()
                # No VTN in this configuration: said plainly, not as a fault.
                vtn = page.locator("#vtn-health")
                await expect(vtn).to_contain_text("No utility server configured")
                await expect(vtn).not_to_contain_text("unreachable")
                await expect(vtn.locator(".dot")).to_have_class("dot off")
                await expect(page.locator("#commands li").first).to_contain_text("utility event")
                # No command that lasts no time ("20:13–20:13"), and after the event the
                # price plan's pre-heat for the cheap hours takes over at the event's end.
                rows = await page.locator("#commands li .when").all_inner_texts()
                assert all(start != end for start, end in (row.split("–") for row in rows)), rows
                # (Near midnight the next row's start carries "Tomorrow".)
                assert rows[1].split("–")[0].endswith(rows[0].split("–")[1]), rows
                # Each axis above its data; the prices end after six hours, and the page says so.
                scales = await page.evaluate(SCALES)
                assert scales["kwh"][0] > scales["kwh"][1] > 0, scales
                assert scales["price"][0] > scales["price"][1] == 0.30, scales
                # (the plan starts a moment after ``now``: its first step without a price may
                # fall in the next minute)
                ends = {
                    (now + timedelta(hours=6, seconds=s)).astimezone().strftime("%H:%M")
                    for s in (0, 5)
                }
                note = page.locator("#price-note")
                await expect(note).to_contain_text("No price from the utility after ")
                text = await note.inner_text()
                assert any(f"after {end}" in text for end in ends), (text, ends)
                ARTIFACTS.mkdir(exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "status-page-live.png"), full_page=True)
                sim.set_override(True)
                await expect(page.locator("#state-text")).to_contain_text("Opted out", timeout=8000)
                await expect(page.locator("#heater-card")).to_have_attribute(
                    "data-mode", "opted_out"
                )
                await page.screenshot(
                    path=str(ARTIFACTS / "status-page-live-override.png"), full_page=True
                )
            finally:
                await browser.close()
