"""vtn_lite's MQTT notifier against Debian's mosquitto, started privately per test."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import wait_for
from tests.mosquitto import Broker, Subscriber, running_mosquitto, vtn_with_broker
from tests.vtn_lite.conftest import CLIENTS, Api, get_token, make_config
from vtn_lite.config import ConfigError, parse_config
from vtn_lite.mqtt_config import MqttConfig
from vtn_lite.mqtt_credentials import BrokerCredentials, mosquitto_hash
from vtn_lite.server import RunningVtn, running_vtn

LIMIT_S = 60.0


def mqtt_config(tmp_path: Path) -> MqttConfig:
    return MqttConfig(uris=("mqtt://127.0.0.1:1883",), credentials_dir=str(tmp_path / "cred"))


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[RunningVtn, Broker]]:
    async with vtn_with_broker(tmp_path, make_config()) as pair:
        yield pair


@pytest.fixture
def broker(served: tuple[RunningVtn, Broker]) -> Broker:
    return served[1]


@pytest.fixture
def mqtt_vtn(served: tuple[RunningVtn, Broker]) -> RunningVtn:
    return served[0]


@pytest.fixture
async def mqtt_api(mqtt_vtn: RunningVtn) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        base = mqtt_vtn.base_url
        tokens = {who: await get_token(session, base, who) for who in CLIENTS}
        yield Api(session, base, tokens)


async def subscriber_for(api: Api, who: str, broker: Broker) -> Subscriber:
    binding = (await api.ok("GET", "/notifiers", who))["MQTT"]
    auth = binding["authentication"]
    assert binding["URIS"] == [broker.uri]
    return await asyncio.to_thread(Subscriber, broker, auth["username"], auth["password"])


async def setup_program(api: Api) -> str:
    program = await api.ok("POST", "/programs", "bl", {"programName": "p1"})
    # ven_client is granted group-a through its ven object; ven_client2 nothing.
    await api.ok(
        "POST",
        "/vens",
        "bl",
        {
            "objectType": "BL_VEN_REQUEST",
            "venName": "ven-a",
            "clientID": "ven_client",
            "targets": ["group-a"],
        },
    )
    return str(program["id"])


def event_body(program_id: str, name: str, targets: list[str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "programID": program_id,
        "eventName": name,
        "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
    }
    if targets is not None:
        body["targets"] = targets
    return body


def decoded(messages: list[tuple[str, bytes]], topic: str) -> list[dict[str, Any]]:
    return [json.loads(payload) for got, payload in messages if got == topic]


async def arrived(sub: Subscriber, accept: Callable[[list[tuple[str, bytes]]], bool]) -> None:
    await wait_for(lambda: accept(sub.snapshot()), LIMIT_S, "MQTT messages")


async def test_notifiers_lists_mqtt_only_when_configured(api: Api, mqtt_api: Api) -> None:
    assert await api.ok("GET", "/notifiers", "ven") == {"WEBHOOK": True}
    listed = await mqtt_api.ok("GET", "/notifiers", "ven")
    assert listed["WEBHOOK"] is True
    assert listed["MQTT"]["serialization"] == "JSON"
    assert listed["MQTT"]["authentication"]["method"] == "OAUTH2_BEARER_TOKEN"
    assert listed["MQTT"]["authentication"]["username"] == "ven_client"
    # Each client its own broker password.
    other = await mqtt_api.ok("GET", "/notifiers", "ven2")
    assert (
        other["MQTT"]["authentication"]["password"]
        != (listed["MQTT"]["authentication"]["password"])
    )


async def test_topic_endpoints_follow_scopes_and_privacy(mqtt_api: Api) -> None:
    program_id = await setup_program(mqtt_api)
    bl = await mqtt_api.ok("GET", "/notifiers/mqtt/topics/events", "bl")
    assert bl == {
        "topics": {
            "CREATE": "openadr3/events/create",
            "UPDATE": "openadr3/events/update",
            "DELETE": "openadr3/events/delete",
            "ALL": "openadr3/events/+",
        }
    }
    status, _ = await mqtt_api.call("GET", "/notifiers/mqtt/topics/events", "ven")
    assert status == 403  # "all events" is read_bl
    mine = await mqtt_api.ok("GET", f"/notifiers/mqtt/topics/programs/{program_id}/events", "ven")
    assert mine["topics"]["CREATE"] == "openadr3/clients/ven_client/events/create"
    single = await mqtt_api.ok("GET", f"/notifiers/mqtt/topics/programs/{program_id}", "ven")
    assert "CREATE" not in single["topics"]  # not for one object (notifierOperationsTopics)
    assert single["topics"]["UPDATE"] == "openadr3/clients/ven_client/programs/update"
    vens = await mqtt_api.ok("GET", "/vens", "bl")
    ven_id = vens[0]["id"]
    own = await mqtt_api.ok("GET", f"/notifiers/mqtt/topics/vens/{ven_id}/events", "ven")
    assert own["topics"]["ALL"] == "openadr3/clients/ven_client/events/+"
    # Another client's ven does not exist for ven_client2, as in the REST API.
    status, _ = await mqtt_api.call("GET", f"/notifiers/mqtt/topics/vens/{ven_id}/events", "ven2")
    assert status == 404
    for tail in ("nothing", f"vens/{ven_id}/reports", "programs/nope/events"):
        status, _ = await mqtt_api.call("GET", f"/notifiers/mqtt/topics/{tail}", "bl")
        assert status == 404, tail


async def test_event_reaches_only_the_clients_that_may_see_it(
    mqtt_api: Api, broker: Broker
) -> None:
    program_id = await setup_program(mqtt_api)
    ven = await subscriber_for(mqtt_api, "ven", broker)
    ven2 = await subscriber_for(mqtt_api, "ven2", broker)
    bl = await subscriber_for(mqtt_api, "bl", broker)
    try:
        await asyncio.to_thread(ven.subscribe, "openadr3/clients/ven_client/#")
        # ven_client2 tries to read ven_client's topics too: the broker's ACL drops them.
        await asyncio.to_thread(
            ven2.subscribe, "openadr3/clients/ven_client2/#", "openadr3/clients/ven_client/#"
        )
        await asyncio.to_thread(bl.subscribe, "openadr3/events/+")
        targeted = await mqtt_api.ok(
            "POST", "/events", "bl", event_body(program_id, "e1", ["group-a", "group-b"])
        )
        await mqtt_api.ok("PUT", f"/events/{targeted['id']}", "bl", {
            **event_body(program_id, "e1-changed", ["group-a", "group-b"])
        })  # fmt: skip
        await mqtt_api.ok("DELETE", f"/events/{targeted['id']}", "bl")
        # Untargeted: every client sees it; its arrival at ven_client2 comes after anything
        # published to it earlier (QoS 1 keeps one publisher's order per subscriber).
        await mqtt_api.ok("POST", "/events", "bl", event_body(program_id, "e2", None))
        topics = "openadr3/clients/ven_client/events/"
        await arrived(ven, lambda m: len(decoded(m, topics + "create")) == 2)
        await arrived(ven2, lambda m: len(m) == 1)
        await arrived(bl, lambda m: len(m) == 4)
    finally:
        for sub in (ven, ven2, bl):
            await asyncio.to_thread(sub.close)
    created = decoded(ven.snapshot(), topics + "create")
    assert [note["object"]["eventName"] for note in created] == ["e1", "e2"]
    # Other clients' targets are hidden, as in GET /events (Definition "Object Privacy").
    assert created[0]["object"]["targets"] == ["group-a"]
    assert created[0]["targets"] == ["group-a"]
    assert created[0]["objectType"] == "EVENT"
    assert created[0]["operation"] == "CREATE"
    assert decoded(ven.snapshot(), topics + "update")[0]["object"]["eventName"] == "e1-changed"
    assert decoded(ven.snapshot(), topics + "delete")[0]["object"]["id"] == targeted["id"]
    only = ven2.snapshot()
    assert [topic for topic, _ in only] == ["openadr3/clients/ven_client2/events/create"]
    assert json.loads(only[0][1])["object"]["eventName"] == "e2"
    bl_notes = [json.loads(p) for _, p in bl.snapshot()]
    assert [n["operation"] for n in bl_notes] == ["CREATE", "UPDATE", "DELETE", "CREATE"]
    assert bl_notes[0]["object"]["targets"] == ["group-a", "group-b"]  # BL sees all targets


async def test_wrong_broker_password_is_refused(mqtt_api: Api, broker: Broker) -> None:
    with pytest.raises(RuntimeError, match="did not connect"):
        await asyncio.to_thread(_connect_within, broker, "ven_client", "not-the-password")


def _connect_within(broker: Broker, username: str, password: str) -> None:
    import threading

    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    done = threading.Event()
    refused: list[object] = []

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            refused.append(reason)
        done.set()

    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.username_pw_set(username, password)
    client.on_connect = on_connect
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        done.wait(30)
    finally:
        client.disconnect()
        client.loop_stop()
    if refused or not done.is_set():
        raise RuntimeError(f"did not connect: {refused}")


def test_passwords_are_stable_per_key_and_hashed_in_the_file(tmp_path: Path) -> None:
    config = mqtt_config(tmp_path)
    first = BrokerCredentials(config)
    first.write(make_config().clients)
    again = BrokerCredentials(config)  # a restart or another worker: same key file
    assert again.password("ven_client") == first.password("ven_client")
    text = first.password_file.read_text()
    assert first.password("ven_client") not in text
    assert "ven_client:$7$101$" in text
    acl = first.acl_file.read_text()
    assert "pattern read openadr3/clients/%u/#" in acl
    assert "user bl_client\ntopic read openadr3/#" in acl
    assert "user ven_client\n" not in acl  # VENs only through the pattern
    other = BrokerCredentials(replace(config, credentials_dir=str(tmp_path / "elsewhere")))
    assert other.password("ven_client") != first.password("ven_client")


def test_workers_starting_at_once_share_one_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that found no key file while another worker was creating it uses that key (the
    same broker passwords on every worker), rather than failing or making its own."""
    config = mqtt_config(tmp_path)
    first = BrokerCredentials(config)
    read_bytes = Path.read_bytes
    missed: list[Path] = []

    def late(path: Path) -> bytes:
        if path.name == "vtn-lite-mqtt.key" and not missed:
            missed.append(path)  # read before the first worker's key was there
            raise FileNotFoundError(path)
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", late)
    second = BrokerCredentials(config)
    assert missed
    assert second.password("ven_client") == first.password("ven_client")
    assert sorted(p.name for p in Path(config.credentials_dir).iterdir()) == ["vtn-lite-mqtt.key"]


