"""vtn_lite configuration: a TOML file with a ``[server]`` table and ``[[clients]]`` entries.

```toml
[server]
host = "127.0.0.1"
port = 8080
workers = 1                                   # processes on one port; more than 1 needs PostgreSQL
public_url = "https://vtn.example.org"        # what /auth/server advertises (default: request host)
token_lifetime = 3600                         # seconds
max_body_bytes = 1048576
allow_local_callbacks = false                 # lab switch: http and loopback/private callbacks
webhook_timeout = 10.0
webhook_attempts = 4
webhook_backoff = 1.0                         # first retry delay, doubled per attempt
tls_cert = "vtn.crt"                          # PEM certificate chain; with tls_key: HTTPS
tls_key = "vtn.key"                           # PEM private key (keep it 0600)
# POST /auth/token brute-force protection (429 + Retry-After); 0 switches a limit off.
auth_window = 300.0                           # seconds over which failures are counted
auth_max_failures_per_client = 10             # wrong secrets per client id per window
auth_max_failures_per_address = 50            # failed requests per remote address per window
auth_rate_per_address = 10.0                  # token requests per second per address, sustained
auth_burst_per_address = 200                  # ... and as a burst
auth_tracked_keys = 10000                     # memory bound per table (least recent forgotten)

[storage]
url = "/var/lib/vtn-lite/vtn.sqlite"          # SQLite file (or "sqlite:PATH", ":memory:")
# url = "postgresql://vtn@/vtn?host=/run/postgresql"   # PostgreSQL (python3-asyncpg)

[mqtt]                                        # optional: MQTT notifier (vtn_lite/mqtt_config.py)
uris = ["mqtts://broker.example.org:8883"]
credentials_dir = "/var/lib/vtn-lite/mqtt"

[[clients]]
client_id = "bl_client"
secret_hash = "scrypt$..."                    # written by `vtn-lite clients add`
role = "bl"                                   # "bl" (business logic) or "ven"
```
"""

from __future__ import annotations

import difflib
import importlib.util
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from vtn_lite.console.settings import ConsoleConfigError, ConsoleSettings, parse_console
from vtn_lite.mqtt_config import MqttConfig, MqttConfigError, parse_mqtt, topic_safe
from vtn_lite.oadr2b.settings import Oadr2bConfigError, Oadr2bSettings, parse_oadr2b
from vtn_lite.planner.settings import PlannerConfigError, PlannerSettings, parse_planner
from vtn_lite.ratelimit import AuthLimits
from vtn_lite.storage import SQLITE_SCHEME, is_postgres

Role = Literal["bl", "ven"]
ROLES: tuple[Role, ...] = ("bl", "ven")

DEFAULT_PORT = 8080
DEFAULT_TOKEN_LIFETIME_S = 3600
DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class ConfigError(ValueError):
    """A configuration file that cannot be used, with the reason."""


@dataclass(frozen=True, slots=True)
class ClientEntry:
    client_id: str
    secret_hash: str
    role: Role


@dataclass(frozen=True, slots=True)
class VtnConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    # The storage URL ([storage] url; formerly [server] database): a SQLite path or postgresql://.
    database: str = ":memory:"
    workers: int = 1
    public_url: str | None = None
    token_lifetime: int = DEFAULT_TOKEN_LIFETIME_S
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    allow_local_callbacks: bool = False
    webhook_timeout: float = 10.0
    webhook_attempts: int = 4
    webhook_backoff: float = 1.0
    tls_cert: str | None = None
    tls_key: str | None = None
    auth_limits: AuthLimits = field(default_factory=AuthLimits)
    clients: tuple[ClientEntry, ...] = field(default=())
    console: ConsoleSettings | None = None  # [console] enabled = true (docs/console.md)
    mqtt: MqttConfig | None = None
    oadr2b: Oadr2bSettings | None = None  # [oadr2b] enabled = true (docs/vtn-lite-2.0b.md)
    #: The file this was loaded from; while serving, its ``[[clients]]`` are re-read when it
    #: changes (vtn_lite/client_reload.py).
    source: str | None = None
    planner: PlannerSettings | None = None  # [planner] (docs/fleet-planner.md)

    def with_clients(self, *clients: ClientEntry) -> VtnConfig:
        return replace(self, clients=(*self.clients, *clients))


