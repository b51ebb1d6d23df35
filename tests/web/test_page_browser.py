"""The status page in real headless Chromium (Debian's ``chromium`` driven by Playwright).

The server runs in the test's event loop next to Playwright's async API (docs/status-api.md). The
daemon is replaced by a mutable provider; the snapshot classes, the app and the page are real.
Screenshots are kept in ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright, expect

from tests.conftest import REPO_ROOT
from tests.web.snapshots import (
    NOW,
    WINDOW_STEPS,
    ZONE,
    FakeProvider,
    make_plan,
    make_snapshot,
    saving_snapshot,
)
from ven_edge.control import ControlPlan, PlannedCommand, PlanStep
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.daemon import plan_for_page
from ven_edge.status_model import PushHealth
from ven_edge.web.app import StatusNotifier, create_app, start_web
from ven_edge.web.status import (
    GatewayInfo,
    Health,
    HeaterLinkHealth,
    HeaterStatus,
    Plan,
    StatusSnapshot,
    VtnHealth,
)

ARTIFACTS = REPO_ROOT / "test-artifacts"

# One browser for the module (launching Chromium costs about a second), in the module's loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")

# Debian's chromium (scripts/system-deps.sh); the binary behind the /usr/bin wrapper first, which
# skips the wrapper's harmless /etc/chromium.d warnings (docs/status-api.md, "Browser tests").
CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def chromium_path() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium")
    if found is None:
        raise RuntimeError("Debian chromium is missing: run scripts/system-deps.sh")
    return found


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Site:
    url: str
    provider: FakeProvider
    runner: web.AppRunner


@pytest_asyncio.fixture(loop_scope="module")
async def serve() -> AsyncIterator[Callable[..., Awaitable[Site]]]:
    runners: list[web.AppRunner] = []

    async def _serve(
        *,
        snapshot: StatusSnapshot | None = None,
        long_poll: bool = True,
        chartjs_path: Path | None = None,
        poll_interval_s: float = 5,
    ) -> Site:
        notifier = StatusNotifier() if long_poll else None
        provider = FakeProvider(snapshot or make_snapshot(), notifier)
        app = create_app(
            provider,
            notifier=notifier,
            chartjs_path=chartjs_path,
            tz=ZONE,
            poll_interval_s=poll_interval_s,
        )
        runner, _ = await start_web(app, "127.0.0.1", 0)
        runners.append(runner)
        return Site(f"http://127.0.0.1:{runner.addresses[0][1]}", provider, runner)

    yield _serve
    for runner in runners:
        await runner.cleanup()


@dataclass
class PageLog:
    """Console errors, page errors and every URL the page asked for."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


async def open_page(browser: Browser, url: str, *, width: int = 1100) -> tuple[Page, PageLog]:
    # A fresh context per page: no cache or state shared between tests.
    context = await browser.new_context(viewport={"width": width, "height": 900})
    page = await context.new_page()
    log = PageLog()
    log.attach(page)
    await page.goto(url)
    return page, log


CHART_INFO = """() => {
  const chart = Chart.getChart(document.getElementById("plan-chart"));
  if (!chart) return null;
  return {
    labels: chart.data.labels,
    datasets: chart.data.datasets.map((d) => ({type: d.type, label: d.label, data: d.data})),
    barColors: chart.data.datasets[1].backgroundColor,
    rendered: chart.data.datasets.map((d, i) => chart.getDatasetMeta(i).data.length),
    barHeights: chart.getDatasetMeta(1).data.map((bar) => bar.height),
    width: chart.width,
    height: chart.height,
  };
}"""


NO_OVERFLOW = """() => {
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth) return false;
  for (const card of document.querySelectorAll(".card")) {
    if (card.scrollWidth > card.clientWidth) return false;
  }
  return true;
}"""


async def chart_info(page: Page) -> dict[str, Any]:
    await page.wait_for_function(
        '() => window.Chart && Chart.getChart(document.getElementById("plan-chart"))'
    )
    info = await page.evaluate(CHART_INFO)
    assert isinstance(info, dict)
    return info


def expected_window(snapshot_json: dict[str, Any]) -> list[dict[str, Any]]:
    plan = snapshot_json["plan"]
    assert len(plan["intervals"]) == 120
    return plan["intervals"][4 : 4 + WINDOW_STEPS]  # 16:30 onwards (plan starts at 15:30)


