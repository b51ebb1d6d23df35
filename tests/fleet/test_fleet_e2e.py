"""End to end: vtn_lite with [planner] and three real gateways on simulated heaters
(hil/fleet.py) under one group limit. Each gateway reports its planning inputs, gets its
schedule and plans within it; together their planned power stays within the limit
(docs/fleet-planner.md, "Inputs and schedules")."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hil.fleet import Member, running_fleet
from tests.conftest import wait_for
from ven_edge.control import ControlPlan
from ven_edge.signals import SignalInterval
from vtn_lite.auth import Principal
from vtn_lite.planner.settings import GroupSettings, PlannerSettings
from vtn_lite.server import demo_config, running_vtn

LIMIT_KW = 0.9  # three heat pumps of 0.4 kW each would draw 1.2 kW in the cheap hours
WAIT_S = 180.0  # generous: a loaded machine runs three daemons, their heaters and a VTN
Q = timedelta(minutes=15)


def planner_settings() -> PlannerSettings:
    return PlannerSettings(
        program="fleet",
        interval=2.0,
        stale_after=3600.0,
        groups=(GroupSettings("feeder", (LIMIT_KW,) * 24, vens=("fleet-1", "fleet-2", "fleet-3")),),
    )


def price_event(program_id: str, now: datetime) -> dict[str, object]:
    hour = now.replace(minute=0, second=0, microsecond=0)
    prices = [0.05] * 4 + [0.30] * 4 + [0.15] * 17
    return {
        "programID": program_id,
        "eventName": "prices",
        "payloadDescriptors": [
            {
                "objectType": "EVENT_PAYLOAD_DESCRIPTOR",
                "payloadType": "PRICE",
                "currency": "USD",
                "units": "KWH",
            }
        ],
        "intervalPeriod": {"start": hour.isoformat().replace("+00:00", "Z"), "duration": "PT1H"},
        "intervals": [
            {"id": k, "payloads": [{"type": "PRICE", "values": [p]}]} for k, p in enumerate(prices)
        ],
    }


def plan_of(member: Member) -> ControlPlan | None:
    return member.parts.daemon.controller.plan


def following(member: Member) -> bool:
    plan = plan_of(member)
    return plan is not None and plan.source is not None and plan.source.fleet


def power_at(plan: ControlPlan, at: datetime) -> float:
    """The plan's electric power (kW) at ``at``: its step's planned input over the step."""
    steps = plan.steps
    for k, step in enumerate(steps):
        end = steps[k + 1].start if k + 1 < len(steps) else step.start + Q
        if step.start <= at < end:
            assert step.input_kwh is not None
            return step.input_kwh / ((end - step.start) / timedelta(hours=1))
    return 0.0


def schedule_of(member: Member) -> list[SignalInterval]:
    daemon = member.parts.daemon
    assert daemon.grid is not None
    event = daemon.grid.labels().fleet_event
    assert event is not None
    return [i for i in daemon.timeline.intervals if i.event_id == event]


async def test_three_gateways_plan_within_their_group_limit(tmp_path: Path) -> None:
    config = demo_config(tmp_path, port=0, scrypt_n=2**4, fleet=3)
    config = replace(config, planner=planner_settings(), console=None)
    async with running_vtn(config) as vtn:
        planner = vtn.parts.planner
        assert planner is not None
        assert planner.program_id is not None
        await vtn.vtn.create(
            Principal("utility", "bl"), "EVENT", price_event(planner.program_id, datetime.now(UTC))
        )
        async with running_fleet(3, vtn.base_url, tmp_path / "fleet", poll_interval_s=5.0) as fleet:
            await wait_for(
                lambda: len(planner.book.latest) == 3, WAIT_S, "planning inputs from three VENs"
            )
            await wait_for(
                lambda: all(following(m) for m in fleet), WAIT_S, "three gateways following"
            )
            outcome = planner.last
            assert outcome is not None
            (group,) = outcome.groups
            assert group.feasible
            assert len(group.vens) == 3
            # The fleet LP's plan keeps the limit, and it binds: alone they would exceed it.
            assert max(group.aggregate_kw) <= LIMIT_KW + 1e-6
            assert max(group.aggregate_kw) >= LIMIT_KW - 1e-3
            plans = [plan_of(m) for m in fleet]
            start = max(p.steps[0].start for p in plans if p is not None)
            for k in range(1, 90):
                at = start + k * Q
                total = 0.0
                for member, plan in zip(fleet, plans, strict=True):
                    assert plan is not None
                    power = power_at(plan, at)
                    own = [i for i in schedule_of(member) if i.start <= at < i.end]
                    if own:  # each gateway keeps its own schedule ...
                        value = own[0].values[0]
                        assert isinstance(value, float | int)
                        assert power <= float(value) + 1e-3, (member.name, at)
                    total += power
                # ... and so the group keeps its limit (0.1 W of rounding per schedule).
                assert total <= LIMIT_KW + 3e-3, at
            # Each gateway's schedule is its own: no other VEN's reached its timeline.
            for member in fleet:
                assert all(
                    not i.event_id or i.event_id == schedule_of(member)[0].event_id
                    for i in member.parts.daemon.timeline.intervals
                    if i.kind == "IMPORT_CAPACITY_LIMIT"
                )
