"""An event created on openleadr's 2.0b VTN reaches the simulated heater on a pty as the right
CTA-2045 command through the daemon in 2.0b mode; a cancel ends it with End Shed; a customer
override on the heater is answered optOut. Plain HTTP (lab mode) and mutual TLS with XML
signatures both ways."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hil.heater import DrEvent
from tests.conftest import wait_for
from tests.e2e.harness import heater_on_pty, make_config, running_daemon
from tests.oadr2b.peer import (
    VEN_ID,
    VEN_NAME,
    UtilityVtn,
    fingerprint_of,
    make_pki,
    running_vtn,
    utility_vtn,
)
from ven_edge.config import Config

LIMIT_S = 20.0  # 1-s polling; generous for a loaded machine


def _config(tmp_path: Path, heater: Path, vtn: UtilityVtn, pki: Path | None) -> Config:
    vtn_section: dict[str, Any] = {"url": vtn.url, "protocol": "2.0b", "ven_name": VEN_NAME}
    if pki is not None:
        vtn_section["ca_file"] = str(pki / "ca.crt")
        vtn_section["oadr2b"] = {
            "client_cert": str(pki / "ven.crt"),
            "client_key": str(pki / "ven.key"),
            "vtn_fingerprint": fingerprint_of(pki / "vtn.crt"),
        }
    return make_config(tmp_path, heater, poll_interval_s=5, extra={"vtn": vtn_section})


@pytest.fixture(params=["plain", "mtls"])
async def vtn_and_pki(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[UtilityVtn, Path | None]]:
    pki = None
    if request.param == "mtls":
        pki = tmp_path / "pki"
        pki.mkdir()
        make_pki(pki)
    async for peer in utility_vtn(pki):
        yield peer, pki


async def test_event_reaches_the_heater_and_a_cancel_ends_it(
    tmp_path: Path, vtn_and_pki: tuple[UtilityVtn, Path | None]
) -> None:
    vtn, pki = vtn_and_pki
    async with heater_on_pty(tmp_path) as sim:
        config = _config(tmp_path, sim.path, vtn, pki)
        async with running_daemon(config) as parts:
            grid = parts.grid
            assert grid is not None
            await wait_for(lambda: parts.daemon.heater.device().ready, LIMIT_S, "commissioning")
            await wait_for(lambda: grid.health().ven_id == VEN_ID, LIMIT_S, "registration")
            event_id = vtn.server.add_event(
                VEN_ID, "SIMPLE", "level",
                [{"dtstart": datetime.now(UTC), "duration": timedelta(hours=1),
                  "signal_payload": 2}],
                callback=vtn.on_opt,
            )  # fmt: skip
            await wait_for(
                lambda: sim.heater.event is DrEvent.CRITICAL_PEAK,
                LIMIT_S,
                "Critical Peak (SIMPLE level 2) on the heater",
            )
            await wait_for(lambda: (VEN_ID, event_id, "optIn") in vtn.opts, LIMIT_S, "optIn")
            assert grid.health().ok

            sim.set_override(True)
            await wait_for(lambda: parts.daemon.heater.device().opted_out, LIMIT_S, "override")
            grid.queue_reports(parts.daemon.heater.device())  # the daemon's report tick
            await wait_for(lambda: (VEN_ID, event_id, "optOut") in vtn.opts, LIMIT_S, "optOut")
            sim.set_override(False)
            await wait_for(lambda: not parts.daemon.heater.device().opted_out, LIMIT_S, "cleared")

            vtn.server.cancel_event(VEN_ID, event_id)
            await wait_for(lambda: sim.heater.event is DrEvent.NONE, LIMIT_S, "End Shed")


async def test_vtn_outage_keeps_the_event_in_force_and_shows_the_vtn_down(tmp_path: Path) -> None:
    async with heater_on_pty(tmp_path) as sim, running_vtn(None) as vtn:
        config = _config(tmp_path, sim.path, vtn, None)
        async with running_daemon(config) as parts:
            grid = parts.grid
            assert grid is not None
            await wait_for(lambda: grid.health().ven_id == VEN_ID, LIMIT_S, "registration")
            vtn.server.add_event(
                VEN_ID, "SIMPLE", "level",
                [{"dtstart": datetime.now(UTC), "duration": timedelta(hours=1),
                  "signal_payload": 1}],
                callback=vtn.on_opt,
            )  # fmt: skip
            await wait_for(lambda: sim.heater.event is DrEvent.SHED, LIMIT_S, "Shed")
            await vtn.server.stop()
            await wait_for(lambda: not grid.health().ok, LIMIT_S, "the VTN seen down")
            assert grid.health().last_error
            snapshot = parts.daemon.snapshot()
            assert not snapshot.health.vtn.ok
            assert sim.heater.event is DrEvent.SHED  # the last good timeline stays in force
            assert parts.daemon.timeline.intervals[0].values == (1.0,)