def test_mosquitto_hash_matches_known_vector() -> None:
    # PBKDF2-HMAC-SHA512, 101 iterations (mosquitto_passwd's $7$), fixed salt.
    entry = mosquitto_hash("secret", salt=b"0123456789ab")
    assert entry.startswith("$7$101$MDEyMzQ1Njc4OWFi$")
    assert len(entry.rsplit("$", 1)[1]) == 88  # 64-byte digest in base64


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"credentials_dir": "x"}, "uris must list"),
        ({"uris": ["http://h"], "credentials_dir": "x"}, "not an mqtt"),
        ({"uris": ["mqtt://h"]}, "credentials_dir is required"),
        ({"uris": ["mqtt://h"], "credentials_dir": "x", "prefix": "p"}, "unknown key 'prefix'"),
        ({"uris": ["mqtt://h"], "credentials_dir": "x", "topic_prefix": "a/#"}, "one plain"),
        (
            {"uris": ["mqtts://h"], "credentials_dir": "x", "authentication": "ANONYMOUS"},
            "authentication 'ANONYMOUS' must be one of OAUTH2_BEARER_TOKEN, CERTIFICATE",
        ),
        (
            {"uris": ["mqtts://h"], "credentials_dir": "x", "authentication": "CERTIFICATE"},
            "CERTIFICATE needs ca_file",
        ),
        (
            {
                "uris": ["mqtts://h", "mqtt://h"],
                "credentials_dir": "x",
                "ca_file": "ca.pem",
                "authentication": "CERTIFICATE",
            },
            "CERTIFICATE needs mqtts:// uris",
        ),
    ],
)
def test_bad_mqtt_tables_are_refused(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"mqtt": table})


