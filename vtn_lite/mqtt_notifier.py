"""Publishes object changes to the MQTT broker (Definition 3.1.0, "Notifications via Additional
Protocols"; topics in :mod:`vtn_lite.mqtt_topics`).

Each create, update or delete is published once to the business-logic topic of its type and once
to the topic of every client allowed to see it (by its granted targets, or as the owner of a
ven or resource), with the same notification JSON a webhook gets. Messages go out with QoS 1 and
are not retained (clients re-read state by REST on reconnect, as the Definition advises).

paho is driven by the event loop (:class:`ven_edge.oadr3.mqttloop.LoopDriver`: no thread, no
``select()`` limit on descriptors) and reconnects with backoff; publishing only queues. While the
broker is away up to ``max_queued`` messages wait; beyond that each one is dropped and counted
(polling and webhooks still work).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ven_edge.oadr3.mqttloop import LoopDriver, new_client
from vtn_lite.auth import Principal
from vtn_lite.config import ClientEntry, ConfigError
from vtn_lite.mqtt_config import PUBLISHER_USERNAME, MqttConfig
from vtn_lite.mqtt_credentials import BrokerCredentials
from vtn_lite.mqtt_topics import CLIENT_KINDS, MQTT_OPERATIONS, bl_base, client_base
from vtn_lite.service import TARGETED, Vtn
from vtn_lite.storage import StoredObject

if TYPE_CHECKING:
    import paho.mqtt.client as paho

log = logging.getLogger(__name__)

QOS = 1
DEFAULT_MAX_QUEUED = 200_000
_RECONNECT_MIN_S = 1
_RECONNECT_MAX_S = 60


class MqttNotifier:
    """The VTN's MQTT publisher; listens to :attr:`Vtn.listeners` like the webhook notifier."""

    def __init__(
        self,
        vtn: Vtn,
        config: MqttConfig,
        clients: Iterable[ClientEntry],
        *,
        max_queued: int = DEFAULT_MAX_QUEUED,
    ) -> None:
        self._vtn = vtn
        self.config = config
        self._clients = tuple(clients)
        self._ven_clients = tuple(c.client_id for c in self._clients if c.role == "ven")
        self.credentials = BrokerCredentials(config)
        self._ca_pem = _read_ca(config.ca_file) if config.authentication == "CERTIFICATE" else ""
        self._max_queued = max_queued
        self._client: paho.Client | None = None
        self._driver: LoopDriver | None = None
        self._lock = threading.Lock()
        self.published = 0
        self.dropped = 0
        self.connected = threading.Event()
        vtn.listeners.append(self.on_change)

    def binding(self, principal: Principal) -> dict[str, Any]:
        """The ``MQTT`` member of ``GET /notifiers`` for this caller.

        The YAML's ``OAUTH2_BEARER_TOKEN`` method with a literal username, plus a ``password``
        member the YAML does not define: the broker password vtn_lite issued this client, to
        use instead of the access token (see :mod:`vtn_lite.mqtt_credentials` for why).

        With ``authentication = "CERTIFICATE"`` the YAML's ``CERTIFICATE`` method: ``caCert``
        is the broker's CA (``ca_file``); ``clientCert`` and ``clientKey``, required members,
        are empty: client certificates and keys are issued out of band, so that no private
        key ever crosses the API."""
        if self.config.authentication == "CERTIFICATE":
            return {
                "URIS": list(self.config.uris),
                "serialization": "JSON",
                "authentication": {
                    "method": "CERTIFICATE",
                    "caCert": self._ca_pem,
                    "clientCert": "",
                    "clientKey": "",
                },
            }
        username = principal.client_id
        return {
            "URIS": list(self.config.uris),
            "serialization": "JSON",
            "authentication": {
                "method": "OAUTH2_BEARER_TOKEN",
                "username": username,
                "password": self.credentials.password(username),
            },
        }

    async def set_clients(self, clients: Iterable[ClientEntry]) -> None:
        """Serve this client list from now on (the configuration file was re-read): publish to
        the new clients' topics and no longer to removed ones', and rewrite the broker's files
        (hashing is slow for a fleet: off the event loop), then signal the broker."""
        self._clients = tuple(clients)
        self._ven_clients = tuple(c.client_id for c in self._clients if c.role == "ven")
        await asyncio.to_thread(self.credentials.write, self._clients)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self.credentials.write(self._clients)
        address = self.config.publish_address
        # paho is imported here, only by a VTN with [mqtt].
        client = new_client(
            username=PUBLISHER_USERNAME,
            password=self.credentials.publisher_password(),
            tls=address.tls,
            ca_file=self.config.ca_file,
            # Unique per worker process too: a broker drops a session whose id reconnects.
            client_id=f"{PUBLISHER_USERNAME}-{os.getpid()}-{id(self):x}",
        )
        client.max_queued_messages_set(self._max_queued)
        client.max_inflight_messages_set(1000)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._driver = LoopDriver(
            client,
            address.host,
            address.port,
            min_delay_s=_RECONNECT_MIN_S,
            max_delay_s=_RECONNECT_MAX_S,
        )
        self._driver.start()
        self._client = client

    def close(self) -> None:
        driver, self._driver = self._driver, None
        self._client = None
        if driver is not None:
            self.connected.clear()  # a disconnect asked for, not a lost broker
            driver.stop()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("MQTT broker refused the publisher: %s", reason)
            return
        log.info("MQTT publisher connected to %s", self.config.publish_address.host)
        self.connected.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, p: Any) -> None:
        if self.connected.is_set():
            log.warning("MQTT publisher lost the broker (%s); reconnecting", reason)
        self.connected.clear()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._lock:
            self.published += 1

    # --- notifications ----------------------------------------------------------------------

    async def on_change(self, operation: str, stored: StoredObject) -> None:
        if operation not in MQTT_OPERATIONS or self._client is None:
            return
        prefix = self.config.topic_prefix
        bl_topic = f"{bl_base(prefix, stored.kind)}/{operation.lower()}"
        self._emit(bl_topic, self._note(operation, stored))
        if stored.kind not in CLIENT_KINDS:
            return
        if stored.kind not in TARGETED:
            # A ven or resource is its owner's alone (Definition "Object Privacy").
            if stored.client_id in self._ven_clients:
                self._send_to(stored.client_id, operation, stored, self._note(operation, stored))
            return
        # Clients with the same granted targets see the same rendering: encode it once.
        encoded: dict[tuple[str, ...], bytes] = {}
        for client_id in self._ven_clients:
            principal = Principal(client_id, "ven")
            if not await self._vtn.visible(principal, stored, None):
                continue
            key = await self._vtn.effective_targets(principal, None) if stored.targets else ()
            if key not in encoded:
                shown = await self._vtn.render(principal, stored, None)
                encoded[key] = self._note(operation, stored, shown)
            self._send_to(client_id, operation, stored, encoded[key])

    def _send_to(self, client_id: str, operation: str, stored: StoredObject, body: bytes) -> None:
        base = client_base(self.config.topic_prefix, client_id, stored.kind)
        self._emit(f"{base}/{operation.lower()}", body)

    @staticmethod
    def _note(operation: str, stored: StoredObject, shown: dict[str, Any] | None = None) -> bytes:
        # The webhook notification's shape (YAML ``notification``), as the Definition asks.
        shown = stored.body if shown is None else shown
        note: dict[str, Any] = {"objectType": stored.kind, "operation": operation, "object": shown}
        if shown.get("targets"):
            note["targets"] = shown["targets"]
        return json.dumps(note, separators=(",", ":")).encode()

    def _emit(self, topic: str, body: bytes) -> None:
        client = self._client
        assert client is not None
        info = client.publish(topic, body, qos=QOS, retain=False)
        if info.rc != 0:
            with self._lock:
                self.dropped += 1
                dropped = self.dropped
            if dropped == 1 or dropped % 1000 == 0:
                log.warning("MQTT notification dropped (%d so far): rc %s", dropped, info.rc)


#: A CA bundle bigger than this is the wrong file.
MAX_CA_BYTES = 256 * 1024


def _read_ca(path: str | None) -> str:
    """The PEM text of ``ca_file``, advertised as ``caCert``; a file that is not one is refused
    at start-up rather than handed to every client."""
    if path is None:
        raise ConfigError("[mqtt] authentication = CERTIFICATE needs ca_file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CA_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"[mqtt] cannot read ca_file {path}: {exc.strerror}") from None
    if len(data) > MAX_CA_BYTES:
        raise ConfigError(f"[mqtt] ca_file {path} is over {MAX_CA_BYTES} bytes: not a CA bundle")
    text = data.decode("ascii", errors="replace")
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise ConfigError(f"[mqtt] ca_file {path} holds no PEM certificate")
    return text