async def test_page_shows_state_chart_events_health(browser: Browser, serve) -> None:
    # 16:30: the plan pre-heats before the 17:00 price peak; the heater reports Running Heightened.
    site = await serve(snapshot=make_snapshot(state_code=3))
    page, log = await open_page(browser, site.url)

    await expect(page.locator("#state-text")).to_have_text("Pre-heating")
    await expect(page.locator("#heater-card")).to_have_attribute("data-mode", "preheating")
    await expect(page.locator("#temp")).to_have_text("126 °F")
    await expect(page.locator("#temp-sub")).to_have_text("52 °C · set to 130 °F")
    await expect(page.locator("#stored-text")).to_have_text("74 % · 2.9 of 3.9 kWh")
    await expect(page.locator("#stored-bar")).to_have_attribute("aria-valuenow", "74")
    await expect(page.locator("#power")).to_have_text("450 W")

    # Events: nothing now, the evening peak next.
    await expect(page.locator("#event-current")).to_contain_text("No grid event right now.")
    next_event = page.locator("#event-next")
    await expect(next_event).to_contain_text("Evening peak price 0.42 USD/kWh")
    await expect(next_event).to_contain_text("17:00 – 19:00 · starts in 30 min")
    await expect(next_event).to_contain_text("Program: Winter peak pricing")
    await expect(next_event).not_to_contain_text("prog-winter-7")  # the name, not the id

    # The chart: drawn by Chart.js with one point per planning step in the next 24 hours.
    snapshot_json = site.provider.snapshot.as_json(ZONE)
    window = expected_window(snapshot_json)
    info = await chart_info(page)
    assert info["labels"][0] == "16:30"
    assert info["labels"][-1] == "16:15"
    assert len(info["labels"]) == WINDOW_STEPS
    price, heat = info["datasets"]
    assert price["type"] == "line"
    assert price["data"] == [interval["price"] for interval in window]
    assert heat["type"] == "bar"
    assert heat["data"] == [interval["heat_kwh"] for interval in window]
    assert info["rendered"] == [WINDOW_STEPS, WINDOW_STEPS]
    assert info["width"] > 300
    assert info["height"] > 150
    # Bars are drawn in proportion: pre-heat steps tall, the peak-hour steps empty.
    heights = info["barHeights"]
    assert heights[0] > 0  # 16:30, pre-heating
    assert heights[2] == 0  # 17:00, peak
    # Pre-heating bars stand out from heating in normal operation.
    colors = info["barColors"]
    assert colors[0] == colors[1] != colors[10]
    # The canvas really has pixels on it.
    painted = await page.evaluate(
        """() => {
          const c = document.getElementById("plan-chart");
          const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
          let n = 0;
          for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
          return n;
        }"""
    )
    assert painted > 5000

    # The tooltip for a step names the command and its reason.
    reason = await page.evaluate(
        """(i) => {
          const chart = Chart.getChart(document.getElementById("plan-chart"));
          return chart.options.plugins.tooltip.callbacks.afterBody([{dataIndex: i}]);
        }""",
        4,  # 17:30
    )
    assert reason == "Save energy: Evening peak: 0.42 USD/kWh, the day's highest price"

    # The command list beneath the chart.
    commands = page.locator("#commands li")
    await expect(commands).to_have_count(3)
    await expect(commands.nth(0)).to_contain_text("Now–17:00")
    await expect(commands.nth(0)).to_contain_text("Pre-heat while power costs 0.16 USD/kWh")
    await expect(commands.nth(1)).to_contain_text("17:00–19:00")
    await expect(commands.nth(1)).to_contain_text("Save energy")
    await expect(commands.nth(2)).to_contain_text("Tomorrow 15:00–17:00")

    # Health, device, gateway.
    await expect(page.locator("#link-health")).to_contain_text("Heater connected")
    await expect(page.locator("#link-health")).to_contain_text(
        "Port /dev/ttyAMA0 · last message 3 s ago · 0 errors"
    )
    vtn = page.locator("#vtn-health")
    await expect(vtn).to_contain_text("Utility server reachable")
    await expect(vtn).to_contain_text("https://vtn.example-utility.com/openadr3/3.1.0")
    await expect(vtn).to_contain_text("registered as ven-edge-7f3a")
    await expect(vtn).not_to_contain_text("s3cret")
    await expect(page.locator("#device")).to_contain_text("Water heater, heat pump")
    await expect(page.locator("#device")).to_contain_text("HPTU-50N")
    await expect(page.locator("#device")).to_contain_text("0x0A05")
    await expect(page.locator("#gateway")).to_have_text("ven-edge 0.1.0 · running for 3 days")
    await expect(page.locator("#stale")).to_be_hidden()
    await expect(page.locator("#clock")).to_be_hidden()
    await expect(page.locator("#saving")).to_be_hidden()  # the planner gave no cost
    await expect(page.locator("#price-unit")).to_have_text("Prices in USD/kWh")

    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "status-page.png", full_page=True)

    # Nothing but the gateway itself was asked for, and no script or CSP error happened.
    assert log.requests
    assert all(url.startswith(site.url + "/") for url in log.requests), log.requests
    assert log.errors == []