_SERVER_TYPES: dict[str, tuple[type, ...]] = {
    "host": (str,),
    "port": (int,),
    "database": (str,),
    "workers": (int,),
    "public_url": (str,),
    "token_lifetime": (int,),
    "max_body_bytes": (int,),
    "allow_local_callbacks": (bool,),
    "webhook_timeout": (int, float),
    "webhook_attempts": (int,),
    "webhook_backoff": (int, float),
    "tls_cert": (str,),
    "tls_key": (str,),
}
# [server] key -> AuthLimits field and its types.
_AUTH_LIMIT_KEYS: dict[str, tuple[str, tuple[type, ...]]] = {
    "auth_window": ("window", (int, float)),
    "auth_max_failures_per_client": ("max_failures_per_client", (int,)),
    "auth_max_failures_per_address": ("max_failures_per_address", (int,)),
    "auth_rate_per_address": ("rate_per_address", (int, float)),
    "auth_burst_per_address": ("burst_per_address", (int,)),
    "auth_tracked_keys": ("max_keys", (int,)),
}


_TOP_LEVEL_KEYS = ("server", "storage", "clients", "console", "mqtt", "oadr2b", "planner")
_CLIENT_KEYS = ("client_id", "secret_hash", "role")


def _unknown_key(where: str, key: str, known: tuple[str, ...]) -> ConfigError:
    """An unknown key, with where it belongs if it is a key of another table, or the closest
    known key: a misplaced or misspelt key must not be ignored (a `database` outside
    ``[server]`` would leave the store in memory and lose its data on restart)."""
    server_keys = (*_SERVER_TYPES, *_AUTH_LIMIT_KEYS)
    if where != "[server]" and key in server_keys:
        hint = "; it belongs in [server] (write it below the [server] line)"
    elif where != "[[clients]]" and key in _CLIENT_KEYS:
        hint = "; it belongs in a [[clients]] entry"
    else:
        match = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f"; did you mean {match[0]!r}?" if match else ""
    return ConfigError(f"{where} has an unknown key {key!r}{hint} (known: {', '.join(known)})")


def parse_config(data: dict[str, Any], *, base_dir: Path | None = None) -> VtnConfig:
    for key in data:
        if key not in _TOP_LEVEL_KEYS:
            raise _unknown_key("the top level", key, _TOP_LEVEL_KEYS)
    server = data.get("server", {})
    if not isinstance(server, dict):
        raise ConfigError("[server] must be a table")
    values: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for key, value in server.items():
        if key in _AUTH_LIMIT_KEYS:
            name, types = _AUTH_LIMIT_KEYS[key]
            wrong_type = isinstance(value, bool) or not isinstance(value, types)
            if wrong_type or not isinstance(value, int | float) or value < 0:
                kind = "an integer" if types == (int,) else "a number"
                raise ConfigError(f"[server] {key} must be {kind} of at least 0, not {value!r}")
            limits[name] = value
            continue
        expected = _SERVER_TYPES.get(key)
        if expected is None:
            raise _unknown_key("[server]", key, (*_SERVER_TYPES, *_AUTH_LIMIT_KEYS))
        if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
            raise ConfigError(f"[server] {key} must be {expected[0].__name__}, not {value!r}")
        values[key] = value
    storage_url = _storage_url(data)
    if storage_url is not None:
        if "database" in values:
            raise ConfigError(
                "the database is named twice: keep [storage] url and remove [server] database"
            )
        values["database"] = storage_url
    database = values.get("database", ":memory:")
    if base_dir is not None and database != ":memory:" and not is_postgres(database):
        values["database"] = str((base_dir / database).resolve())
    for key in ("tls_cert", "tls_key"):
        if base_dir is not None and key in values:
            values[key] = str((base_dir / values[key]).resolve())
    if ("tls_cert" in values) != ("tls_key" in values):
        raise ConfigError("[server] tls_cert and tls_key go together")
    for key in ("token_lifetime", "max_body_bytes", "webhook_attempts"):
        if key in values and values[key] < 1:
            raise ConfigError(f"[server] {key} must be at least 1")
    clients = []
    seen: set[str] = set()
    entries = data.get("clients", [])
    if not isinstance(entries, list):
        raise ConfigError("clients must be an array of tables ([[clients]] entries)")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"[[clients]] entry {index + 1} must be a table")
        for key in entry:
            if key not in _CLIENT_KEYS:
                raise _unknown_key("[[clients]]", key, _CLIENT_KEYS)
        try:
            client = ClientEntry(
                client_id=str(entry["client_id"]),
                secret_hash=str(entry["secret_hash"]),
                role=entry["role"],
            )
        except KeyError as exc:
            raise ConfigError(f"[[clients]] entry {index + 1} lacks {exc.args[0]!r}") from None
        if not client.secret_hash.startswith("scrypt$"):
            raise ConfigError(
                f"client {client.client_id!r}: secret_hash must be an scrypt hash"
                " (write it with vtn-lite clients add), never a plain secret"
            )
        if client.role not in ROLES:
            raise ConfigError(f"client {client.client_id!r}: role must be one of {ROLES}")
        if client.client_id in seen:
            raise ConfigError(f"client {client.client_id!r} is listed twice")
        seen.add(client.client_id)
        clients.append(client)
    if limits.get("max_keys") == 0:
        raise ConfigError("[server] auth_tracked_keys must be at least 1")
    if limits.get("window") == 0:
        raise ConfigError("[server] auth_window must be more than 0")
    try:
        console = parse_console(data.get("console"), base_dir)
    except ConsoleConfigError as exc:
        raise ConfigError(str(exc)) from None
    try:
        planner = parse_planner(data.get("planner"))
    except PlannerConfigError as exc:
        raise ConfigError(str(exc)) from None
    check_workers(
        values.get("workers", 1), values.get("database", ":memory:"), console=console is not None
    )
    try:
        oadr2b = parse_oadr2b(data.get("oadr2b"), base_dir)
    except Oadr2bConfigError as exc:
        raise ConfigError(str(exc)) from None
    if oadr2b is not None and values.get("workers", 1) > 1:
        # Its own port is served by the first process only (docs/vtn-lite-2.0b.md).
        raise ConfigError("[oadr2b] is served by one worker; set [server] workers = 1")
    if planner is not None and values.get("workers", 1) > 1:
        # The planner reads the planning reports as this worker stores them (docs/fleet-planner.md).
        raise ConfigError("[planner] needs [server] workers = 1")
    return VtnConfig(
        **values,
        auth_limits=AuthLimits(**limits),
        clients=tuple(clients),
        console=console,
        mqtt=_mqtt_of(data, clients, base_dir),
        oadr2b=oadr2b,
        planner=planner,
    )


