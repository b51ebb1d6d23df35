"""Push by MQTT: the VTN's broker, when ``GET /notifiers`` offers one (Definition 3.1.0,
"Notifications via Additional Protocols"; docs/openadr-client.md "MQTT notifications").

:func:`parse_binding` and :func:`parse_topics` read the VTN's answers (sans-I/O, hostile input
bounded). :class:`MqttPush` holds one broker connection through paho-mqtt, imported only here and
only when a VTN offers MQTT, so a gateway without it never loads the library. The event loop
drives paho (:class:`~ven_edge.oadr3.mqttloop.LoopDriver`), which reconnects after jittered
delays. Messages are notifications like webhook bodies: bounded in size and JSON depth
(:mod:`ven_edge.oadr3.boundedjson`), one bad message logged and ignored (the link re-reads by
polling; the last good timeline stays), and a lost broker wakes the link, which polls at its
normal pace until the broker is back. A (re)connect wakes it too: the Definition advises
re-reading state by REST then rather than trusting what was missed. That wake, and
:attr:`MqttPush.connected`, wait for the broker's SUBACK (MQTT 3.1.1 §3.9): a change published
between the CONNACK and the subscription taking effect reaches no one, so a re-read made before it
could miss it until the next safety-net poll.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ven_edge.oadr3.errors import PayloadError
from ven_edge.oadr3.mqttloop import LoopDriver, new_client
from ven_edge.oadr3.push import NotificationSink
from ven_edge.oadr3.webhook import DEFAULT_MAX_BODY_BYTES, parse_notification
from ven_edge.redact import redact_text

if TYPE_CHECKING:
    from ven_edge.oadr3.client import VtnClient

LOG = logging.getLogger(__name__)

PORTS = {"mqtt": 1883, "mqtts": 8883}
#: "Topic names come from the VTN": as many as the topic endpoints name, each of sane length.
MAX_TOPICS = 16
MAX_TOPIC_CHARS = 512
MAX_CREDENTIAL_CHARS = 4096
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 120
QOS = 1


#: What the broker connection is doing (:attr:`MqttPush.state`, the status page's "push" block):
#: started and not yet answered, CONNACK accepted (SUBACK awaited), SUBACK accepted, the broker
#: not reachable or lost, the broker refusing the login, the subscription or the TLS handshake.
MQTT_STATES = ("stopped", "connecting", "connected", "subscribed", "unreachable", "refused")


@dataclass(frozen=True)
class MqttState:
    """One of :data:`MQTT_STATES`, since when (the first failure of a run of them), and why."""

    state: str
    since: datetime | None = None
    problem: str | None = None


class MqttUnusable(ValueError):
    """The VTN offers MQTT in a form this gateway cannot use; the message says why."""


@dataclass(frozen=True)
class MqttBinding:
    """Where and how to connect. ``password`` None with ``OAUTH2_BEARER_TOKEN``: the access
    token is the password (YAML ``mqttNotifierAuthenticationOauth2BearerToken``)."""

    uri: str
    host: str
    port: int
    tls: bool
    method: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse_binding(
    notifiers: Any, client_id: str | None, *, certificate: bool = False
) -> MqttBinding | None:
    """The MQTT binding of a ``GET /notifiers`` answer; None when MQTT is not offered.

    Of the broker URIs the first ``mqtts://`` one is taken, else the first ``mqtt://`` one.
    vtn_lite adds a ``password`` to ``OAUTH2_BEARER_TOKEN`` (docs/vtn-lite.md, deviations);
    it is used when present. ``CERTIFICATE`` is usable over ``mqtts://`` only, and only when
    this gateway has a client certificate (``certificate``): the binding's ``caCert``,
    ``clientCert`` and ``clientKey`` strings are never used, nor kept, the gateway's own files
    are (a private key handed out by an API would be known to the VTN too;
    docs/openadr-client.md "MQTT notifications")."""
    if not isinstance(notifiers, Mapping):
        raise MqttUnusable(f"GET /notifiers answered {type(notifiers).__name__}, not an object")
    binding = notifiers.get("MQTT")
    if binding is None or binding is False:
        return None
    if not isinstance(binding, Mapping):
        raise MqttUnusable("the MQTT binding is not an object")
    serialization = binding.get("serialization", "JSON")
    if serialization != "JSON":
        raise MqttUnusable(f"serialization {str(serialization)[:32]!r} is not JSON")
    uris = binding.get("URIS")
    if not isinstance(uris, list) or not uris:
        raise MqttUnusable("the MQTT binding lists no broker URIs")
    schemes = [(urlsplit(u).scheme.lower(), u) for u in uris[:MAX_TOPICS] if isinstance(u, str)]
    usable = [u for s, u in schemes if s == "mqtts"] + [u for s, u in schemes if s == "mqtt"]
    if not usable:
        raise MqttUnusable("no mqtt:// or mqtts:// broker URI")
    uri = usable[0]
    parts = urlsplit(uri)
    try:
        port = parts.port or PORTS[parts.scheme.lower()]
    except ValueError:
        raise MqttUnusable(f"bad port in {redact_text(uri)}") from None
    if not parts.hostname:
        raise MqttUnusable(f"no host in {redact_text(uri)}")
    auth = binding.get("authentication")
    method = auth.get("method") if isinstance(auth, Mapping) else None
    tls = parts.scheme.lower() == "mqtts"
    host = parts.hostname
    if method == "ANONYMOUS":
        return MqttBinding(uri, host, port, tls, method)
    if method == "OAUTH2_BEARER_TOKEN":
        assert isinstance(auth, Mapping)
        username = _credential(auth.get("username"), "username")
        if username is None or username == "{clientID}":
            username = client_id
        if username is None:
            raise MqttUnusable("the broker wants the clientID as username; none is configured")
        password = _credential(auth.get("password"), "password")
        return MqttBinding(uri, host, port, tls, method, username, password)
    if method == "CERTIFICATE":
        if not tls:
            raise MqttUnusable("CERTIFICATE authentication needs an mqtts:// broker URI")
        if not certificate:
            raise MqttUnusable(
                "the broker wants a client certificate (CERTIFICATE): set vtn.mqtt_cert_file "
                "and vtn.mqtt_key_file"
            )
        return MqttBinding(uri, host, port, tls, method)
    raise MqttUnusable(f"authentication method {str(method)[:40]!r} is not supported")


def _credential(value: Any, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_CREDENTIAL_CHARS:
        raise MqttUnusable(f"the broker {name} is not a usable string")
    return value


def parse_topics(answers: Sequence[Any]) -> tuple[str, ...]:
    """Topic names from ``notifierTopicsResponse`` answers: ALL where given, else each
    operation's topic (READ is never notified)."""
    topics: list[str] = []
    for answer in answers:
        listed = answer.get("topics") if isinstance(answer, Mapping) else None
        if not isinstance(listed, Mapping):
            raise MqttUnusable("a topics answer has no topics object")
        chosen = [listed["ALL"]] if "ALL" in listed else [listed.get(op) for op in _OPS]
        for topic in chosen:
            if topic is None:
                continue
            if not _valid_filter(topic):
                raise MqttUnusable(f"unusable topic name {str(topic)[:64]!r}")
            if topic not in topics:
                topics.append(topic)
    if not topics or len(topics) > MAX_TOPICS:
        raise MqttUnusable(f"{len(topics)} topics named; 1 to {MAX_TOPICS} expected")
    return tuple(topics)


