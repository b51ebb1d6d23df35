"""The status page's VTN push channel (``health.vtn.push``): MQTT subscribed, a broker unreachable
since when, a refused login, a webhook, polling only; against vtn_lite and a private mosquitto."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import free_port, wait_for
from tests.mosquitto import running_mosquitto, vtn_with_broker
from tests.vtn_lite.conftest import CLIENTS, make_config
from ven_edge.grid_port import WEBHOOK_PATH, VtnGridPort
from ven_edge.oadr3.client import VtnClient, VtnSettings
from ven_edge.oadr3.link import LinkTiming
from ven_edge.oadr3.mqttpush import MqttBinding, MqttPush
from ven_edge.oadr3.webhook import WebhookReceiver
from ven_edge.status_model import PushHealth
from ven_edge.store import StateStore
from vtn_lite.mqtt_config import MqttConfig
from vtn_lite.mqtt_credentials import BrokerCredentials
from vtn_lite.server import RunningVtn, running_vtn

LIMIT_S = 90.0
T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def running_port(
    vtn: RunningVtn, tmp_path: Path, clock: FakeClock, *, webhook: bool = False
) -> AsyncIterator[VtnGridPort]:
    """The daemon's grid port for the test VEN, MQTT on, a webhook endpoint if asked."""
    cid, secret, _ = CLIENTS["ven"]
    settings = VtnSettings(
        base_url=vtn.base_url, client_id=cid, client_secret=secret, ven_name="gw-1"
    )
    client = VtnClient(settings)
    hook: dict[str, Any] = {}
    if webhook:
        hook_port = free_port()
        hook = {
            "webhook": WebhookReceiver(client=client),
            "callback_url": f"http://127.0.0.1:{hook_port}{WEBHOOK_PATH}",
            "bind": ("127.0.0.1", hook_port),
        }
    port = VtnGridPort(
        client,
        StateStore(tmp_path / "state"),
        clock=clock,
        mqtt=MqttPush(wall_clock=clock),
        poll_s=3600,
        **hook,
    )
    port.link.timing = LinkTiming(poll_s=3600, poll_when_subscribed_s=3600, forced_poll_gap_s=0)
    await port.start()
    task = asyncio.create_task(port.run())
    try:
        yield port
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await port.stop()


def push_json(port: VtnGridPort) -> dict[str, Any]:
    document = port.health().as_json(UTC)["push"]
    assert isinstance(document, dict)
    return document


async def test_the_page_follows_the_broker_lost_and_back(tmp_path: Path) -> None:
    clock = FakeClock()
    async with (
        vtn_with_broker(tmp_path, make_config()) as (vtn, broker),
        running_port(vtn, tmp_path, clock) as port,
    ):
        await wait_for(lambda: push_json(port)["state"] == "subscribed", LIMIT_S, "subscribed")
        assert push_json(port) == {
            "channel": "mqtt",
            "state": "subscribed",
            "since": T0.isoformat(timespec="seconds"),
            "broker": broker.uri,
            "problem": None,
        }

        lost_at = clock.now = T0 + timedelta(minutes=5)
        broker.process.terminate()
        await asyncio.to_thread(broker.process.wait)
        await wait_for(lambda: push_json(port)["state"] == "unreachable", LIMIT_S, "the loss")
        clock.now = lost_at + timedelta(minutes=7)
        mqtt = port.mqtt
        assert mqtt is not None
        await wait_for(
            lambda: "connect failed" in (mqtt.state.problem or ""), LIMIT_S, "a failed reconnect"
        )
        away = push_json(port)
        # Unreachable since the loss, not since the last failed attempt.
        assert away["since"] == lost_at.isoformat(timespec="seconds")
        assert away["channel"] == "mqtt"
        assert "refused" in away["problem"].lower()

        with running_mosquitto(
            tmp_path / "broker-2", tmp_path / "mqtt-credentials", port=broker.port
        ):
            await wait_for(lambda: push_json(port)["state"] == "subscribed", LIMIT_S, "back")
            assert push_json(port)["since"] == clock.now.isoformat(timespec="seconds")
            assert push_json(port)["problem"] is None


async def test_a_refused_login_is_told_from_an_unreachable_broker(tmp_path: Path) -> None:
    credentials = BrokerCredentials(MqttConfig(("mqtt://x",), str(tmp_path / "cred")))
    credentials.write(make_config().clients)
    clock = FakeClock()
    with running_mosquitto(tmp_path / "broker", tmp_path / "cred") as broker:
        binding = MqttBinding(
            broker.uri, "127.0.0.1", broker.port, False, "OAUTH2_BEARER_TOKEN", "ven_client"
        )
        push = MqttPush(wall_clock=clock)
        push.start(binding, ("openadr3/clients/ven_client/#",), "not-the-password")
        try:
            await wait_for(lambda: push.state.state == "refused", LIMIT_S, "the refusal")
            assert "not authorized" in (push.state.problem or "").lower()
            assert "not-the-password" not in repr(push.state)
            assert push.state.since == T0
            assert not push.connected
        finally:
            push.stop()
        assert push.state.state == "stopped"


async def test_without_mqtt_the_page_says_polling_only(tmp_path: Path) -> None:
    clock = FakeClock()
    async with running_vtn(make_config()) as vtn, running_port(vtn, tmp_path, clock) as port:
        await wait_for(lambda: port.link.health.polls >= 1, LIMIT_S, "the first poll")
        assert port.health().push == PushHealth("polling", "polling")


async def test_an_unusable_mqtt_offer_is_the_polling_problem(tmp_path: Path) -> None:
    # A gateway not registered cannot ask for its per-VEN topics: MQTT is not used, and the page
    # says why (the link keeps polling).
    clock = FakeClock()
    async with vtn_with_broker(tmp_path, make_config()) as (vtn, _):
        cid, secret, _ = CLIENTS["ven"]
        settings = VtnSettings(base_url=vtn.base_url, client_id=cid, client_secret=secret)
        client = VtnClient(settings)
        port = VtnGridPort(
            client, StateStore(tmp_path / "state"), clock=clock, mqtt=MqttPush(wall_clock=clock)
        )
        try:
            await client.ensure_token()
            await port.link._ensure_mqtt()
            assert port.health().push == PushHealth(
                "polling",
                "polling",
                problem="its topics are per VEN and this gateway is not registered",
            )
        finally:
            await port.stop()


async def test_a_webhook_subscription_is_the_channel_without_mqtt(tmp_path: Path) -> None:
    clock = FakeClock()
    async with (
        running_vtn(make_config()) as vtn,
        running_port(vtn, tmp_path, clock, webhook=True) as port,
    ):
        await wait_for(lambda: port.link.health.subscribed, LIMIT_S, "the subscription")
        assert port.health().push == PushHealth("webhook", "subscribed", T0)
