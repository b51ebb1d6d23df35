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
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from vtn_lite import api31, api301
from vtn_lite.auth import Authenticator, hash_secret
from vtn_lite.client_reload import ClientReloader
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
    from vtn_lite.oadr2b.face import Face
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
    oadr2b: Face | None = None  # the 2.0b face, served on its own port (running_vtn)
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
    face = None
    if config.oadr2b is not None:
        try:
            from vtn_lite.oadr2b.face import Face
        except ImportError as exc:  # lxml and cryptography are recommended, not required
            raise ConfigError(
                f"[oadr2b] needs python3-lxml and python3-cryptography ({exc.name} is missing)"
            ) from None
        face = Face(
            vtn,
            config.oadr2b,
            clock=clock,
            checkin=console.checked_in if console is not None else None,
            reports=console.directory.put_points if console is not None else None,
        )
        if console is not None:
            console.oadr2b = face.registry

    async def apply_clients(clients: tuple[ClientEntry, ...]) -> None:
        # Tokens first: a removed client gets no new one while the broker files are rewritten.
        authenticator.set_clients(clients)
        roles.clear()
        roles.update((client.client_id, client.role) for client in clients)
        if mqtt is not None:
            await mqtt.set_clients(clients)

    reloading: list[asyncio.Task[None]] = []

    async def on_startup(_: web.Application) -> None:
        await store.open()
        await vtn.refresh_derived()
        await authenticator.load()
        if console is not None:
            await console.load()
            if face is not None:
                await console.load_oadr2b_reports()
        await notifier.start()
        if mqtt is not None:
            mqtt.start()
        # Other workers on the same PostgreSQL: their writes invalidate this one's caches, and
        # this worker notifies its share of the webhook subscribers. MQTT messages go out from
        # the worker that wrote (its listener), once per change.
        await store.listen(on_other_worker)
        if config.source is not None:
            # Clients added or removed in the file are served without a restart.
            reloader = ClientReloader(
                Path(config.source), config.clients, apply_clients, mqtt=mqtt is not None
            )
            reloading.append(asyncio.create_task(reloader.run()))
        if planner is not None:
            # The planning request exists before the first VEN polls; plans follow.
            await planner.prepare()
            planner_task.append(asyncio.create_task(planner.run(), name="fleet-planner"))

    async def on_other_worker(change: Change) -> None:
        await vtn.changed_elsewhere(change)
        await notifier.on_change(change.operation, change.stored)

    async def on_cleanup(_: web.Application) -> None:
        for task in reloading:
            task.cancel()
        await asyncio.gather(*reloading, return_exceptions=True)
        for task in planner_task:
            task.cancel()
        await asyncio.gather(*planner_task, return_exceptions=True)
        await notifier.close()
        if mqtt is not None:
            mqtt.close()
        await store.close()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app, VtnParts(vtn, notifier, authenticator, store, console, mqtt, face, planner)


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
    oadr2b_url: str | None = None  # the 2.0b face's base URL, when [oadr2b] is enabled

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
        async with AsyncExitStack() as stack:
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
            oadr2b_url = None
            if parts.oadr2b is not None and worker == 0:
                from vtn_lite.oadr2b.http import serving

                oadr2b_url = await stack.enter_async_context(serving(parts.oadr2b))
            yield RunningVtn(f"{scheme}://{host}:{port}", parts, oadr2b_url)
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
    oadr2b_port: int = 0,
) -> VtnConfig:
    """Loopback only, the well-known test credentials, lab callbacks allowed; the console on
    with its demo users; ``fleet`` more VEN clients for ``python -m hil.fleet``; the 2.0b face
    on ``oadr2b_port`` (0: any free one) in lab mode (plain HTTP, loopback), registrations
    approved at once."""
    from vtn_lite.console.users import make_user
    from vtn_lite.oadr2b.settings import Oadr2bSettings

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
        oadr2b=Oadr2bSettings(port=oadr2b_port, lab_plain_http=True, auto_approve=True),
    )


def fleet_clients(count: int, *, scrypt_n: int = 2**14) -> tuple[ClientEntry, ...]:
    """VEN clients ``fleet-1`` ... ``fleet-N`` with the secret ``FLEET_SECRET`` (demo only)."""
    return tuple(
        ClientEntry(f"{FLEET_CLIENT_PREFIX}{index}", hash_secret(FLEET_SECRET, n=scrypt_n), "ven")
        for index in range(1, count + 1)
    )


def with_port(config: VtnConfig, port: int) -> VtnConfig:
    return replace(config, port=port)
