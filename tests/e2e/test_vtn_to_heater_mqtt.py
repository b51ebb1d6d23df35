"""An event created on vtn_lite reaches the simulated heater through vtn_lite's MQTT broker (a
private mosquitto): the daemon as ``ven-edge run`` builds it, its poll interval so long that only
the MQTT notification can explain the command; deleting the event ends it the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hil.heater import DrEvent
from tests.conftest import wait_for
from tests.e2e.harness import UtilityDriver, heater_on_pty, make_config, running_daemon
from tests.mosquitto import vtn_with_broker
from ven_edge.cta2045.command_kind import CommandKind
from vtn_lite.server import demo_config

LIMIT_S = 60.0  # generous for a loaded machine; the poll interval is ten times longer


async def test_event_by_mqtt_reaches_the_heater(tmp_path: Path) -> None:
    vtn_config = demo_config(tmp_path, port=0, scrypt_n=2**4)
    async with (
        vtn_with_broker(tmp_path, vtn_config) as (vtn, _broker),
        heater_on_pty(tmp_path) as sim,
        UtilityDriver(vtn.base_url) as utility,
    ):
        config = make_config(tmp_path, sim.path, vtn_url=vtn.base_url, poll_interval_s=600)
        assert config.vtn.mqtt  # on by default
        # The program exists before the gateway starts: a PROGRAM notification would ask for a
        # poll of its own, and the count below is of polls nothing but the start asked for.
        program = await utility.program()
        async with running_daemon(config) as parts:
            assert parts.grid is not None
            await wait_for(lambda: parts.daemon.heater.device().ready, LIMIT_S, "commissioning")
            link = parts.grid.link  # type: ignore[attr-defined]
            mqtt = link.mqtt
            await wait_for(lambda: mqtt.connected, LIMIT_S, "the gateway's MQTT subscription")
            # The start-up poll and the re-read the subscription asks for; then no poll is due
            # for 600 s.
            await wait_for(lambda: link.health.polls >= 2, LIMIT_S, "the polls at start")
            polls = link.health.polls
            event = await utility.simple_event(program, 1, datetime.now(UTC), timedelta(minutes=30))
            await wait_for(lambda: sim.heater.event is DrEvent.SHED, LIMIT_S, "Shed by MQTT")
            await wait_for(lambda: bool(parts.daemon.sent), LIMIT_S, "the App ACK")
            assert parts.daemon.sent[-1][1].event_id == event
            await utility.delete_event(event)
            await wait_for(lambda: sim.heater.event is DrEvent.NONE, LIMIT_S, "End Shed by MQTT")
            await wait_for(
                lambda: parts.daemon.sent[-1][1].kind is CommandKind.NORMAL, LIMIT_S, "the App ACK"
            )
            assert link.health.polls == polls  # both came by MQTT
            assert mqtt.received >= 2
            assert not link.health.subscribed  # no webhook configured or needed
