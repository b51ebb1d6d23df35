"""The vtn_lite application and an in-process server for tests and the demo.

```python
async with running_vtn(demo_config(tmp_dir)) as vtn:
    vtn.base_url      # "http://127.0.0.1:PORT/openadr3/3.1.0"
    vtn.base_url_301  # "http://127.0.0.1:PORT/openadr3/3.0.1"
```
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from vtn_lite import api31, api301
from vtn_lite.auth import Authenticator, hash_secret
from vtn_lite.config import ClientEntry, ConfigError, Role, VtnConfig
from vtn_lite.console.settings import ConsoleSettings
from vtn_lite.http import (
    AUTH_LIMITER_KEY,
    AUTHENTICATOR_KEY,
    json_response,
    principal_of,
    problem_middleware,
)
from vtn_lite.mqtt_notifier import MqttNotifier
from vtn_lite.notifier import WebhookNotifier
from vtn_lite.ratelimit import AuthRateLimiter
from vtn_lite.service import Vtn
from vtn_lite.storage import Change, Storage, open_storage

if TYPE_CHECKING:
    from vtn_lite.console.state import Console
    from vtn_lite.planner.job import PlannerService

log = logging.getLogger(__name__)

# The OpenADR Alliance reference implementation's test credentials, which the Alliance test
# tool and other OpenADR test tools use (docs/openadr3.md §11, §12).
DEMO_CLIENTS: tuple[tuple[str, str, Role], ...] = (
    ("bl_client", "1001", "bl"),
    ("ven_client", "999", "ven"),
)
DEMO_DATABASE_NAME = "vtn-lite-demo.sqlite"
# The demo console's users (docs/console.md): a dispatcher and a viewer.
DEMO_CONSOLE_USERS: tuple[tuple[str, str, str], ...] = (
    ("operator", "operator-demo", "dispatcher"),
    ("viewer", "viewer-demo", "viewer"),
)
# Demo VEN clients for the simulated fleet (hil/fleet.py): fleet-1, fleet-2, ...
FLEET_CLIENT_PREFIX = "fleet-"
FLEET_SECRET = "fleet-demo"


@dataclass(frozen=True, slots=True)
class VtnParts:
    vtn: Vtn
    notifier: WebhookNotifier
    authenticator: Authenticator
    store: Storage
    console: Console | None = None
    mqtt: MqttNotifier | None = None
    planner: PlannerService | None = None


def build_app(
    config: VtnConfig,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    worker: int = 0,
) -> tuple[web.Application, VtnParts]:
    store = open_storage(config.database)
    vtn = Vtn(store, clock=clock)
    authenticator = Authenticator(
        config.clients, store, lifetime=config.token_lifetime, clock=clock
    )
    roles = {client.client_id: client.role for client in config.clients}
    notifier = WebhookNotifier(
        vtn,
        roles.get,
        allow_local=config.allow_local_callbacks,
        timeout=config.webhook_timeout,
        attempts=config.webhook_attempts,
        backoff=config.webhook_backoff,
        sleep=sleep,
        share=(worker, config.workers),
    )
    mqtt = MqttNotifier(vtn, config.mqtt, config.clients) if config.mqtt else None
    planner = None
    if config.planner is not None:
        from vtn_lite.planner.job import PlannerService

        planner = PlannerService(vtn, config.planner, clock=clock)
        planner.install()
    planner_task: list[asyncio.Task[None]] = []
    app = web.Application(middlewares=[problem_middleware], client_max_size=config.max_body_bytes)
    app[AUTHENTICATOR_KEY] = authenticator
    app[AUTH_LIMITER_KEY] = AuthRateLimiter(config.auth_limits)
    api31.add_routes(app, vtn, notifier, authenticator, config.public_url, mqtt)
    api301.add_routes(app, vtn, notifier, authenticator)

    async def deliveries(request: web.Request) -> web.Response:
        # Operator view of the webhook failure state per subscription (BL only).
        principal = await principal_of(request)
        vtn.require(principal, "read_bl")
        states = []
        for sub in await store.all_of_kind("SUBSCRIPTION"):
            state = await store.delivery_state(sub.id)
            states.append(
                {
                    "subscriptionID": sub.id,
                    "state": state.state if state else "IDLE",
                    "delivered": state.delivered if state else 0,
                    "consecutiveFailures": state.consecutive_failures if state else 0,
                    "lastError": state.last_error if state else None,
                }
            )
        return json_response(states)

    app.router.add_get("/vtn-lite/deliveries", deliveries)
    console = None
    if config.console is not None:
        from vtn_lite.console.app import install

        console = install(
            app,
            vtn,
            config.console,
            clock=clock,
            secure_cookies=config.tls_cert is not None,
            planner=planner,
        )

    async def worker_info(request: web.Request) -> web.Response:
        # Which of several workers (docs/vtn-lite.md "Several workers") holds this connection.
        vtn.require(await principal_of(request), "read_bl")
        return json_response({"worker": worker, "workers": config.workers, "pid": os.getpid()})

    app.router.add_get("/vtn-lite/worker", worker_info)

    async def on_startup(_: web.Application) -> None:
        await store.open()
        await vtn.refresh_derived()
        await authenticator.load()
        if console is not None:
            await console.load()
        await notifier.start()
        if mqtt is not None:
            mqtt.start()
        # Other workers on the same PostgreSQL: their writes invalidate this one's caches, and
        # this worker notifies its share of the webhook subscribers. MQTT messages go out from
        # the worker that wrote (its listener), once per change.
        await store.listen(on_other_worker)
        if planner is not None:
            # The planning request exists before the first VEN polls; plans follow.
            await planner.prepare()
            planner_task.append(asyncio.create_task(planner.run(), name="fleet-planner"))

    async def on_other_worker(change: Change) -> None:
        await vtn.changed_elsewhere(change)
        await notifier.on_change(change.operation, change.stored)

    async def on_cleanup(_: web.Application) -> None:
        for task in planner_task:
            task.cancel()
        await asyncio.gather(*planner_task, return_exceptions=True)
        await notifier.close()
        if mqtt is not None:
            mqtt.close()
        await store.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app, VtnParts(vtn, notifier, authenticator, store, console, mqtt, planner)


class ServedApis:
    """The API base URLs below a served origin ``url``."""

    __slots__ = ()
    url: str

    @property
    def base_url(self) -> str:
        return f"{self.url}{api31.BASE_31}"

    @property
    def base_url_301(self) -> str:
        return f"{self.url}{api301.BASE_301}"


@dataclass(frozen=True, slots=True)
class RunningVtn(ServedApis):
    url: str
    parts: VtnParts

    @property
    def vtn(self) -> Vtn:
        return self.parts.vtn

    @property
    def notifier(self) -> WebhookNotifier:
        return self.parts.notifier


@asynccontextmanager
async def running_vtn(
    config: VtnConfig,
    *,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    reuse_port: bool = False,
    worker: int = 0,
) -> AsyncIterator[RunningVtn]:
    """Serve ``config`` in this event loop; port 0 picks a free port.

    One worker; :mod:`vtn_lite.workers` starts several, each with ``reuse_port``.
    """
    app, parts = build_app(config, clock=clock, sleep=sleep, worker=worker)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        tls = tls_context(config)
        site = web.TCPSite(
            runner, config.host, config.port, ssl_context=tls, reuse_port=reuse_port or None
        )
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else config.port
        host = f"[{config.host}]" if ":" in config.host else config.host
        scheme = "https" if tls else "http"
        yield RunningVtn(f"{scheme}://{host}:{port}", parts)
    finally:
        await runner.cleanup()


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (systemd's stop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


def tls_context(config: VtnConfig) -> ssl.SSLContext | None:
    """Server TLS from the configured PEM files (Definition "HTTPS/TLS": TLS 1.2 or later)."""
    if config.tls_cert is None or config.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.tls_cert, config.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load TLS certificate {config.tls_cert}: {exc}") from None
    return context


def demo_clients(*, scrypt_n: int = 2**14) -> tuple[ClientEntry, ...]:
    return tuple(
        ClientEntry(client_id, hash_secret(secret, n=scrypt_n), role)
        for client_id, secret, role in DEMO_CLIENTS
    )


def demo_config(
    directory: Path,
    *,
    port: int = 8080,
    scrypt_n: int = 2**14,
    fleet: int = 0,
    console: ConsoleSettings | None = None,
) -> VtnConfig:
    """Loopback only, the well-known test credentials, lab callbacks allowed; the console on
    with its demo users; ``fleet`` more VEN clients for ``python -m hil.fleet``."""
    from vtn_lite.console.users import make_user

    users = tuple(
        make_user(name, password, role, scrypt_n=scrypt_n)
        for name, password, role in DEMO_CONSOLE_USERS
    )
    return VtnConfig(
        host="127.0.0.1",
        port=port,
        database=str(directory / DEMO_DATABASE_NAME),
        allow_local_callbacks=True,
        clients=demo_clients(scrypt_n=scrypt_n) + fleet_clients(fleet, scrypt_n=scrypt_n),
        console=replace(console or ConsoleSettings(), users=users),
    )


def fleet_clients(count: int, *, scrypt_n: int = 2**14) -> tuple[ClientEntry, ...]:
    """VEN clients ``fleet-1`` ... ``fleet-N`` with the secret ``FLEET_SECRET`` (demo only)."""
    return tuple(
        ClientEntry(f"{FLEET_CLIENT_PREFIX}{index}", hash_secret(FLEET_SECRET, n=scrypt_n), "ven")
        for index in range(1, count + 1)
    )


def with_port(config: VtnConfig, port: int) -> VtnConfig:
    return replace(config, port=port)
