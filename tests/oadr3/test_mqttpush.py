"""The gateway's MQTT notifications, sans broker: the VTN's binding and topic answers, hostile
ones included, and what one message does (bounded, one bad message ignored, last good state)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ven_edge.oadr3.client import VtnClient, VtnSettings
from ven_edge.oadr3.mqttpush import (
    MqttBinding,
    MqttPush,
    MqttUnusable,
    parse_binding,
    parse_topics,
)

EVENT = {
    "id": "ev1",
    "programID": "p1",
    "modificationDateTime": "2026-11-22T03:53:46Z",
    "intervalPeriod": {"start": "2030-01-01T10:00:00Z", "duration": "PT1H"},
    "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [2]}]}],
}


def binding(**changes: Any) -> dict[str, Any]:
    mqtt = {
        "URIS": ["mqtt://broker.example:1884"],
        "serialization": "JSON",
        "authentication": {"method": "ANONYMOUS"},
    }
    mqtt.update(changes)
    return {"WEBHOOK": True, "MQTT": mqtt}


def test_no_mqtt_offered() -> None:
    assert parse_binding({"WEBHOOK": True}, "c1") is None


def test_anonymous_binding_and_mqtts_preferred() -> None:
    parsed = parse_binding(binding(URIS=["mqtt://a", "mqtts://b", "ws://c"]), None)
    assert parsed == MqttBinding("mqtts://b", "b", 8883, True, "ANONYMOUS")


def test_oauth2_username_placeholder_and_vtn_lite_password() -> None:
    auth = {"method": "OAUTH2_BEARER_TOKEN", "username": "{clientID}"}
    parsed = parse_binding(binding(authentication=auth), "ven-7")
    assert parsed is not None
    assert (parsed.username, parsed.password, parsed.port) == ("ven-7", None, 1884)
    auth = {"method": "OAUTH2_BEARER_TOKEN", "username": "u", "password": "s3cr3t-pw"}
    parsed = parse_binding(binding(authentication=auth), "ven-7")
    assert parsed is not None
    assert (parsed.username, parsed.password) == ("u", "s3cr3t-pw")
    assert "s3cr3t-pw" not in repr(parsed)  # the password stays out of logs


@pytest.mark.parametrize(
    ("notifiers", "reason"),
    [
        ([], "not an object"),
        (binding(URIS=[]), "no broker URIs"),
        (binding(URIS=["https://x"]), "no mqtt://"),
        (binding(URIS=["mqtt://x:99999"]), "bad port"),
        (binding(serialization="XML"), "not JSON"),
        (binding(authentication={"method": "CERTIFICATE"}), "needs an mqtts:// broker"),
        (
            binding(URIS=["mqtts://b"], authentication={"method": "CERTIFICATE"}),
            "set vtn.mqtt_cert_file and vtn.mqtt_key_file",
        ),
        (binding(authentication={"method": "KERBEROS"}), "not supported"),
        (binding(authentication={"method": "OAUTH2_BEARER_TOKEN"}), "clientID as username"),
        (binding(authentication={"method": "OAUTH2_BEARER_TOKEN", "username": 5}), "username"),
        ({"MQTT": "yes"}, "not an object"),
    ],
)
def test_unusable_bindings_say_why(notifiers: Any, reason: str) -> None:
    with pytest.raises(MqttUnusable, match=reason):
        parse_binding(notifiers, None)


def test_certificate_binding_uses_mqtts_and_never_keeps_the_vtns_key() -> None:
    auth = {
        "method": "CERTIFICATE",
        "caCert": "-----BEGIN CERTIFICATE-----\nvtn-ca\n",
        "clientCert": "-----BEGIN CERTIFICATE-----\nclient\n",
        "clientKey": "-----BEGIN PRIVATE KEY-----\nsecret-key-material\n",
    }
    notifiers = binding(URIS=["mqtt://plain", "mqtts://tls:8884"], authentication=auth)
    parsed = parse_binding(notifiers, "ven-7", certificate=True)
    assert parsed == MqttBinding("mqtts://tls:8884", "tls", 8884, True, "CERTIFICATE")
    assert "secret-key-material" not in repr(parsed)
    # Only mqtt:// offered: a certificate is never sent in the clear.
    with pytest.raises(MqttUnusable, match="mqtts"):
        parse_binding(binding(authentication=auth), "ven-7", certificate=True)


async def test_a_certificate_that_cannot_be_loaded_is_unusable(tmp_path: Any) -> None:
    (tmp_path / "c.pem").write_text("not a certificate")
    (tmp_path / "k.pem").write_text("not a key")
    push = MqttPush(client_cert=str(tmp_path / "c.pem"), client_key=str(tmp_path / "k.pem"))
    cert = MqttBinding("mqtts://b", "b", 8883, True, "CERTIFICATE")
    with pytest.raises(MqttUnusable, match=r"c\.pem or its key cannot be loaded"):
        push.start(cert, ("t/#",), None)
    assert not push.started


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=150)
@given(
    st.one_of(
        json_values,
        st.builds(lambda m: {"MQTT": m}, json_values),
        st.builds(
            lambda uris, auth: binding(URIS=uris, authentication=auth),
            st.lists(st.text(max_size=40) | st.sampled_from(["mqtt://h:1", "mqtts://[::1]"])),
            json_values,
        ),
        st.builds(
            lambda uris, auth: binding(URIS=uris, authentication={"method": "CERTIFICATE", **auth}),
            st.lists(st.sampled_from(["mqtt://h:1", "mqtts://[::1]", "mqtts://h:99999"])),
            st.dictionaries(st.sampled_from(["caCert", "clientCert", "clientKey"]), json_values),
        ),
    )
)
def test_any_notifiers_answer_parses_or_is_refused_with_a_reason(notifiers: Any) -> None:
    result = binding_or_reason(notifiers)
    if isinstance(result, str):
        assert result  # refused, with a reason
    elif result is not None:
        assert result.host
        assert 0 < result.port < 65536
        assert result.uri.lower().startswith(("mqtt://", "mqtts://"))


def binding_or_reason(notifiers: Any) -> MqttBinding | str | None:
    try:
        return parse_binding(notifiers, "c", certificate=True)
    except MqttUnusable as exc:
        return str(exc)


def test_topics_all_preferred_and_deduplicated() -> None:
    answers = [
        {"topics": {"CREATE": "v/e/create", "UPDATE": "v/e/update", "ALL": "v/e/+"}},
        {"topics": {"UPDATE": "v/p/update", "DELETE": "v/p/delete"}},
        {"topics": {"ALL": "v/e/+"}},
    ]
    assert parse_topics(answers) == ("v/e/+", "v/p/update", "v/p/delete")


@pytest.mark.parametrize("topic", ["", "a/#/b", "a/b#", "a+/b", "x" * 600, "a\0b", 7, None, ["a"]])
def test_bad_topic_names_are_refused(topic: Any) -> None:
    with pytest.raises(MqttUnusable):
        parse_topics([{"topics": {"ALL": topic}}])


def test_topic_answers_without_topics_or_too_many_are_refused() -> None:
    with pytest.raises(MqttUnusable):
        parse_topics([{"topic": {}}])
    with pytest.raises(MqttUnusable):
        parse_topics([])
    with pytest.raises(MqttUnusable, match="17 topics"):
        parse_topics([{"topics": {"ALL": f"t/{n}/+"}} for n in range(17)])


@pytest.fixture
async def push() -> Any:
    client = VtnClient(VtnSettings(base_url="http://127.0.0.1:9/openadr3/3.1.0"))
    sink = MqttPush(client=client, max_message_bytes=4096)
    yield sink
    await client.close()


def note(obj: dict[str, Any], operation: str = "CREATE") -> bytes:
    return json.dumps({"objectType": "EVENT", "operation": operation, "object": obj}).encode()


async def settle() -> None:
    import asyncio

    for _ in range(3):
        await asyncio.sleep(0)


async def test_an_event_message_is_applied_at_once(push: MqttPush) -> None:
    push.deliver("t/events/create", note(EVENT))
    await settle()
    assert push.received == 1
    assert push.notified.is_set()
    assert push.last is not None
    assert push.last.object_type == "EVENT"
    assert push.client is not None
    assert "ev1" in push.client.events


async def test_bad_messages_are_ignored_and_the_last_good_state_kept(
    push: MqttPush, caplog: pytest.LogCaptureFixture
) -> None:
    push.deliver("t/events/create", note(EVENT))
    await settle()
    assert push.client is not None
    good = push.client.events["ev1"]
    caplog.set_level(logging.ERROR)
    bad = [
        b"{not json",
        b"[" * 5000 + b"]" * 5000,  # over the size limit
        b"[" * 100 + b"]" * 100,  # nested too deep
        json.dumps({"objectType": "EVENT"}).encode(),
        note({**EVENT, "intervals": "nope"}, "UPDATE"),
        b"\xff\xfe",
    ]
    for payload in bad:
        push.notified.clear()
        push.deliver("t/events/update", payload)
        await settle()
        assert push.notified.is_set()  # the link polls instead
        assert push.last is None
    assert push.rejected == 5  # the bad event object is applied and refused by the store
    assert push.client.events["ev1"] == good
    ours = [r.getMessage() for r in caplog.records if r.name == "ven_edge.oadr3.mqttpush"]
    assert len(ours) == 5
    assert all(m.startswith("MQTT message on t/events/update ignored: ") for m in ours)
    assert any("last good version kept" in r.getMessage() for r in caplog.records)


class SubscribingClient:
    """paho's side of a connect: ``subscribe`` answers the mid the SUBACK will carry."""

    def __init__(self) -> None:
        self.subscribed: list[Any] = []

    def subscribe(self, topics: Any, qos: int = 0) -> tuple[int, int]:
        self.subscribed.append(topics)
        return 0, 7


