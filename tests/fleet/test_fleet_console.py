"""The console's fleet page: each group's planned aggregate against its limit (table and chart
data), infeasible groups and stale VENs flagged, refused reports shown, all escaped."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from tests.console.console_site import VIEWER, jar, login
from ven_edge.oadr3.planning import PlanningInputs, PlanningReportError
from vtn_lite.auth import Principal
from vtn_lite.planner.settings import GroupSettings, PlannerSettings
from vtn_lite.server import demo_config, running_vtn

START = datetime(2026, 2, 17, 12, 0, tzinfo=UTC)
BL = Principal("test-utility", "bl")
SPOOKY = "<script>alert(1)</script>"


def inputs() -> PlanningInputs:
    n = 96
    return PlanningInputs(
        start=START,
        stored_kwh=3.0,
        capacity_kwh=10.0,
        reserve_kwh=2.0,
        end_min_kwh=3.0,
        draw_kwh=tuple(0.6 if 68 <= k < 80 else 0.05 for k in range(n)),
        hp_kw=(0.5,) * n,
        hp_cop=(3.0,) * n,
        element_kw=(4.5,) * n,
    )


async def test_the_fleet_page_flags_infeasible_groups_and_stale_vens(tmp_path: Path) -> None:
    now = [START.timestamp() + 60]
    settings = PlannerSettings(
        program="fleet",
        stale_after=1800,
        groups=(
            GroupSettings("roomy", (5.0,) * 24, vens=("a", "b")),
            GroupSettings("tight", (0.01,) * 24, vens=("c", SPOOKY)),
        ),
    )
    config = replace(
        demo_config(tmp_path, port=0, scrypt_n=2**4),
        database=str(tmp_path / "vtn.sqlite"),
        planner=settings,
    )
    async with (
        running_vtn(config, clock=lambda: now[0]) as vtn,
        aiohttp.ClientSession(cookie_jar=jar()) as http,
    ):
        async with http.get(f"{vtn.url}/console/fleet", allow_redirects=False) as anonymous:
            assert anonymous.status == 303
        async with http.get(f"{vtn.url}/console/api/fleet/series") as anonymous:
            assert anonymous.status == 401
        planner = vtn.parts.planner
        assert planner is not None
        for name in ("a", "b", "c", SPOOKY):
            await vtn.vtn.create(
                BL,
                "VEN",
                {"objectType": "BL_VEN_REQUEST", "clientID": f"c-{name}", "venName": name},
            )
        planner.book.accept(SPOOKY, inputs(), now[0] - 7200)  # two hours old: stale
        for name in ("a", "b", "c"):
            planner.book.accept(name, inputs(), now[0])
        with contextlib.suppress(PlanningReportError):
            planner.book.check("b", {"resources": []}, now[0])
        await planner.plan()

        assert (await login(http, vtn.url, *VIEWER)).status == 303
        async with http.get(f"{vtn.url}/console/fleet") as response:
            page = await response.text()
        assert response.status == 200
        assert 'data-group="roomy"' in page
        assert "within the limit" in page
        assert "infeasible: smallest feasible limit" in page
        assert "nothing new published" in page
        assert "last inputs at 2026-02-17 10:01 UTC, too old" in page
        assert "resources: expected exactly one resource" in page  # b's refused report
        assert SPOOKY not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert 'href="/console/fleet"' in page  # in the navigation

        async with http.get(f"{vtn.url}/console/api/fleet/series") as response:
            data = await response.json()
        series = data["series"]
        assert set(series) == {"roomy planned", "roomy limit", "tight planned", "tight limit"}
        assert len(series["roomy planned"]) == 96
        assert series["roomy limit"][0] == {"x": "2026-02-17T12:00:00Z", "y": 5.0}
        assert max(p["y"] for p in series["roomy planned"]) <= 5.0 + 1e-6
        assert data["units"]["tight limit"] == "kW"


async def test_the_fleet_page_says_when_the_planner_is_off(tmp_path: Path) -> None:
    config = replace(demo_config(tmp_path, port=0, scrypt_n=2**4), database=str(tmp_path / "v.db"))
    async with running_vtn(config) as vtn, aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, vtn.url, *VIEWER)
        async with http.get(f"{vtn.url}/console/fleet") as response:
            assert "The fleet planner is off" in await response.text()
