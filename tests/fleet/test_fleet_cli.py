"""``vtn-lite plan``: once on the VTN's database, or --dry-run printing each group's
aggregate; a clear message without scipy or without [planner]."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from tests.fleet.test_fleet_console import inputs
from ven_edge.oadr3.planning import planning_report
from vtn_lite.auth import Principal
from vtn_lite.cli import main
from vtn_lite.config import load_config
from vtn_lite.planner.job import PlannerService
from vtn_lite.service import Vtn
from vtn_lite.storage import Query, open_storage

BL = Principal("test-utility", "bl")


def write_config(tmp_path: Path, planner: bool = True) -> Path:
    path = tmp_path / "vtn.toml"
    text = f'[storage]\nurl = "{tmp_path / "vtn.sqlite"}"\n'
    if planner:
        text += (
            '[planner]\nprogram = "fleet"\n'
            '[planner.groups.feeder]\nvens = ["a", "b"]\nlimit_kw = 2.0\n'
        )
    path.write_text(text, encoding="utf-8")
    return path


async def seed(config_path: Path) -> None:
    """Two VENs that answered the planning request, as a running server would store them."""
    config = load_config(config_path)
    assert config.planner is not None
    store = open_storage(config.database)
    await store.open()
    try:
        vtn = Vtn(store)
        service = PlannerService(vtn, config.planner)
        await service.prepare()
        assert service.request_id is not None
        for name in ("a", "b"):
            client = f"client-{name}"
            await vtn.create(
                BL, "VEN", {"objectType": "BL_VEN_REQUEST", "clientID": client, "venName": name}
            )
            body = planning_report(
                inputs(),
                event_id=service.request_id,
                client_name=name,
                resource_name="heater",
                name=f"{name}/1",
            )
            await vtn.create(Principal(client, "ven"), "REPORT", body)
    finally:
        await store.close()


async def schedules(config_path: Path) -> list[Any]:
    store = open_storage(load_config(config_path).database)
    await store.open()
    try:
        events = await store.search(Query(kind="EVENT", limit=1000))
        return [e for e in events if str(e.body.get("eventName", "")).startswith("fleet-")]
    finally:
        await store.close()


async def test_a_dry_run_prints_the_aggregate_and_publishes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(tmp_path)
    await seed(path)
    # The CLI runs its own event loop: off this test's loop, in a thread.
    code = await asyncio.to_thread(main, ["plan", "--config", str(path), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "group feeder: 2 VENs, limit 2.00 kW" in out
    assert ", feasible" in out
    step_lines = [line for line in out.splitlines() if line.startswith("  +")]
    assert len(step_lines) == 96
    assert all(float(line.split()[1]) <= 2.0 + 1e-6 for line in step_lines)
    assert [e.body["eventName"] for e in await schedules(path)] == ["fleet-planning-inputs"]

    code = await asyncio.to_thread(main, ["plan", "--config", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 schedules published" in out
    names = sorted(e.body["eventName"] for e in await schedules(path))
    assert names == ["fleet-planning-inputs", "fleet-schedule-a", "fleet-schedule-b"]


def test_without_a_planner_table_it_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan", "--config", str(write_config(tmp_path, planner=False))]) == 2
    assert "has no [planner] table" in capsys.readouterr().err


def test_without_scipy_it_says_how_to_get_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "scipy" else real(name, *a)
    )
    assert main(["plan", "--config", str(write_config(tmp_path))]) == 1
    assert "the fleet planner needs scipy" in capsys.readouterr().err