def reason(packet: int, code: int) -> Any:
    from paho.mqtt.reasoncodes import ReasonCode

    return ReasonCode(packet, identifier=code)


async def connect(push: MqttPush) -> SubscribingClient:
    """A CONNACK as paho reports it to :class:`MqttPush`, with its topics set."""
    import asyncio

    from paho.mqtt.packettypes import PacketTypes

    push._loop = asyncio.get_running_loop()
    push.topics = ("t/events/+", "t/programs/+")
    paho = SubscribingClient()
    push._on_connect(paho, None, None, reason(PacketTypes.CONNACK, 0), None)
    await settle()
    return paho


async def test_connected_and_the_re_read_wait_for_the_suback(push: MqttPush) -> None:
    """A re-read made before the subscription is live could miss a change published in between
    (MQTT 3.1.1 §3.9): the link is woken for it only by the SUBACK."""
    from paho.mqtt.packettypes import PacketTypes

    paho = await connect(push)
    assert paho.subscribed == [[("t/events/+", 1), ("t/programs/+", 1)]]  # one SUBSCRIBE
    assert not push.connected
    assert not push.notified.is_set()
    push._on_subscribe(paho, None, 6, [reason(PacketTypes.SUBACK, 1)] * 2, None)
    await settle()
    assert not push.connected  # not this connection's SUBSCRIBE
    push._on_subscribe(paho, None, 7, [reason(PacketTypes.SUBACK, 1)] * 2, None)
    await settle()
    assert push.connected
    assert push.notified.is_set()
    assert push.take_reread()
    assert not push.take_reread()  # asked once


async def test_a_refused_subscription_is_not_a_connection(
    push: MqttPush, caplog: pytest.LogCaptureFixture
) -> None:
    from paho.mqtt.packettypes import PacketTypes

    caplog.set_level(logging.WARNING)
    paho = await connect(push)
    refused = [reason(PacketTypes.SUBACK, 1), reason(PacketTypes.SUBACK, 0x80)]
    push._on_subscribe(paho, None, 7, refused, None)
    await settle()
    assert not push.connected  # the link keeps polling at its normal pace
    assert "the broker refused the subscription (Unspecified error)" in caplog.text