SCALES = """() => {
  const chart = Chart.getChart(document.getElementById("plan-chart"));
  const top = (values) => Math.max(...values.filter((v) => v !== null));
  return {
    kwh: [chart.scales.kwh.max, top(chart.data.datasets[1].data)],
    price: [chart.scales.price.max, top(chart.data.datasets[0].data)],
    legend: chart.legend.legendItems.map((item) => item.text),
  };
}"""


def prices_until(plan: Plan, last: datetime) -> Plan:
    """The plan as when the utility's prices stop at ``last``: no price from then on."""
    return replace(
        plan,
        intervals=tuple(
            replace(interval, price=None) if interval.start >= last else interval
            for interval in plan.intervals
        ),
    )


async def test_chart_axes_fit_large_heating_and_say_where_prices_stop(
    browser: Browser, serve
) -> None:
    # Pre-heating at 4.8 kW (1.2 kWh a step) with prices of at most 0.42: each axis has its own
    # top, above its data, so that neither the bars nor the price line reach the frame.
    prices_end = NOW + timedelta(hours=10, minutes=30)  # 03:00 tomorrow
    plan = prices_until(make_plan(load_up_kwh=1.2), prices_end)
    site = await serve(snapshot=make_snapshot(state_code=3, plan=plan))
    page, log = await open_page(browser, site.url)
    await chart_info(page)
    scales = await page.evaluate(SCALES)
    kwh_max, kwh_top = scales["kwh"]
    price_max, price_top = scales["price"]
    assert kwh_top == 1.2
    assert kwh_max >= 1.1 * kwh_top
    assert price_top == 0.42
    assert price_max >= 1.1 * price_top
    assert kwh_max < 2 * kwh_top  # headroom, not a flattened chart
    assert price_max < 2 * price_top
    # The price line ends where the utility's prices do, and the page says so.
    note = page.locator("#price-note")
    await expect(note).to_be_visible()
    await expect(note).to_have_text(
        "No price from the utility after 03:00 tomorrow: the price line stops there."
    )
    assert scales["legend"][0] == "Price (where the utility sent one)"
    # The bars' tops are inside the chart area: the tallest is shorter than the area.
    area = await page.evaluate(
        """() => {
          const chart = Chart.getChart(document.getElementById("plan-chart"));
          const bars = chart.getDatasetMeta(1).data;
          return [chart.chartArea.top, Math.min(...bars.map((bar) => bar.y))];
        }"""
    )
    assert area[1] > area[0] + 5
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "status-page-price-gap.png", full_page=True)
    # On a phone the note wraps inside the card.
    phone, phone_log = await open_page(browser, site.url, width=390)
    await chart_info(phone)
    await expect(phone.locator("#price-note")).to_be_visible()
    assert await phone.evaluate(NO_OVERFLOW)
    await phone.screenshot(path=ARTIFACTS / "status-page-price-gap-phone.png", full_page=True)
    assert phone_log.errors == []
    # With prices over the whole window there is no note and the legend says "Price".
    site.provider.set(make_snapshot(state_code=3, plan=make_plan(load_up_kwh=1.2)))
    await expect(note).to_be_hidden()
    assert (await page.evaluate(SCALES))["legend"][0] == "Price"
    assert log.errors == []


