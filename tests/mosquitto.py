"""A private Debian mosquitto for tests and the bench: its own config in a temp dir, a free
loopback port, vtn_lite's password and ACL files. The packaged system service is never used
(scripts/system-deps.sh installs the package; nothing here starts or stops the service).

```python
with running_mosquitto(tmp_path, credentials) as broker:
    broker.uri   # "mqtt://127.0.0.1:PORT"
```
"""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tests.conftest import free_port, wait_for
from vtn_lite.config import VtnConfig
from vtn_lite.mqtt_config import MqttConfig
from vtn_lite.mqtt_credentials import BrokerCredentials
from vtn_lite.server import RunningVtn, running_vtn

MOSQUITTO = "/usr/sbin/mosquitto"
_START_LIMIT_S = 30.0


@dataclass(frozen=True)
class Broker:
    port: int
    process: subprocess.Popen[bytes]
    pid_file: Path
    log_file: Path

    @property
    def uri(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")


@dataclass(frozen=True)
class CertListener:
    """A second listener for the CERTIFICATE method: TLS with the broker's ``cert`` and ``key``,
    client certificates required and checked against ``ca``, their common name the username."""

    port: int
    ca: Path
    cert: Path
    key: Path

    def config(self) -> str:
        return (
            f"listener {self.port} 127.0.0.1\n"
            f"cafile {self.ca}\ncertfile {self.cert}\nkeyfile {self.key}\n"
            "require_certificate true\nuse_identity_as_username true\n"
        )


def broker_config(
    directory: Path,
    port: int,
    credentials_dir: Path,
    tls: tuple[Path, Path] | None = None,
    cert_listener: CertListener | None = None,
) -> Path:
    path = directory / "mosquitto.conf"
    listener = f"certfile {tls[0]}\nkeyfile {tls[1]}\n" if tls else ""
    path.write_text(
        f"listener {port} 127.0.0.1\n{listener}"
        + (cert_listener.config() if cert_listener else "")
        + "allow_anonymous false\n"
        f"password_file {credentials_dir / 'passwd'}\n"
        f"acl_file {credentials_dir / 'acl'}\n"
        "persistence false\n"
        # mosquitto started as root drops to the `mosquitto` user, which cannot read a private
        # temp dir: stay the user that runs the tests.
        f"user {getpass.getuser()}\n"
        "max_queued_messages 100000\n"
        # "information" for the "running" line _wait_listening waits for.
        "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        "log_dest stderr\n"
    )
    return path


@contextmanager
def running_mosquitto(
    directory: Path,
    credentials_dir: Path,
    *,
    port: int | None = None,
    tls: tuple[Path, Path] | None = None,
    cert_listener: CertListener | None = None,
) -> Iterator[Broker]:
    """Start mosquitto (on a free port unless given); vtn_lite's files should be in
    ``credentials_dir`` (empty ones are written if not; vtn_lite's SIGHUP makes it re-read)."""
    directory.mkdir(parents=True, exist_ok=True)
    credentials_dir.mkdir(parents=True, exist_ok=True)
    for name in ("passwd", "acl"):
        (credentials_dir / name).touch()
    port = port or free_port()
    config = broker_config(directory, port, credentials_dir, tls, cert_listener)
    log_file = directory / "mosquitto.log"
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [MOSQUITTO, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    pid_file = directory / "mosquitto.pid"
    pid_file.write_text(f"{process.pid}\n")
    broker = Broker(port, process, pid_file, log_file)
    try:
        _wait_listening(broker)
        yield broker
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_listening(broker: Broker) -> None:
    """Until mosquitto says it is running: it listens before it installs its signal handlers,
    and a SIGHUP in between (vtn_lite's reload as it starts) would end it, more often the more
    listeners (TLS ones are slow to set up) it opens."""
    deadline = time.monotonic() + _START_LIMIT_S
    while time.monotonic() < deadline:
        if broker.process.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {broker.log()}")
        if " running" in broker.log():
            try:
                with socket.create_connection(("127.0.0.1", broker.port), timeout=1):
                    return
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError(f"mosquitto not listening after {_START_LIMIT_S} s: {broker.log()}")


def reload(broker: Broker) -> None:
    os.kill(broker.process.pid, signal.SIGHUP)


@asynccontextmanager
async def vtn_with_broker(
    tmp_path: Path, config: VtnConfig, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[tuple[RunningVtn, Broker]]:
    """vtn_lite with its MQTT notifier on a private mosquitto; the publisher connected."""
    credentials = tmp_path / "mqtt-credentials"
    # The files first (same key file, same passwords), so the broker knows every client from
    # its first connection.
    BrokerCredentials(MqttConfig(("mqtt://127.0.0.1",), str(credentials))).write(config.clients)
    with running_mosquitto(tmp_path / "broker", credentials) as broker:
        mqtt = MqttConfig((broker.uri,), str(credentials), broker_pid_file=str(broker.pid_file))
        async with running_vtn(replace(config, mqtt=mqtt), clock=clock) as vtn:
            assert vtn.parts.mqtt is not None
            await wait_for(vtn.parts.mqtt.connected.is_set, 60, "the VTN's publisher")
            yield vtn, broker


class Subscriber:
    """A paho client collecting (topic, payload) pairs from its network thread."""

    def __init__(self, broker: Broker, username: str, password: str) -> None:
        import threading

        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes]] = []
        self.granted: list[int] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{username}")
        self.client.username_pw_set(username, password)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda *_: self._ready.set()
        self.client.on_subscribe = self._on_subscribe
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        if not self._ready.wait(30):
            raise RuntimeError("test subscriber did not connect")

    def _on_message(self, client: object, userdata: object, message: object) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload))  # type: ignore[attr-defined]

    def _on_subscribe(
        self, client: object, userdata: object, mid: int, codes: list[Any], props: object
    ) -> None:
        with self._lock:
            self.granted.extend(int(code.value) for code in codes)

    def subscribe(self, *topics: str) -> None:
        before = len(self.granted)
        for topic in topics:
            self.client.subscribe(topic, qos=1)
        deadline = time.monotonic() + 30
        while len(self.granted) < before + len(topics):
            if time.monotonic() > deadline:
                raise RuntimeError("SUBACK not received")
            time.sleep(0.01)

    def snapshot(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
