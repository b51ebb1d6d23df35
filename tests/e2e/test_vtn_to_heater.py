"""An event created on vtn_lite with python-oa3-client reaches the simulated heater as the right
CTA-2045 command, by poll and by webhook; deleting it ends it with End Shed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hil.heater import DrEvent
from tests.conftest import free_port, wait_for
from tests.e2e.harness import (
    UtilityDriver,
    demo_vtn,
    heater_on_pty,
    make_config,
    running_daemon,
)
from ven_edge.control import CommandKind
from ven_edge.cta2045 import messages
from ven_edge.cta2045.frames import Frame

POLL_S = 5.0  # the shortest poll interval the configuration accepts
PUSH_LIMIT_S = 2.0  # a notification re-plans within a second; the command takes a few 100 ms


def end_sheds(received: list[Frame]) -> int:
    return sum(1 for f in received if messages.decode(f).name == "end_shed")


async def test_event_by_poll_then_cancelled_by_delete(tmp_path: Path) -> None:
    async with demo_vtn(tmp_path) as vtn, heater_on_pty(tmp_path) as sim:
        config = make_config(tmp_path, sim.path, vtn_url=vtn.base_url, poll_interval_s=POLL_S)
        async with running_daemon(config) as parts, UtilityDriver(vtn.base_url) as utility:
            await wait_for(lambda: parts.daemon.heater.device().ready, 5, "commissioning")
            await wait_for(
                lambda: parts.grid is not None and parts.grid.health().ven_id is not None,
                POLL_S + 2,
                "registration",
            )
            program = await utility.program()
            now = datetime.now(UTC)
            event = await utility.simple_event(program, 2, now, timedelta(hours=1))
            await wait_for(
                lambda: sim.heater.event is DrEvent.CRITICAL_PEAK,
                POLL_S + 2,
                "Critical Peak (SIMPLE level 2) on the heater",
            )
            await wait_for(lambda: bool(parts.daemon.sent), 2, "the App ACK")
            assert parts.daemon.sent[-1][1].event_id == event
            before = end_sheds(sim.received)
            await utility.delete_event(event)
            await wait_for(
                lambda: sim.heater.event is DrEvent.NONE, POLL_S + 2, "End Shed after the delete"
            )
            assert end_sheds(sim.received) == before + 1
            await wait_for(
                lambda: parts.daemon.sent[-1][1].kind is CommandKind.NORMAL, 2, "the App ACK"
            )


async def test_event_by_webhook_reaches_the_heater_at_once(tmp_path: Path) -> None:
    async with demo_vtn(tmp_path) as vtn, heater_on_pty(tmp_path) as sim:
        config = make_config(
            tmp_path,
            sim.path,
            vtn_url=vtn.base_url,
            poll_interval_s=600,  # so slow that only the push can explain a quick command
            webhook_port=free_port(),
        )
        async with running_daemon(config) as parts, UtilityDriver(vtn.base_url) as utility:
            assert parts.grid is not None
            await wait_for(lambda: parts.daemon.heater.device().ready, 5, "commissioning")
            link = parts.grid.link  # type: ignore[attr-defined]
            await wait_for(lambda: link.health.subscribed, 5, "webhook subscription")
            program = await utility.program()
            event = await utility.simple_event(program, 1, datetime.now(UTC), timedelta(minutes=30))
            took = await wait_for(
                lambda: sim.heater.event is DrEvent.SHED, PUSH_LIMIT_S, "Shed pushed to the heater"
            )
            assert took < PUSH_LIMIT_S
            await utility.delete_event(event)
            await wait_for(lambda: sim.heater.event is DrEvent.NONE, PUSH_LIMIT_S, "End Shed")