async def test_page_on_a_phone(browser: Browser, serve) -> None:
    site = await serve()
    site.provider.set(saving_snapshot())
    page, log = await open_page(browser, site.url, width=390)
    await expect(page.locator("#state-text")).to_have_text(
        "Saving energy: utility event until 19:00"
    )
    await chart_info(page)
    # One column, nothing wider than the screen.
    assert await page.evaluate(NO_OVERFLOW)
    boxes = [
        await page.locator(selector).bounding_box()
        for selector in ("#heater-card", "#events-card", "#plan-card")
    ]
    assert all(box is not None for box in boxes)
    xs = {round(box["x"]) for box in boxes if box is not None}
    assert len(xs) == 1  # stacked, not side by side
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "status-page-phone.png", full_page=True)
    assert log.errors == []


async def test_page_updates_in_place_on_change(browser: Browser, serve) -> None:
    site = await serve(long_poll=True)
    page, log = await open_page(browser, site.url)
    await expect(page.locator("#state-text")).to_have_text("Heating normally")
    before = await chart_info(page)
    # A marker that a reload would wipe out.
    await page.evaluate("() => { window.notReloaded = true; }")

    site.provider.set(saving_snapshot())
    # Long-poll: the page hears of the change at once, well within the 5 s polling period.
    await expect(page.locator("#state-text")).to_have_text(
        "Saving energy: utility event until 19:00", timeout=3000
    )
    await expect(page.locator("#heater-card")).to_have_attribute("data-mode", "saving")
    current = page.locator("#event-current")
    await expect(current).to_contain_text("Evening peak price 0.42 USD/kWh")
    await expect(current).to_contain_text("17:00 – 19:00 · 1 h 55 min left")
    await expect(page.locator("#event-next")).to_contain_text(
        "Tomorrow 17:00 – 19:00 · starts in 23 h 55 min"
    )
    await expect(page.locator("#power")).to_have_text("0 W")
    assert await page.evaluate("() => window.notReloaded === true")
    # The chart moved with the clock (at 17:05 the 16:30 and 16:45 steps have left the window)
    # and was updated, not recreated.
    after = await chart_info(page)
    assert after["labels"][0] == "17:00"
    # 17:00 today to 17:00 tomorrow: both end steps overlap the 24 hours from 17:05.
    assert len(after["labels"]) == WINDOW_STEPS + 1
    assert before["labels"][0] == "16:30"
    same_chart = await page.evaluate(
        """() => Chart.getChart(document.getElementById("plan-chart")).id"""
    )
    assert same_chart == 0

    # A new plan: the bars follow.
    site.provider.set(make_snapshot(plan=make_plan(load_up_kwh=0.9)))
    await expect(page.locator("#state-text")).to_have_text("Heating normally", timeout=3000)
    await page.wait_for_function(
        """() => Chart.getChart(document.getElementById("plan-chart")).data.datasets[1].data[0]
                 === 0.9"""
    )
    assert log.errors == []


async def test_page_polls_without_long_poll(browser: Browser, serve) -> None:
    site = await serve(long_poll=False, poll_interval_s=1)
    page, _ = await open_page(browser, site.url)
    await expect(page.locator("#state-text")).to_have_text("Heating normally")
    await page.evaluate("() => { window.notReloaded = true; }")
    calls = site.provider.calls
    site.provider.set(saving_snapshot())
    # Plain polling at the period the server gives (X-Poll-Interval: 1 s here, 5 s by default).
    await expect(page.locator("#state-text")).to_have_text(
        "Saving energy: utility event until 19:00", timeout=3000
    )
    assert site.provider.calls > calls
    assert await page.evaluate("() => window.notReloaded === true")


async def test_page_keeps_last_data_when_gateway_fails(browser: Browser, serve) -> None:
    site = await serve(long_poll=True, poll_interval_s=1)
    page, _ = await open_page(browser, site.url)
    await expect(page.locator("#state-text")).to_have_text("Heating normally")
    site.provider.fail = True
    assert site.provider.notifier is not None
    site.provider.notifier.notify()
    banner = page.locator("#stale")
    await expect(banner).to_be_visible(timeout=3000)
    await expect(banner).to_have_text(
        "No fresh information from the gateway. Showing the information from 16:30."
    )
    await expect(page.locator("#state-text")).to_have_text("Heating normally")
    # It recovers by itself (the page retries at the polling period after a failure).
    site.provider.fail = False
    await expect(banner).to_be_hidden(timeout=3000)


