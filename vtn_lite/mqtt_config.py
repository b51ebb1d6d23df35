"""The ``[mqtt]`` table of vtn_lite's configuration: the MQTT notifier (Definition 3.1.0,
"Notifications via Additional Protocols"; docs/vtn-lite.md "MQTT notifier").

```toml
[mqtt]
uris = ["mqtts://broker.example.org:8883"]   # advertised in GET /notifiers, in this order
publish_uri = "mqtt://127.0.0.1:1883"        # where vtn_lite publishes (default: uris[0])
credentials_dir = "/var/lib/vtn-lite/mqtt"   # password file, ACL file and key written here
broker_pid_file = "/run/mosquitto/mosquitto.pid"  # SIGHUP after the files change (optional)
ca_file = "/etc/ssl/certs/broker-ca.pem"     # to verify an mqtts:// publish_uri (optional)
topic_prefix = "openadr3"
authentication = "OAUTH2_BEARER_TOKEN"       # or "CERTIFICATE" (needs ca_file)
```

Without the table vtn_lite offers webhooks only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MQTT_SCHEMES = {"mqtt": 1883, "mqtts": 8883}
# Client ids become MQTT usernames and topic levels (the broker's ACL substitutes the username
# into the topic pattern): no wildcards, separators, spaces or colons (mosquitto's password file
# splits at the first colon).
_TOPIC_SAFE = re.compile(r"[A-Za-z0-9._@-]{1,128}")
PUBLISHER_USERNAME = "vtn-lite-publisher"
#: The 3.1.0 YAML's MQTT authentication methods vtn_lite can advertise (docs/vtn-lite.md "MQTT
#: notifier"): its own per-client passwords, or client certificates checked by the broker.
AUTHENTICATION_METHODS = ("OAUTH2_BEARER_TOKEN", "CERTIFICATE")


class MqttConfigError(ValueError):
    """An ``[mqtt]`` table that cannot be used, with the reason."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool


@dataclass(frozen=True, slots=True)
class MqttConfig:
    uris: tuple[str, ...]
    credentials_dir: str
    publish_uri: str | None = None
    broker_pid_file: str | None = None
    ca_file: str | None = None
    topic_prefix: str = "openadr3"
    authentication: str = "OAUTH2_BEARER_TOKEN"

    @property
    def publish_address(self) -> BrokerAddress:
        return broker_address(self.publish_uri or self.uris[0])


def broker_address(uri: str) -> BrokerAddress:
    parts = urlsplit(uri)
    if parts.scheme not in MQTT_SCHEMES or not parts.hostname:
        raise MqttConfigError(f"[mqtt] {uri!r} is not an mqtt:// or mqtts:// URI with a host")
    try:
        port = parts.port or MQTT_SCHEMES[parts.scheme]
    except ValueError:
        raise MqttConfigError(f"[mqtt] {uri!r} has a bad port") from None
    return BrokerAddress(parts.hostname, port, parts.scheme == "mqtts")


def topic_safe(client_id: str) -> bool:
    return _TOPIC_SAFE.fullmatch(client_id) is not None and client_id != PUBLISHER_USERNAME


_KEYS: dict[str, type] = {
    "uris": list,
    "publish_uri": str,
    "credentials_dir": str,
    "broker_pid_file": str,
    "ca_file": str,
    "topic_prefix": str,
    "authentication": str,
}


def parse_mqtt(table: Any, *, base_dir: Path | None = None) -> MqttConfig:
    if not isinstance(table, dict):
        raise MqttConfigError("[mqtt] must be a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        expected = _KEYS.get(key)
        if expected is None:
            raise MqttConfigError(f"[mqtt] has an unknown key {key!r} (known: {sorted(_KEYS)})")
        if not isinstance(value, expected):
            raise MqttConfigError(f"[mqtt] {key} must be a {expected.__name__}, not {value!r}")
        values[key] = value
    uris = values.pop("uris", None)
    if not uris or not all(isinstance(uri, str) for uri in uris):
        raise MqttConfigError("[mqtt] uris must list at least one broker URI")
    for uri in (*uris, values.get("publish_uri") or uris[0]):
        broker_address(uri)
    if "credentials_dir" not in values:
        raise MqttConfigError("[mqtt] credentials_dir is required (password and ACL files)")
    prefix = values.get("topic_prefix", "openadr3")
    if not _TOPIC_SAFE.fullmatch(prefix):
        raise MqttConfigError(f"[mqtt] topic_prefix {prefix!r} must be one plain topic level")
    method = values.get("authentication", "OAUTH2_BEARER_TOKEN")
    if method not in AUTHENTICATION_METHODS:
        raise MqttConfigError(
            f"[mqtt] authentication {method!r} must be one of {', '.join(AUTHENTICATION_METHODS)}"
        )
    if method == "CERTIFICATE":
        if "ca_file" not in values:
            raise MqttConfigError(
                "[mqtt] authentication = CERTIFICATE needs ca_file (the CA of the broker's"
                " certificate, advertised to clients as caCert)"
            )
        if not all(broker_address(uri).tls for uri in uris):
            raise MqttConfigError(
                "[mqtt] authentication = CERTIFICATE needs mqtts:// uris (client certificates"
                " are only ever sent over TLS)"
            )
    for key in ("credentials_dir", "broker_pid_file", "ca_file"):
        if base_dir is not None and key in values:
            values[key] = str((base_dir / values[key]).resolve())
    return MqttConfig(uris=tuple(uris), **values)
