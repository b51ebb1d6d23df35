"""Realistic status snapshots and a mutable provider standing in for the daemon."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.devices import in_page_units
from ven_edge.cta2045.device import DeviceInformationReply
from ven_edge.web.app import StatusNotifier
from ven_edge.web.status import (
    EventInfo,
    Events,
    GatewayInfo,
    Health,
    HeaterLinkHealth,
    HeaterStatus,
    Plan,
    PlanCommand,
    PlanInterval,
    StatusSnapshot,
    VtnHealth,
)

ZONE = ZoneInfo("America/Denver")
# 16:30 in Denver on a winter weekday.
NOW = datetime(2026, 1, 14, 16, 30, tzinfo=ZONE)
PEAK_START = datetime(2026, 1, 14, 17, 0, tzinfo=ZONE)
PEAK_END = datetime(2026, 1, 14, 19, 0, tzinfo=ZONE)
NEXT_PEAK_START = PEAK_START + timedelta(days=1)
NEXT_PEAK_END = PEAK_END + timedelta(days=1)
STEP = timedelta(minutes=15)
# The plan starts an hour before "now" and runs 30 hours: 120 steps, of which the 96 from
# 16:30 on fall in the page's 24-hour window.
PLAN_START = NOW - timedelta(hours=1)
PLAN_STEPS = 120
WINDOW_STEPS = 96
CAPACITY_KWH = 3.9


def price_at(t: datetime) -> float:
    """A time-of-use tariff: 0.42 USD/kWh from 17:00 to 19:00, 0.09 overnight, 0.16 otherwise."""
    hour = t.astimezone(ZONE).hour
    if 17 <= hour < 19:
        return 0.42
    if hour < 6 or hour >= 22:
        return 0.09
    return 0.16


def make_plan(*, load_up_kwh: float = 0.45) -> Plan:
    intervals = []
    soc = 2.4
    for i in range(PLAN_STEPS):
        start = PLAN_START + i * STEP
        hour = start.astimezone(ZONE).hour
        if hour in (15, 16):  # pre-heat before the peak
            heat = load_up_kwh
        elif 17 <= hour < 19:
            heat = 0.0
        else:
            heat = round(0.12 + 0.08 * math.sin(i / 7), 3)
        intervals.append(PlanInterval(start, price_at(start), heat, round(soc, 3)))
        soc = min(CAPACITY_KWH, max(0.4, soc + heat - 0.15))
    commands = (
        PlanCommand(PLAN_START, PEAK_START, "LOAD_UP", "Pre-heat while power costs 0.16 USD/kWh"),
        PlanCommand(
            PEAK_START, PEAK_END, "SHED", "Evening peak: 0.42 USD/kWh, the day's highest price"
        ),
        PlanCommand(
            NEXT_PEAK_START - timedelta(hours=2),
            NEXT_PEAK_START,
            "LOAD_UP",
            "Pre-heat before tomorrow's peak",
        ),
    )
    return Plan(
        step_minutes=15,
        start=PLAN_START,
        intervals=tuple(intervals),
        commands=commands,
        price_unit="USD/kWh",
    )


PEAK_EVENT = EventInfo(
    id="evt-peak-0114",
    program="prog-winter-7",
    kind="PRICE",
    start=PEAK_START,
    end=PEAK_END,
    summary="Evening peak price 0.42 USD/kWh",
    program_name="Winter peak pricing",
)
NEXT_EVENT = EventInfo(
    id="evt-peak-0115",
    program="prog-winter-7",
    kind="PRICE",
    start=NEXT_PEAK_START,
    end=NEXT_PEAK_END,
    summary="Evening peak price 0.42 USD/kWh",
    program_name="Winter peak pricing",
)


def make_snapshot(
    *,
    state_code: int | None = 1,
    current: EventInfo | None = None,
    next_event: EventInfo | None = PEAK_EVENT,
    now: datetime = NOW,
    stored_kwh: float = 2.9,
    power_w: int = 450,
    plan: Plan | None = None,
    clock_synchronised: bool = True,
) -> StatusSnapshot:
    return StatusSnapshot(
        generated_at=now,
        heater=HeaterStatus.from_device(
            in_page_units(
                state_code,
                tank_temp_f=126.4,
                set_point_f=130.0,
                stored_kwh=stored_kwh,
                capacity_kwh=CAPACITY_KWH,
                power_w=power_w,
            ),
            event_end=current.end if current is not None else None,
            now=now,
            tz=ZONE,
        ),
        events=Events(current=current, next=next_event),
        plan=plan if plan is not None else make_plan(),
        health=Health(
            HeaterLinkHealth(
                ok=True, port="/dev/ttyAMA0", last_frame=now - timedelta(seconds=3), errors=0
            ),
            VtnHealth(
                ok=True,
                url="https://ven-7:s3cret@vtn.example-utility.com/openadr3/3.1.0?token=abc",
                ven_id="ven-edge-7f3a",
                last_contact=now - timedelta(seconds=20),
            ),
        ),
        device=DeviceInformationReply(
            cta_version="B",
            vendor_id=0x0A05,
            device_type=0x0003,
            device_revision=1,
            capabilities=0,
            model="HPTU-50N",
            serial="1923A004417",
            firmware="2.3.1 (2024-05-02)",
        ),
        gateway=GatewayInfo(
            version="0.1.0",
            uptime_s=3 * 86400 + 4 * 3600 + 12 * 60,
            clock_synchronised=clock_synchronised,
        ),
    )


def saving_snapshot() -> StatusSnapshot:
    """The same house at 17:05, in the peak-price event: the heater is curtailed."""
    now = NOW + timedelta(minutes=35)
    return make_snapshot(
        state_code=4, current=PEAK_EVENT, next_event=NEXT_EVENT, now=now, power_w=0
    )


@dataclass
class FakeProvider:
    """The daemon's side of the contract: hands out the current snapshot, announces changes."""

    snapshot: StatusSnapshot
    notifier: StatusNotifier | None = None
    fail: bool = False
    calls: int = field(default=0)

    def __call__(self) -> StatusSnapshot:
        self.calls += 1
        if self.fail:
            raise RuntimeError("state not available")
        return self.snapshot

    def set(self, snapshot: StatusSnapshot) -> None:
        self.snapshot = snapshot
        if self.notifier is not None:
            self.notifier.notify()