_OPS = ("CREATE", "UPDATE", "DELETE")


def _valid_filter(topic: Any) -> bool:
    """An MQTT topic filter (MQTT 3.1.1 §4.7): '+' alone in a level, '#' alone and last."""
    if not isinstance(topic, str) or not 0 < len(topic) <= MAX_TOPIC_CHARS or "\0" in topic:
        return False
    levels = topic.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


class MqttPush(NotificationSink):
    """One broker connection delivering notifications into the link's wait."""

    def __init__(
        self,
        *,
        client: VtnClient | None = None,
        ca_file: str | None = None,
        max_message_bytes: int = DEFAULT_MAX_BODY_BYTES,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        client_cert: str | None = None,
        client_key: str | None = None,
    ) -> None:
        super().__init__(client=client)
        self._wall_clock = wall_clock
        #: This gateway's certificate and key for the CERTIFICATE method (PEM files).
        self.client_cert = client_cert
        self.client_key = client_key
        self._answered = False  # a CONNACK came on this connection
        self._tls_problem: str | None = None
        self.state = MqttState("stopped")
        self.ca_file = ca_file
        self.max_message_bytes = max_message_bytes
        self.binding: MqttBinding | None = None
        self.topics: tuple[str, ...] = ()
        self._driver: LoopDriver | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = False
        self._refused: str | None = None
        self._subscribing: int | None = None  # the mid of this connection's SUBSCRIBE
        self._tasks: set[asyncio.Future[None]] = set()

    def __repr__(self) -> str:
        return f"MqttPush(connected={self._connected}, received={self.received})"

    @property
    def started(self) -> bool:
        return self._driver is not None

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def has_certificate(self) -> bool:
        return self.client_cert is not None and self.client_key is not None

    def _set_state(self, state: str, problem: str | None = None) -> None:
        # ``since`` is kept while the state repeats: "unreachable since" the first failure.
        since = self.state.since if state == self.state.state else self._wall_clock()
        self.state = MqttState(state, since, None if problem is None else redact_text(problem))

    def start(self, binding: MqttBinding, topics: Sequence[str], password: str | None) -> None:
        """Connect in the background (driven by the event loop); returns at once. Raises
        :class:`MqttUnusable` when the client certificate cannot be loaded."""
        self.stop()
        certificate = binding.method == "CERTIFICATE"
        try:
            # paho is imported here, only when the VTN offers MQTT; mqtts is verified against
            # ca_file (else the system's CAs).
            client = new_client(
                username=binding.username,
                password=password,
                tls=binding.tls,
                ca_file=self.ca_file,
                cert_file=self.client_cert if certificate else None,
                key_file=self.client_key if certificate else None,
            )
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise MqttUnusable(
                f"the client certificate {self.client_cert} or its key cannot be loaded: {exc}"
            ) from None
        self._set_state("connecting")
        self._answered = False
        self._loop = asyncio.get_running_loop()
        self.binding = binding
        self.topics = tuple(topics)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._driver = LoopDriver(
            client,
            binding.host,
            binding.port,
            min_delay_s=RECONNECT_MIN_S,
            max_delay_s=RECONNECT_MAX_S,
        )
        self._driver.on_connect_failed = self._connect_failed
        self._driver.start()
        LOG.info("MQTT: connecting to %s for %d topics", redact_text(binding.uri), len(topics))

    def stop(self) -> None:
        driver, self._driver = self._driver, None
        self._connected = False
        self._subscribing = None
        if driver is not None:
            driver.stop()
            self._set_state("stopped")
        for task in self._tasks:
            task.cancel()

    # -- paho's callbacks (the event loop; a connect runs in the executor) ---------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        failed = bool(getattr(reason, "is_failure", False))
        mid = None
        if not failed:
            # Subscriptions are made again at each connect (clean session), all in one SUBSCRIBE
            # so one SUBACK says when every topic is live.
            _, mid = client.subscribe([(topic, QOS) for topic in self.topics])
        self._call(self._connected_as, str(reason), failed, mid)

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reasons: Any, p: Any) -> None:
        refused = [str(r) for r in reasons if getattr(r, "is_failure", False)]
        self._call(self._subscribed, mid, refused)

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, p: Any) -> None:
        self._call(self._lost, str(reason))

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self._call(self.deliver, str(message.topic), bytes(message.payload))

    def _call(self, callback: Any, *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(callback, *args)

    # -- the event loop ----------------------------------------------------------------------
    def _connect_failed(self, exc: BaseException) -> None:
        # The driver logs each failure itself. A failed TLS handshake (a broker certificate this
        # gateway does not trust, or a client certificate the broker does not) is a refusal,
        # not an unreachable broker, and says which file to look at.
        if not isinstance(exc, ssl.SSLError):
            self._set_state("unreachable", f"connect failed: {exc}")
            return
        if isinstance(exc, ssl.SSLCertVerificationError):
            hint = "the broker's certificate is not trusted: vtn.mqtt_ca_file (else vtn.ca_file)"
            hint += " must hold the CA that signed it"
        else:
            hint = "the TLS handshake with the broker failed"
        self._refuse_tls(f"{hint} ({exc})")

    def _refuse_tls(self, problem: str) -> None:
        if problem != self._tls_problem:
            LOG.error("MQTT: %s; polling instead, retrying", problem)
        self._tls_problem = problem
        self._set_state("refused", problem)

    def _connected_as(self, reason: str, failed: bool, mid: int | None) -> None:
        self._answered = True
        self._tls_problem = None
        if failed:
            if reason != self._refused:
                LOG.warning("MQTT: the broker refused the connection (%s); retrying", reason)
            self._refused = reason
            self._set_state("refused", f"the broker refused the connection: {reason}")
            return
        self._set_state("connected")
        self._subscribing = mid
        LOG.debug("MQTT: connected; subscribing to %d topics", len(self.topics))

    def _subscribed(self, mid: int, refused: list[str]) -> None:
        if mid != self._subscribing:
            return  # a SUBACK of an earlier connection, or after stop()
        self._subscribing = None
        if refused:
            # Not connected for notifications: the link keeps polling at its normal pace.
            reason = ", ".join(refused)
            if reason != self._refused:
                LOG.warning("MQTT: the broker refused the subscription (%s); polling", reason)
            self._refused = reason
            self._set_state("refused", f"the broker refused the subscription: {reason}")
            return
        self._refused = None
        self._connected = True
        self._set_state("subscribed")
        LOG.info("MQTT: connected; notifications by MQTT, polling slows down")
        self._wake(None)  # re-read by REST what may have changed while not subscribed

    def _lost(self, reason: str) -> None:
        if self._connected:
            LOG.warning("MQTT: broker connection lost (%s); polling until it is back", reason)
        answered, self._answered = self._answered, False
        self._connected = False
        self._subscribing = None
        binding = self.binding
        if (
            self.started
            and not answered
            and binding is not None
            and binding.method == "CERTIFICATE"
        ):
            # With TLS 1.3 a broker refusing the client certificate closes the connection after
            # the handshake, before any CONNACK (mosquitto's require_certificate): nothing else
            # says why, and the broker is there.
            self._refuse_tls(
                "the broker closed the TLS connection before answering: it does not accept the "
                f"client certificate {self.client_cert} (signed by a CA it trusts? its common "
                f"name the client id?) ({reason})"
            )
            self._wake(None)
            return
        if self.started and self.state.state != "refused":
            # A refused login ends in a disconnect too: the refusal is what the page shows. A
            # disconnect heard after stop() changes nothing.
            self._set_state("unreachable", f"connection lost: {reason}")
        self._wake(None)

    def deliver(self, topic: str, payload: bytes) -> None:
        """Take one message (called in the event loop)."""
        where = topic[:MAX_TOPIC_CHARS]
        if len(payload) > self.max_message_bytes:
            self.rejected += 1
            LOG.error(
                "MQTT message on %s ignored: %d bytes over the %d-byte limit; polling instead",
                where,
                len(payload),
                self.max_message_bytes,
            )
            self._wake(None)
            return
        try:
            notification = parse_notification(payload, self.max_message_bytes)
        except PayloadError as exc:
            self.rejected += 1
            LOG.error(
                "MQTT message on %s ignored: malformed notification: %s; polling instead",
                where,
                exc,
            )
            self._wake(None)
            return
        self.count_received(notification, "MQTT")
        task = asyncio.ensure_future(self.dispatch(notification))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