async def test_page_without_chart_library(browser: Browser, serve, tmp_path: Path) -> None:
    site = await serve(chartjs_path=tmp_path / "no-chart.js")
    page, log = await open_page(browser, site.url)
    await expect(page.locator("#state-text")).to_have_text("Heating normally")
    await expect(page.locator("#chart-missing")).to_be_visible()
    await expect(page.locator("#plan-chart")).to_be_hidden()
    await expect(page.locator("#commands li")).to_have_count(3)
    # The only errors are about the missing library itself (404, not a script).
    assert log.errors
    assert all("404" in error or "vendor/chart.js" in error for error in log.errors), log.errors


async def test_page_before_anything_is_known(browser: Browser, serve) -> None:
    # Just after start: no heater answer, no plan, no device information, the VTN failing.
    snapshot = StatusSnapshot(
        generated_at=NOW,
        heater=HeaterStatus.from_device(DeviceSnapshot()),
        health=Health(
            HeaterLinkHealth(ok=False, port="/dev/ttyUSB0", last_frame=None, errors=2),
            VtnHealth(
                ok=False,
                url="http://192.168.1.20:8080/openadr3/3.1.0",
                last_error="connection refused",
            ),
        ),
        gateway=GatewayInfo(version="0.1.0", uptime_s=42),
    )
    site = await serve(snapshot=snapshot)
    page, log = await open_page(browser, site.url, width=390)
    await expect(page.locator("#state-text")).to_have_text("Heater not connected")
    await expect(page.locator("#heater-card")).to_have_attribute("data-mode", "unknown")
    await expect(page.locator("#temp")).to_have_text("–")
    await expect(page.locator("#stored-text")).to_have_text("not reported")
    await expect(page.locator("#event-current")).to_contain_text("No grid event right now.")
    await expect(page.locator("#event-next")).to_contain_text("Nothing scheduled.")
    await expect(page.locator("#commands")).to_have_text("No plan yet: the heater runs normally.")
    assert (await chart_info(page))["labels"] == []
    await expect(page.locator(".chart-box")).to_be_hidden()
    link = page.locator("#link-health")
    await expect(link).to_contain_text("Heater not responding")
    await expect(link).to_contain_text("last message never · 2 errors")
    vtn = page.locator("#vtn-health")
    await expect(vtn).to_contain_text("Utility server unreachable")
    await expect(vtn).to_contain_text("not registered")
    await expect(vtn).to_contain_text("connection refused")
    await expect(page.locator("#device")).to_have_text(
        "The heater has not sent its device information yet."
    )
    await expect(page.locator("#gateway")).to_have_text("ven-edge 0.1.0 · running for 1 min")
    assert await page.evaluate(NO_OVERFLOW)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "status-page-starting.png", full_page=True)
    assert log.errors == []


async def test_page_says_what_is_happening(browser: Browser, serve) -> None:
    # The plan as the daemon hands it over: the command list covers the horizon, stretches
    # without a command as normal operation, with the day's expected cost against normal mode.
    control = ControlPlan(
        made_at=NOW,
        commands=(
            PlannedCommand(
                NOW + timedelta(hours=1), NOW + timedelta(hours=3), CommandKind.SHED, "dear"
            ),
        ),
        steps=tuple(PlanStep(NOW + k * timedelta(minutes=15), 0.2, 0.1, None) for k in range(96)),
        price_unit="USD/KWH",
        expected_cost=1.19,
        normal_cost=1.5,
    )
    plan = plan_for_page(control, NOW)
    site = await serve(snapshot=make_snapshot(state_code=1, plan=plan))
    page, log = await open_page(browser, site.url)
    commands = page.locator("#commands li")
    await expect(commands).to_have_count(3)
    await expect(commands.nth(0)).to_contain_text("Now–17:30")
    await expect(commands.nth(0)).to_contain_text("Normal operation")
    await expect(commands.nth(1)).to_contain_text("17:30–19:30")
    await expect(commands.nth(2)).to_contain_text("19:30–16:30")
    await expect(commands.nth(2)).to_contain_text("Normal operation")
    await expect(page.locator("#saving")).to_have_text(
        "Expected saving over the next 24 hours: 0.31 USD "
        "(1.19 USD instead of 1.50 USD in normal operation)"
    )
    await expect(page.locator("#price-unit")).to_have_text("Prices in USD/KWH")
    await expect(page.locator("#clock")).to_be_hidden()

    # Without a synchronised clock the gateway plans nothing, and the page says why.
    site.provider.set(
        make_snapshot(state_code=1, plan=Plan(step_minutes=15), clock_synchronised=False)
    )
    await expect(page.locator("#clock")).to_be_visible()
    await expect(page.locator("#clock")).to_contain_text("clock is not set yet")
    await expect(page.locator("#commands li")).to_have_text(
        "No plan yet: the heater runs normally."
    )
    await expect(page.locator("#saving")).to_be_hidden()
    assert log.errors == []


