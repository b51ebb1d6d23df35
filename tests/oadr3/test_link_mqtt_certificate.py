"""The CERTIFICATE method of the 3.1.0 MQTT binding, end to end: vtn_lite advertising it, Debian's
mosquitto with ``require_certificate true``, the gateway presenting its client certificate over
verified TLS; and the refusals (a broker CA the gateway does not trust, a client certificate the
broker does not, no certificate configured): a precise log line, polling, no crash."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import free_port, wait_for
from tests.mosquitto import CertListener, running_mosquitto
from tests.mqtt_certs import Issued, issue, make_ca
from tests.oadr3.mqtt_gateway import event_body, running_link
from tests.vtn_lite.conftest import CLIENTS, Api, get_token, make_config
from ven_edge.oadr3.link import LinkTiming
from ven_edge.oadr3.mqttpush import MqttPush
from vtn_lite.mqtt_config import MqttConfig
from vtn_lite.mqtt_credentials import BrokerCredentials
from vtn_lite.server import RunningVtn, running_vtn

LIMIT_S = 90.0
# Polls on start, at once when a push asks, and every half second while MQTT does not work (a
# bound on nothing: the tests wait for polls to happen, however long the machine takes).
TIMING = LinkTiming(poll_s=0.5, poll_when_subscribed_s=3600, forced_poll_gap_s=0)


@dataclass(frozen=True)
class Pki:
    ca: Issued
    rogue_ca: Issued
    broker: Issued
    client: Issued  # CN ven_client, signed by ca
    rogue_client: Issued  # CN ven_client, signed by rogue_ca


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    directory = tmp_path / "pki"
    ca, rogue = make_ca(directory, "ca"), make_ca(directory, "rogue-ca")
    cid = CLIENTS["ven"][0]
    return Pki(
        ca,
        rogue,
        issue(ca, directory, "broker", "127.0.0.1", server=True),
        issue(ca, directory, "client", cid, server=False),
        issue(rogue, directory, "rogue-client", cid, server=False),
    )


@asynccontextmanager
async def certificate_vtn(tmp_path: Path, pki: Pki) -> AsyncIterator[RunningVtn]:
    """vtn_lite advertising CERTIFICATE for an mqtts:// listener requiring client certificates;
    it publishes itself on the broker's password listener."""
    config = make_config()
    credentials = tmp_path / "mqtt-credentials"
    BrokerCredentials(MqttConfig(("mqtt://x",), str(credentials))).write(config.clients)
    plain = free_port()
    tls = free_port()
    while tls == plain:
        tls = free_port()
    listener = CertListener(tls, pki.ca.cert, pki.broker.cert, pki.broker.key)
    with running_mosquitto(
        tmp_path / "broker", credentials, port=plain, cert_listener=listener
    ) as broker:
        mqtt = MqttConfig(
            (f"mqtts://127.0.0.1:{listener.port}",),
            str(credentials),
            publish_uri=broker.uri,
            broker_pid_file=str(broker.pid_file),
            ca_file=str(pki.ca.cert),
            authentication="CERTIFICATE",
        )
        async with running_vtn(replace(config, mqtt=mqtt)) as vtn:
            publisher = vtn.parts.mqtt
            assert publisher is not None

            def publishing() -> bool:
                # A broker that could not open a listener exits: say why rather than wait.
                if broker.process.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {broker.log()}")
                return publisher.connected.is_set()

            await wait_for(publishing, LIMIT_S, "the VTN's publisher")
            yield vtn


async def test_events_arrive_over_mqtts_with_a_client_certificate(tmp_path: Path, pki: Pki) -> None:
    async with (
        certificate_vtn(tmp_path, pki) as vtn,
        aiohttp.ClientSession() as session,
    ):
        api = Api(session, vtn.base_url, {"bl": await get_token(session, vtn.base_url, "bl")})
        api.tokens["ven"] = await get_token(session, vtn.base_url, "ven")
        offered = await api.ok("GET", "/notifiers", "ven")
        auth = offered["MQTT"]["authentication"]
        assert auth["method"] == "CERTIFICATE"
        assert auth["caCert"] == pki.ca.cert.read_text()
        assert (auth["clientCert"], auth["clientKey"]) == ("", "")  # no key crosses the API
        program = await api.ok("POST", "/programs", "bl", {"programName": "p1"})
        push = MqttPush(
            ca_file=str(pki.ca.cert),
            client_cert=str(pki.client.cert),
            client_key=str(pki.client.key),
        )
        async with running_link(vtn, mqtt=push, timing=TIMING) as (link, _):
            await wait_for(lambda: push.connected, LIMIT_S, "the certificate login")
            assert push.state.state == "subscribed"
            event = await api.ok("POST", "/events", "bl", event_body(program["id"], "e1"))
            await wait_for(lambda: event["id"] in link.client.events, LIMIT_S, "the event")
            # The re-read that follows the subscription may fetch the event before the broker's
            # notice is read on a loaded machine; the notice must still come.
            await wait_for(lambda: push.received >= 1, LIMIT_S, "the notice over mqtts")


@pytest.mark.parametrize(
    ("which", "logged"),
    [
        ("untrusted-broker", "the broker's certificate is not trusted: vtn.mqtt_ca_file"),
        ("untrusted-client", "it does not accept the client certificate"),
    ],
)
async def test_a_refused_tls_login_is_said_and_the_gateway_polls(
    tmp_path: Path, pki: Pki, caplog: pytest.LogCaptureFixture, which: str, logged: str
) -> None:
    caplog.set_level(logging.INFO, "ven_edge.oadr3")
    if which == "untrusted-broker":
        ca, client = pki.rogue_ca, pki.client  # the gateway trusts another CA
    else:
        ca, client = pki.ca, pki.rogue_client  # the broker does not trust the client's CA
    push = MqttPush(ca_file=str(ca.cert), client_cert=str(client.cert), client_key=str(client.key))
    async with (
        certificate_vtn(tmp_path, pki) as vtn,
        running_link(vtn, mqtt=push, timing=TIMING) as (link, _),
    ):
        await wait_for(lambda: push.state.state == "refused", LIMIT_S, "the refusal")
        assert logged in (push.state.problem or "")
        errors = [r for r in caplog.records if r.levelno == logging.ERROR and logged in r.message]
        assert errors, caplog.text
        polls = link.health.polls
        await wait_for(
            lambda: link.health.polls >= polls + 3, LIMIT_S, "polling at the normal pace"
        )
        assert not push.connected
        # Said once, however many reconnects were refused meanwhile.
        assert len(errors) == 1
        assert "BEGIN" not in caplog.text  # no certificate or key material in the log


async def test_without_a_client_certificate_certificate_is_not_used(
    tmp_path: Path, pki: Pki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "ven_edge.oadr3")
    push = MqttPush(ca_file=str(pki.ca.cert))
    async with (
        certificate_vtn(tmp_path, pki) as vtn,
        running_link(vtn, mqtt=push, timing=TIMING) as (link, _),
    ):
        await wait_for(lambda: link.health.mqtt_problem is not None, LIMIT_S, "the refusal")
        assert "set vtn.mqtt_cert_file and vtn.mqtt_key_file" in (link.health.mqtt_problem or "")
        assert "MQTT notifications not used" in caplog.text
        assert not push.started
        polls = link.health.polls
        await wait_for(lambda: link.health.polls >= polls + 2, LIMIT_S, "polling")
