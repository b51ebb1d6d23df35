"""Broker credentials vtn_lite issues for its MQTT notifier, as mosquitto files.

The 3.1.0 YAML's ``mqttNotifierAuthenticationOauth2BearerToken`` makes the OAuth access token
the MQTT password; Debian's mosquitto cannot check such tokens (it has no OAuth plugin). So each
client gets a broker password of its own instead (docs/vtn-lite.md "MQTT notifier", deviations):

* the password is an HMAC of the client id under a key kept in ``credentials_dir`` (created
  once, 0600), so every worker and every restart hands out the same password without storing it;
* ``passwd`` holds mosquitto PBKDF2-SHA512 hashes (mosquitto_passwd's ``$7$`` format), never
  the passwords;
* ``acl`` lets the publisher write everything under the prefix, business logic read it all,
  and every other client read only ``<prefix>/clients/<its own username>/#`` (a mosquitto
  ``pattern`` line: VEN A cannot subscribe to VEN B's topics, Definition "Object Privacy").

Both files are replaced atomically (a temporary file renamed over the old one), at start-up and
whenever the client list changes while serving (:mod:`vtn_lite.client_reload`); the broker
re-reads them on SIGHUP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import signal
from collections.abc import Iterable
from pathlib import Path

from vtn_lite.config import ClientEntry
from vtn_lite.mqtt_config import PUBLISHER_USERNAME, MqttConfig

log = logging.getLogger(__name__)

KEY_FILE = "vtn-lite-mqtt.key"
PASSWORD_FILE = "passwd"
ACL_FILE = "acl"
_KEY_BYTES = 32
# mosquitto_passwd's defaults for the $7$ (PBKDF2-SHA512) format.
_PBKDF2_ITERATIONS = 101
_SALT_BYTES = 12


class BrokerCredentials:
    """Derives the per-client broker passwords and writes mosquitto's files."""

    def __init__(self, config: MqttConfig) -> None:
        self._dir = Path(config.credentials_dir)
        self._prefix = config.topic_prefix
        self._pid_file = Path(config.broker_pid_file) if config.broker_pid_file else None
        self._key = self._load_key()
        # A user's hash is kept between writes: a changed client list hashes only its new users
        # (each hash costs PBKDF2 rounds; a fleet's list is rewritten at every change).
        self._hashes: dict[str, str] = {}

    @property
    def password_file(self) -> Path:
        return self._dir / PASSWORD_FILE

    @property
    def acl_file(self) -> Path:
        return self._dir / ACL_FILE

    def password(self, username: str) -> str:
        digest = hmac.new(self._key, b"client\0" + username.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def publisher_password(self) -> str:
        return self.password(PUBLISHER_USERNAME)

    def client_topics_root(self, username: str) -> str:
        return f"{self._prefix}/clients/{username}"

    def write(self, clients: Iterable[ClientEntry]) -> None:
        """Write ``passwd`` and ``acl`` for these clients, then ask the broker to reload."""
        entries = list(clients)
        users = [PUBLISHER_USERNAME, *(client.client_id for client in entries)]
        hashes = {
            user: self._hashes.get(user) or mosquitto_hash(self.password(user)) for user in users
        }
        self._hashes = hashes
        passwd = "".join(f"{user}:{hashed}\n" for user, hashed in hashes.items())
        acl = [
            "# Written by vtn-lite at start-up and when the client list changes; edits are lost.",
            f"user {PUBLISHER_USERNAME}",
            f"topic write {self._prefix}/#",
        ]
        for client in entries:
            if client.role == "bl":
                acl += [f"user {client.client_id}", f"topic read {self._prefix}/#"]
        # Applies to every authenticated user: each reads its own client topics only.
        acl.append(f"pattern read {self._prefix}/clients/%u/#")
        _replace(self.password_file, passwd)
        _replace(self.acl_file, "\n".join(acl) + "\n")
        self._reload_broker()

    def _load_key(self) -> bytes:
        self._dir.mkdir(parents=True, exist_ok=True)
        path = self._dir / KEY_FILE
        try:
            key = path.read_bytes()
        except FileNotFoundError:
            # Several workers may start at once: each writes a whole key aside and links it in;
            # the first link wins and every worker then uses that key (the same passwords).
            tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(_KEY_BYTES))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
            key = path.read_bytes()
        if len(key) < _KEY_BYTES:
            raise ValueError(f"{path} holds {len(key)} bytes; delete it to make a new key")
        return key

    def _reload_broker(self) -> None:
        if self._pid_file is None:
            return
        try:
            pid = int(self._pid_file.read_text().strip())
            os.kill(pid, signal.SIGHUP)
        except (OSError, ValueError) as exc:
            log.warning("broker not told to reload its credentials (%s): %s", self._pid_file, exc)
            return
        log.info("broker (pid %d) told to reload its password and ACL files", pid)


def mosquitto_hash(password: str, *, salt: bytes | None = None) -> str:
    """A password file entry in mosquitto's ``$7$`` format: PBKDF2-HMAC-SHA512."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"$7${_PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def _replace(path: Path, text: str) -> None:
    # The broker reads these as another user (mosquitto): group-readable, never world-readable.
    # One temporary file per process: several workers rewrite these files as they start.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