def test_client_ids_that_cannot_be_topic_levels_are_refused_with_mqtt() -> None:
    data = {
        "mqtt": {"uris": ["mqtt://h"], "credentials_dir": "x"},
        "clients": [{"client_id": "a/+", "secret_hash": "scrypt$1", "role": "ven"}],
    }
    with pytest.raises(ConfigError, match="cannot be an MQTT username"):
        parse_config(data)
    del data["mqtt"]
    assert parse_config(data).mqtt is None


def _oa3_mqtt_session(base_url: str, create_event: Callable[[int], None]) -> list[Any]:
    """python-oa3-client's own MQTT path: discovery, topics per program, notifications."""
    import time

    from openadr3_client import VenClient

    with VenClient(url=base_url, client_id="ven_client", client_secret="999") as ven:
        ven.register("ven-a")  # the ven object business logic made for this client
        assert ven.vtn_supports_mqtt()
        [uri] = ven.get_mqtt_broker_uris()
        channel = ven.add_mqtt(uri, client_id="oa3-ven")
        channel.start()
        try:
            topics = ven.subscribe(["p1"], ["EVENT"], ["CREATE"], channel)
            assert "openadr3/clients/ven_client/events/create" in topics
            # The library subscribes from its network thread and does not expose the SUBACK:
            # events are created until the first notification arrives.
            deadline = time.monotonic() + LIMIT_S
            sent = 0
            while not channel.messages and time.monotonic() < deadline:
                create_event(sent)
                sent += 1
                channel.await_messages(1, timeout=2.0)
            messages = channel.messages
        finally:
            channel.stop()
    return [message.payload for message in messages]