def _mqtt_of(
    data: dict[str, Any], clients: list[ClientEntry], base_dir: Path | None
) -> MqttConfig | None:
    if "mqtt" not in data:
        return None
    try:
        mqtt = parse_mqtt(data["mqtt"], base_dir=base_dir)
    except MqttConfigError as exc:
        raise ConfigError(str(exc)) from None
    for client in clients:
        if not topic_safe(client.client_id):
            raise ConfigError(
                f"client {client.client_id!r} cannot be an MQTT username and topic level;"
                " with [mqtt] client ids use letters, digits and . _ @ - only"
            )
    return mqtt


def check_workers(workers: int, database: str, *, console: bool = False) -> None:
    if workers < 1:
        raise ConfigError("[server] workers must be at least 1")
    if workers > 1 and console:
        # The console keeps its sessions and check-ins in the process (docs/console.md): a
        # login on one worker would not hold on the next request, answered by another.
        raise ConfigError(f"[server] workers = {workers} cannot serve [console]; it needs one")
    if workers > 1 and not is_postgres(database):
        # Workers share the database; SQLite is one process's file (docs/vtn-lite.md "Storage").
        raise ConfigError(
            f"[server] workers = {workers} needs PostgreSQL"
            ' ([storage] url = "postgresql://..."); SQLite serves one worker'
        )


def _storage_url(data: dict[str, Any]) -> str | None:
    storage = data.get("storage")
    if storage is None:
        return None
    if not isinstance(storage, dict):
        raise ConfigError("[storage] must be a table")
    for key in storage:
        if key != "url":
            raise _unknown_key("[storage]", key, ("url",))
    url = storage.get("url")
    if not isinstance(url, str) or not url:
        raise ConfigError("[storage] url must be a SQLite path or a postgresql:// URL")
    if not is_postgres(url):
        return url.removeprefix(SQLITE_SCHEME)
    if importlib.util.find_spec("asyncpg") is None:
        raise ConfigError(
            "[storage] url names PostgreSQL, which needs asyncpg:"
            " apt install python3-asyncpg (or pip install 'ven-edge[postgres]')"
        )
    return url


def load_config(path: Path) -> VtnConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return replace(parse_config(data, base_dir=path.parent), source=str(path.resolve()))


def client_toml(client: ClientEntry) -> str:
    """One ``[[clients]]`` entry, appended by ``vtn-lite clients add``."""
    return (
        "\n[[clients]]\n"
        f'client_id = "{_escape(client.client_id)}"\n'
        f'secret_hash = "{_escape(client.secret_hash)}"\n'
        f'role = "{client.role}"\n'
    )


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
