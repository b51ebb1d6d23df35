"""vtn_lite's fleet planner job: planning reports in (strictly), schedules out, stale VENs and
infeasible groups left alone (docs/fleet-planner.md, "Inputs and schedules")."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from tests.vtn_lite.conftest import CLIENTS, Api, get_token, make_config
from ven_edge.oadr3.planning import PlanningInputs, planning_report
from vtn_lite.config import ConfigError, parse_config
from vtn_lite.planner.job import PlanOutcome
from vtn_lite.planner.settings import GroupSettings, PlannerSettings
from vtn_lite.server import RunningVtn, running_vtn

START = datetime(2026, 2, 17, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START.timestamp() + 60

    def __call__(self) -> float:
        return self.now


def settings(limit_kw: float) -> PlannerSettings:
    return PlannerSettings(
        program="fleet",
        interval=3600,
        stale_after=1800,
        groups=(GroupSettings("feeder", (limit_kw,) * 24, vens=("ven-a", "ven-b")),),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def started(limit_kw: float, clock: Clock) -> AsyncIterator[tuple[RunningVtn, Api]]:
    config = make_config(planner=settings(limit_kw))
    async with running_vtn(config, clock=clock) as server, aiohttp.ClientSession() as session:
        tokens = {who: await get_token(session, server.base_url, who) for who in CLIENTS}
        api = Api(session, server.base_url, tokens)
        await api.ok("POST", "/vens", "ven", {"objectType": "VEN_VEN_REQUEST", "venName": "ven-a"})
        await api.ok("POST", "/vens", "ven2", {"objectType": "VEN_VEN_REQUEST", "venName": "ven-b"})
        yield server, api


def inputs(stored: float = 3.0) -> PlanningInputs:
    n = 96
    # Evening draws: the tank must gain heat before them.
    draw = tuple(0.6 if 68 <= k < 80 else 0.05 for k in range(n))
    return PlanningInputs(
        start=START,
        stored_kwh=stored,
        capacity_kwh=10.0,
        reserve_kwh=2.0,
        end_min_kwh=3.0,
        draw_kwh=draw,
        hp_kw=(0.5,) * n,
        hp_cop=(3.0,) * n,
        element_kw=(4.5,) * n,
    )


async def request_id(api: Api, who: str) -> str:
    events = await api.ok("GET", "/events", who)
    ids = [e["id"] for e in events if e.get("eventName") == "fleet-planning-inputs"]
    assert len(ids) == 1
    return str(ids[0])


async def send(api: Api, who: str, event: str, body: dict[str, Any] | None = None) -> int:
    report = body or planning_report(
        inputs(), event_id=event, client_name=who, resource_name="heater", name=f"{who}/1"
    )
    status, _ = await api.call("POST", "/reports", who, report)
    return status


async def schedules(api: Api, who: str) -> list[dict[str, Any]]:
    events = await api.ok("GET", "/events", who)
    return [e for e in events if str(e.get("eventName", "")).startswith("fleet-schedule-")]


async def both_reported_and_planned(server: RunningVtn, api: Api) -> PlanOutcome:
    event = await request_id(api, "ven")
    assert await send(api, "ven", event) == 201
    assert await send(api, "ven2", event) == 201
    planner = server.parts.planner
    assert planner is not None
    return await planner.plan()


async def test_reports_in_schedules_out_within_the_group_limit(clock: Clock) -> None:
    async for server, api in started(1.0, clock):
        outcome = await both_reported_and_planned(server, api)
        planner = server.parts.planner
        assert planner is not None
        (group,) = outcome.groups
        assert group.feasible
        assert group.vens == ("ven-a", "ven-b")
        assert max(group.aggregate_kw) <= 1.0 + 1e-6
        assert outcome.published == 2
        mine = await schedules(api, "ven")
        # Each VEN reads its own schedule only: targeted at its name.
        assert [e["eventName"] for e in mine] == ["fleet-schedule-ven-a"]
        assert mine[0]["targets"] == ["ven-a"]
        limits = [i["payloads"][0]["values"][0] for i in mine[0]["intervals"]]
        assert len(limits) == 96
        theirs = await schedules(api, "ven2")
        other = [i["payloads"][0]["values"][0] for i in theirs[0]["intervals"]]
        assert all(a + b <= 1.0 + 1e-3 for a, b in zip(limits, other, strict=True))
        # A new plan modifies the schedule event; it does not add one.
        clock.now += 900
        await planner.plan()
        again = await schedules(api, "ven")
        assert [e["id"] for e in again] == [mine[0]["id"]]
        assert again[0]["intervalPeriod"]["start"] == "2026-02-17T12:15:00Z"


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        # NaN and infinity are not JSON: the strict reader refuses them before the planner.
        (lambda b: b["resources"][0]["intervals"][0]["payloads"][0].update(values=[math.nan]), ""),
        (lambda b: b["resources"][0]["intervals"][5]["payloads"][0].update(values=[math.inf]), ""),
        (
            lambda b: b["resources"][0]["intervals"][5]["payloads"][0].update(values=[10**400]),
            "intervals[5].payloads[0].values[0]",
        ),
        (
            lambda b: b["resources"][0]["intervals"][5]["payloads"][0].update(values=[1e12]),
            "draw_kwh[5]",
        ),
        (lambda b: b["resources"][0]["intervals"].__delitem__(3), "not contiguous"),
        (
            lambda b: b["resources"][0].update(intervals=b["resources"][0]["intervals"] * 3),
            "more than 192",
        ),
    ],
)
async def test_a_bad_planning_report_is_refused_and_the_last_good_inputs_stay(
    clock: Clock, damage: Any, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    async for server, api in started(5.0, clock):
        event = await request_id(api, "ven")
        assert await send(api, "ven", event) == 201
        planner = server.parts.planner
        assert planner is not None
        good = planner.book.latest["ven-a"]
        body = planning_report(
            inputs(stored=9.0), event_id=event, client_name="ven", resource_name="h", name="ven/2"
        )
        damage(body)
        status, problem = await api.call("POST", "/reports", "ven", body)
        assert status == 400
        assert planner.book.latest["ven-a"] == good
        if why:
            assert why in problem["detail"]
            assert "planning report from VEN ven-a refused" in caplog.text
            assert why in caplog.text


async def test_a_report_names_its_ven_by_the_client_that_sent_it(clock: Clock) -> None:
    async for server, api in started(5.0, clock):
        event = await request_id(api, "ven")
        body = planning_report(
            inputs(), event_id=event, client_name="ven-b", resource_name="h", name="spoof/1"
        )
        assert await send(api, "ven", event, body) == 201
        planner = server.parts.planner
        assert planner is not None
        assert set(planner.book.latest) == {"ven-a"}


async def test_a_stale_ven_is_not_planned_and_its_schedule_withdrawn(clock: Clock) -> None:
    async for server, api in started(5.0, clock):
        event = await request_id(api, "ven")
        assert await send(api, "ven", event) == 201
        planner = server.parts.planner
        assert planner is not None
        await planner.plan()
        assert len(await schedules(api, "ven")) == 1
        clock.now += 1200
        assert await send(api, "ven2", event) == 201
        clock.now += 1200  # ven-a's inputs are 40 minutes old, ven-b's 20
        outcome = await planner.plan()
        assert set(outcome.stale) == {"ven-a"}
        assert outcome.groups[0].vens == ("ven-b",)
        assert await schedules(api, "ven") == []
        assert len(await schedules(api, "ven2")) == 1


async def test_an_infeasible_group_gets_nothing_new_and_says_its_least_limit(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    async for server, api in started(0.05, clock):
        outcome = await both_reported_and_planned(server, api)
        (group,) = outcome.groups
        assert not group.feasible
        assert group.min_feasible_limit_kw is not None
        assert group.min_feasible_limit_kw > 0.05
        assert outcome.published == 0
        assert await schedules(api, "ven") == []
        assert "cannot keep its limit" in caplog.text
        assert "smallest feasible flat limit" in caplog.text


async def test_a_dry_run_publishes_nothing(clock: Clock) -> None:
    async for server, api in started(1.0, clock):
        event = await request_id(api, "ven")
        assert await send(api, "ven", event) == 201
        planner = server.parts.planner
        assert planner is not None
        outcome = await planner.plan(dry_run=True)
        assert outcome.groups[0].aggregate_kw
        assert outcome.published == 0
        assert await schedules(api, "ven") == []


def test_planner_configuration() -> None:
    config = parse_config(
        {
            "planner": {
                "program": "fleet",
                "timezone": "Europe/Paris",
                "groups": {
                    "f7": {"target": "feeder-7", "limit_kw": [2.0] * 12 + [1.0] * 12},
                    "f8": {"vens": ["a", "b"], "limit_kw": 3},
                },
            }
        }
    )
    planner = config.planner
    assert planner is not None
    assert planner.groups[0].target == "feeder-7"
    assert planner.groups[0].limit_kw[13] == 1.0
    assert planner.groups[1].limit_kw == (3.0,) * 24
    assert parse_config({"planner": {"enabled": False}}).planner is None
    for bad, message in [
        ({"planner": {"programme": "x"}}, "unknown key 'programme'"),
        ({"planner": {"groups": {"g": {"vens": ["a"], "limit": 1}}}}, "unknown key 'limit'"),
        ({"planner": {"groups": {"g": {"vens": ["a"]}}}}, "needs limit_kw"),
        ({"planner": {"groups": {"g": {"limit_kw": 1}}}}, "needs vens or target"),
        ({"planner": {"groups": {"g": {"vens": ["a"], "limit_kw": [1] * 23}}}}, "24"),
        ({"planner": {"groups": {"g": {"vens": ["a"], "limit_kw": -1}}}}, "0 kW or more"),
        ({"planner": {"groups": {"g": {"vens": ["a"], "limit_kw": math.nan}}}}, "kW numbers"),
        ({"planner": {"timezone": "Mars/Olympus"}}, "unknown"),
        ({"planner": {"method": "magic"}}, "method"),
        ({"planner": {"interval": 0}}, "interval"),
        ({"planner": {}, "server": {"workers": 2, "database": "x.sqlite"}}, "workers"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse_config(bad)


def test_the_plan_start_is_the_quarter_hour() -> None:
    from vtn_lite.planner.inputs import quarter_hour, to_problem

    start = quarter_hour(START + timedelta(minutes=37))
    assert start == START + timedelta(minutes=30)
    problem = to_problem(
        replace(inputs(), draw_kwh=tuple(float(k) / 100 for k in range(96))), start
    )
    assert problem.load_kwh[0] == 0.02  # the report's third quarter hour
    assert problem.load_kwh[94] == 0.0  # past its end, read as repeating daily


async def test_only_each_vens_latest_planning_report_is_kept(clock: Clock) -> None:
    async for server, api in started(5.0, clock):
        event = await request_id(api, "ven")
        for k in range(1, 4):
            body = planning_report(
                inputs(stored=float(k)),
                event_id=event,
                client_name="ven",
                resource_name="h",
                name=f"ven/{k}",
            )
            assert await send(api, "ven", event, body) == 201
        assert await send(api, "ven2", event) == 201
        reports = await api.ok("GET", "/reports", "bl", params={"eventID": event})
        assert sorted(r["reportName"] for r in reports) == ["ven/3", "ven2/1"]
        planner = server.parts.planner
        assert planner is not None
        assert planner.book.latest["ven-a"].inputs.stored_kwh == 3.0