async def test_page_says_whose_plan_runs(browser: Browser, serve) -> None:
    from ven_edge.status_model import PlanBasis

    steps = tuple(PlanStep(NOW + k * timedelta(minutes=15), 0.2, 0.1, None) for k in range(96))
    plan = plan_for_page(ControlPlan(made_at=NOW, steps=steps), NOW)
    site = await serve(snapshot=make_snapshot(state_code=1, plan=plan))
    page, log = await open_page(browser, site.url)
    await expect(page.locator("#plan-source")).to_be_hidden()  # not in a planned fleet

    following = PlanBasis(True, "following", until=NOW + timedelta(hours=5))
    site.provider.set(make_snapshot(state_code=1, plan=replace(plan, source=following)))
    await expect(page.locator("#plan-source")).to_have_text(
        "Following the utility's fleet schedule until 21:30"
    )
    stale = PlanBasis(False, "stale", since=NOW - timedelta(hours=1))
    site.provider.set(make_snapshot(state_code=1, plan=replace(plan, source=stale)))
    await expect(page.locator("#plan-source")).to_have_text(
        "Own plan: fleet schedule stale since 15:30"
    )
    assert log.errors == []


@pytest.mark.parametrize(
    ("push", "words", "absent"),
    [
        (
            PushHealth("mqtt", "subscribed", NOW - timedelta(hours=2), "mqtts://broker.example"),
            ["Notifications by MQTT since 14:30", "mqtts://broker.example"],
            ["polling instead"],
        ),
        (
            PushHealth(
                "mqtt",
                "unreachable",
                NOW - timedelta(minutes=20),
                "mqtts://u:pw@broker.example:8883",
                "connect failed: [Errno 111] Connection refused",
            ),
            [
                "MQTT broker unreachable since 16:10; polling instead",
                "mqtts://broker.example:8883",
                "Connection refused",
            ],
            ["pw@"],
        ),
        (
            PushHealth(
                "mqtt",
                "refused",
                NOW,
                "mqtts://broker.example",
                "the broker refused the connection: Not authorized",
            ),
            ["MQTT broker refused the gateway since 16:30; polling instead", "Not authorized"],
            ["Notifications by MQTT"],
        ),
        (
            PushHealth("webhook", "subscribed", NOW - timedelta(days=1)),
            ["Notifications by webhook since Tue 16:30"],
            ["MQTT"],
        ),
        (
            PushHealth("polling", "polling", problem="the VTN's MQTT binding lists no broker URIs"),
            ["Polling only (no notifications)", "lists no broker URIs"],
            ["since"],
        ),
    ],
    ids=["mqtt", "unreachable", "refused", "webhook", "polling"],
)
async def test_page_shows_how_the_utility_reaches_the_gateway(
    browser: Browser, serve, push: PushHealth, words: list[str], absent: list[str]
) -> None:
    snapshot = make_snapshot()
    vtn = replace(snapshot.health.vtn, push=push)
    site = await serve(snapshot=replace(snapshot, health=replace(snapshot.health, vtn=vtn)))
    page, log = await open_page(browser, site.url)
    block = page.locator("#vtn-health")
    await expect(block).to_contain_text("Utility server reachable")
    for text in words:
        await expect(block).to_contain_text(text)
    for text in absent:
        await expect(block).not_to_contain_text(text)
    await expect(page.locator(f"#vtn-health .push-{push.state}")).to_have_count(1)
    assert log.errors == []
