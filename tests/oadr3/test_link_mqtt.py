"""The VTN link takes notifications by MQTT from vtn_lite's broker (a private mosquitto), falls back
to polling while the broker is away and re-reads by REST when it is back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import make_certificate, wait_for
from tests.mosquitto import Broker, running_mosquitto, vtn_with_broker
from tests.oadr3.mqtt_gateway import SLOW, event_body, running_link
from tests.vtn_lite.conftest import Api, get_token, make_config
from ven_edge.oadr3.client import VtnClient, VtnSettings
from ven_edge.oadr3.errors import VtnUnreachableError
from ven_edge.oadr3.link import VtnLink
from ven_edge.oadr3.mqttpush import MqttBinding, MqttPush
from vtn_lite.mqtt_config import MqttConfig
from vtn_lite.mqtt_credentials import BrokerCredentials
from vtn_lite.server import RunningVtn, running_vtn

LIMIT_S = 90.0


@asynccontextmanager
async def bl_api(vtn: RunningVtn) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(session, vtn.base_url, {"bl": await get_token(session, vtn.base_url, "bl")})


async def test_events_arrive_by_mqtt_and_polling_covers_a_lost_broker(tmp_path: Path) -> None:
    async with vtn_with_broker(tmp_path, make_config()) as (vtn, broker), bl_api(vtn) as api:
        # The program exists before the gateway starts: a PROGRAM notification would ask for a
        # poll of its own, and the count below is of polls nothing but the link's start asked for.
        program = await api.ok("POST", "/programs", "bl", {"programName": "p1"})
        async with running_link(vtn) as (link, mqtt):
            await mqtt_events_and_a_lost_broker(api, link, mqtt, broker, program["id"], tmp_path)


async def mqtt_events_and_a_lost_broker(
    api: Api, link: VtnLink, mqtt: MqttPush, broker: Broker, program_id: str, tmp_path: Path
) -> None:
    await wait_for(lambda: mqtt.connected, LIMIT_S, "the gateway's MQTT subscription")
    # The start-up poll, and the one REST re-read the subscription asks for (the Definition's
    # advice on (re)connect); then no poll is due for an hour.
    await wait_for(lambda: link.health.polls >= 2, LIMIT_S, "the poll after connecting")
    assert not link.health.subscribed  # no webhook subscription while MQTT is used
    polls = link.health.polls
    event = await api.ok("POST", "/events", "bl", event_body(program_id, "e1"))
    client = link.client
    await wait_for(lambda: event["id"] in client.events, LIMIT_S, "the event by MQTT")
    assert mqtt.received >= 1
    assert mqtt.last is not None
    assert mqtt.last.object.get("id") == event["id"]
    assert link.health.polls == polls  # the event came by MQTT, not by a poll

    broker.process.terminate()
    await asyncio.to_thread(broker.process.wait)
    await wait_for(lambda: not mqtt.connected, LIMIT_S, "the lost broker noticed")
    await wait_for(lambda: link.health.polls > polls, LIMIT_S, "a poll in its place")
    polls_away = link.health.polls
    while_away = await api.ok("POST", "/events", "bl", event_body(program_id, "e2"))
    with running_mosquitto(tmp_path / "broker-2", tmp_path / "mqtt-credentials", port=broker.port):
        await wait_for(lambda: mqtt.connected, LIMIT_S, "the gateway reconnected")
        await wait_for(lambda: link.health.polls > polls_away, LIMIT_S, "a re-read by REST")
        await wait_for(
            lambda: while_away["id"] in client.events, LIMIT_S, "the missed event re-read"
        )


async def test_a_vtn_without_mqtt_leaves_polling_and_webhooks_as_they_were() -> None:
    async with running_vtn(make_config()) as vtn, running_link(vtn) as (link, mqtt):
        await wait_for(lambda: link.health.polls >= 1, LIMIT_S, "the first poll")
        assert not mqtt.started
        assert link._mqtt_problem is None  # not offered is no problem


async def test_mqtts_is_verified(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cert, key = make_certificate(tmp_path)
    credentials = BrokerCredentials(MqttConfig(("mqtts://x",), str(tmp_path / "cred")))
    credentials.write(make_config().clients)
    with running_mosquitto(tmp_path / "broker", tmp_path / "cred", tls=(cert, key)) as broker:
        binding = MqttBinding(
            f"mqtts://127.0.0.1:{broker.port}",
            "127.0.0.1",
            broker.port,
            True,
            "OAUTH2_BEARER_TOKEN",
            "ven_client",
            credentials.password("ven_client"),
        )
        topics = ("openadr3/clients/ven_client/#",)
        trusting = MqttPush(ca_file=str(cert))
        unknown_ca = MqttPush()
        caplog.set_level(logging.DEBUG, "ven_edge.oadr3.mqttloop")
        try:
            trusting.start(binding, topics, binding.password)
            unknown_ca.start(binding, topics, binding.password)
            await wait_for(lambda: trusting.connected, LIMIT_S, "the TLS connection")
            await wait_for(
                lambda: "CERTIFICATE_VERIFY_FAILED" in caplog.text,
                LIMIT_S,
                "the refused certificate",
            )
            assert not unknown_ca.connected
        finally:
            trusting.stop()
            unknown_ca.stop()


async def test_an_unreachable_vtn_fails_the_cycle_and_is_asked_about_mqtt_again() -> None:
    # Port 9 (discard) refuses on loopback: the VTN is down, not refusing MQTT.
    client = VtnClient(VtnSettings(base_url="http://127.0.0.1:9/openadr3/3.1.0"))
    link = VtnLink(client, mqtt=MqttPush(), timing=SLOW)
    try:
        with pytest.raises(VtnUnreachableError):
            await link._ensure_mqtt()
        assert link._mqtt_tried_at is None  # not put off for an hour
        assert link._mqtt_problem is None
    finally:
        await client.close()