async def test_python_oa3_client_receives_events_by_mqtt(
    mqtt_api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functools

    import ebus_mqtt_client

    program_id = await setup_program(mqtt_api)
    auth = (await mqtt_api.ok("GET", "/notifiers", "ven"))["MQTT"]["authentication"]
    # python-oa3-client 0.5.0 connects without credentials and has no option for them; its
    # MQTT library takes them, so they are handed to it here.
    monkeypatch.setattr(
        ebus_mqtt_client,
        "MqttClient",
        functools.partial(
            ebus_mqtt_client.MqttClient, username=auth["username"], password=auth["password"]
        ),
    )
    loop = asyncio.get_running_loop()

    def create_event(number: int) -> None:
        body = event_body(program_id, f"oa3-e{number}", ["group-a"])
        asyncio.run_coroutine_threadsafe(mqtt_api.ok("POST", "/events", "bl", body), loop).result()

    payloads = await asyncio.to_thread(_oa3_mqtt_session, mqtt_api.base, create_event)
    assert payloads, "no notification reached python-oa3-client"
    note = payloads[0]
    assert note.operation == "CREATE"
    assert note.object.event_name.startswith("oa3-e")
    assert note.object.targets == ["group-a"]


async def test_publisher_connects_with_descriptors_above_1023_in_use(tmp_path: Path) -> None:
    # A VTN serving many connections: paho's own thread would select() on a descriptor above
    # 1023 and fail; the event loop's selector has no such limit.
    import os

    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        async with vtn_with_broker(tmp_path, make_config()) as (vtn, _):
            assert vtn.parts.mqtt is not None
            assert vtn.parts.mqtt.connected.is_set()
    finally:
        for fd in held:
            os.close(fd)


async def test_the_broker_is_told_to_reload_the_files_vtn_lite_writes(tmp_path: Path) -> None:
    # The broker starts knowing no user; vtn_lite writes the files at start-up and signals it.
    credentials = tmp_path / "cred"
    with running_mosquitto(tmp_path / "broker", credentials) as broker:
        assert (credentials / "passwd").read_text() == ""
        mqtt = MqttConfig((broker.uri,), str(credentials), broker_pid_file=str(broker.pid_file))
        async with running_vtn(make_config(mqtt=mqtt)) as vtn:
            assert vtn.parts.mqtt is not None
            await wait_for(vtn.parts.mqtt.connected.is_set, LIMIT_S, "the publisher admitted")
    assert "vtn-lite-publisher:$7$" in (credentials / "passwd").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "holds no PEM certificate"),
        (b"-----BEGIN PRIVATE KEY-----\n", "holds no PEM certificate"),
        (b"x" * (300 * 1024), "not a CA bundle"),
    ],
)
async def test_certificate_needs_a_readable_ca_bundle(
    tmp_path: Path, content: bytes, message: str
) -> None:
    # caCert goes to every client: a file that is not a CA bundle is refused at start-up.
    (tmp_path / "ca.pem").write_bytes(content)
    mqtt = MqttConfig(
        ("mqtts://127.0.0.1",),
        str(tmp_path / "cred"),
        ca_file=str(tmp_path / "ca.pem"),
        authentication="CERTIFICATE",
    )
    with pytest.raises(ConfigError, match=message):
        async with running_vtn(replace(make_config(), mqtt=mqtt)):
            pass
