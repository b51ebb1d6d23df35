"""Notification fan-out by MQTT: one event to VENS subscribed VENs through vtn_lite's broker.

Run: python bench/vtn_lite_mqtt.py [--vens 10000]   (or python bench/vtn_lite.py --mqtt-fanout)

Setup: a private Debian mosquitto on 127.0.0.1 (tests/mosquitto.py), vtn_lite in this process
with VENS VEN clients, each with a ven object granting one of 100 groups, and VENS MQTT
connections, one per VEN, each logged in with its own broker password and subscribed to its own
events topic (a small asyncio MQTT 3.1.1 subscriber: 10,000 paho clients would need 10,000
threads).

Phases (each bounded in time):
  1. baseline - one bare publisher sends VENS messages of the same size to the same topics:
                the broker's and the subscribers' share.
  2. vtn      - business logic creates one event targeted to all 100 groups; vtn_lite renders
                it per VEN (each sees only its own group) and publishes it to every VEN's topic.
Reports the time until every VEN has its message, the vtn/baseline ratio, and how long the
create call held the event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.mosquitto import vtn_with_broker
from ven_edge.oadr3.mqttloop import LoopDriver
from vtn_lite.auth import Principal, hash_secret
from vtn_lite.config import ClientEntry, VtnConfig
from vtn_lite.mqtt_credentials import BrokerCredentials
from vtn_lite.server import RunningVtn

GROUPS = 100
CONNECT_CONCURRENCY = 200
LIMIT_S = 120.0


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _packet(kind: int, body: bytes) -> bytes:
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([kind]) + bytes(encoded) + body


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    kind = (await reader.readexactly(1))[0]
    length, shift = 0, 0
    while True:
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return kind, await reader.readexactly(length)


class Ven:
    """One VEN's MQTT connection: CONNECT, SUBSCRIBE, then count PUBLISHes (PUBACK for QoS 1)."""

    def __init__(self, port: int, username: str, password: str, topic: str) -> None:
        self.port, self.username, self.password, self.topic = port, username, password, topic
        self.received: list[float] = []
        self.sizes: list[int] = []
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> asyncio.StreamReader:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._writer = writer
        flags = 0xC2  # username, password, clean session
        body = _string("MQTT") + bytes([4, flags]) + struct.pack("!H", 600)
        body += _string(f"bench-{self.username}") + _string(self.username) + _string(self.password)
        writer.write(_packet(0x10, body))
        kind, payload = await _read_packet(reader)
        if kind != 0x20 or payload[1] != 0:
            raise RuntimeError(f"{self.username}: CONNACK {payload!r}")
        writer.write(_packet(0x82, struct.pack("!H", 1) + _string(self.topic) + b"\x01"))
        kind, payload = await _read_packet(reader)
        if kind != 0x90 or payload[-1] == 0x80:
            raise RuntimeError(f"{self.username}: SUBACK {payload!r}")
        return reader

    async def listen(self, reader: asyncio.StreamReader) -> None:
        assert self._writer is not None
        while True:
            kind, payload = await _read_packet(reader)
            if kind >> 4 != 3:
                continue
            self.received.append(time.perf_counter())
            self.sizes.append(len(payload))
            if kind & 0x06:  # QoS 1: acknowledge with the packet id after the topic
                (topic_len,) = struct.unpack("!H", payload[:2])
                self._writer.write(_packet(0x40, payload[2 + topic_len : 4 + topic_len]))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


async def wait_all(vens: list[Ven], count: int, started: float) -> float:
    deadline = time.monotonic() + LIMIT_S
    while sum(len(v.received) >= count for v in vens) < len(vens):
        if time.monotonic() > deadline:
            got = sum(len(v.received) >= count for v in vens)
            raise TimeoutError(f"only {got} of {len(vens)} VENs got message {count}")
        await asyncio.sleep(0.01)
    return max(v.received[count - 1] for v in vens) - started


def bench_config(vens: int) -> VtnConfig:
    # Clients authenticate to the broker, not to the API here: a cheap scrypt cost suffices.
    secret = hash_secret("bench", n=2**4)
    clients = [ClientEntry(f"ven-{i}", secret, "ven") for i in range(vens)]
    return VtnConfig(clients=(ClientEntry("bl", secret, "bl"), *clients), port=0)


async def fanout(vens: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="vtn-mqtt-bench-") as tmp:
        directory = Path(tmp)
        config = replace(bench_config(vens), database=str(directory / "vtn.sqlite"))
        async with vtn_with_broker(directory, config) as (vtn, broker):
            try:
                return await _run(vtn, broker.port, directory, vens)
            except TimeoutError:
                print(broker.log()[-3000:], file=sys.stderr)
                raise


async def _run(vtn: RunningVtn, port: int, directory: Path, vens: int) -> dict[str, float]:
    assert vtn.parts.mqtt is not None
    credentials = vtn.parts.mqtt.credentials
    bl = Principal("bl", "bl")
    program = await vtn.vtn.create(bl, "PROGRAM", {"programName": "fanout"})
    for i in range(vens):
        body = {
            "objectType": "BL_VEN_REQUEST",
            "venName": f"ven-{i}",
            "clientID": f"ven-{i}",
            "targets": [f"group-{i % GROUPS}"],
        }
        await vtn.vtn.create(bl, "VEN", body)
    subscribers = [
        Ven(
            port, f"ven-{i}", credentials.password(f"ven-{i}"), f"openadr3/clients/ven-{i}/events/+"
        )
        for i in range(vens)
    ]
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect(ven: Ven) -> asyncio.StreamReader:
        async with gate:
            return await ven.connect()

    begun = time.perf_counter()
    readers = await asyncio.gather(*(connect(v) for v in subscribers))
    connected_s = time.perf_counter() - begun
    listeners = [
        asyncio.create_task(v.listen(r)) for v, r in zip(subscribers, readers, strict=True)
    ]
    try:
        event = {
            "programID": program["id"],
            "eventName": "fanout-1",
            "targets": [f"group-{g}" for g in range(GROUPS)],
            "intervalPeriod": {"start": "2030-01-01T00:00:00Z", "duration": "PT1H"},
            "intervals": [
                {"id": h, "payloads": [{"type": "PRICE", "values": [0.1 + h / 100]}]}
                for h in range(24)
            ],
        }
        # A first round warms every connection (and the broker's per-client state) up.
        await _baseline(port, credentials, subscribers, 1, size=len(json.dumps(event)))
        started = time.perf_counter()
        await vtn.vtn.create(bl, "EVENT", event)
        create_s = time.perf_counter() - started
        vtn_s = await wait_all(subscribers, 2, started)
        sizes = [v.sizes[1] for v in subscribers]
        size = sum(sizes) // len(sizes)
        baseline_s = await _baseline(port, credentials, subscribers, 3, size=size)
    finally:
        for task in listeners:
            task.cancel()
        for ven in subscribers:
            ven.close()
    return {
        "vens": vens,
        "connect_s": connected_s,
        "baseline_s": baseline_s,
        "vtn_s": vtn_s,
        "create_s": create_s,
        "message_bytes": sum(sizes) / len(sizes),
    }


async def _baseline(
    port: int, credentials: BrokerCredentials, vens: list[Ven], count: int, *, size: int
) -> float:
    """The same number of messages through the same broker, from a bare paho publisher."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from vtn_lite.mqtt_config import PUBLISHER_USERNAME

    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-baseline")
    client.username_pw_set(PUBLISHER_USERNAME, credentials.publisher_password())
    client.max_inflight_messages_set(1000)
    connected = asyncio.Event()
    client.on_connect = lambda *_: connected.set()
    # As vtn_lite's publisher is driven: by the event loop (paho's own thread uses select(),
    # which fails with this many sockets open).
    driver = LoopDriver(client, "127.0.0.1", port)
    driver.start()
    try:
        await asyncio.wait_for(connected.wait(), LIMIT_S)
        payload = b"x" * size
        started = time.perf_counter()
        for ven in vens:
            client.publish(ven.topic.replace("/+", "/create"), payload, qos=1)
        return await wait_all(vens, count, started)
    finally:
        driver.stop()


def report(figures: dict[str, float]) -> None:
    vens = int(figures["vens"])
    print(f"MQTT fan-out to {vens} subscribed VENs (one connection each, loopback mosquitto)")
    print(f"  {vens} connections made in {figures['connect_s']:.1f} s")
    print(f"  baseline  bare publisher, same count and size: {figures['baseline_s']:.2f} s")
    print(
        f"  vtn_lite  event to every VEN, rendered per VEN ({figures['message_bytes']:.0f} B):"
        f" {figures['vtn_s']:.2f} s (create call {figures['create_s']:.2f} s)"
    )
    print(f"  ratio vtn/baseline: {figures['vtn_s'] / figures['baseline_s']:.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vens", type=int, default=10_000)
    args = parser.parse_args(argv)
    report(asyncio.run(fanout(args.vens)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
