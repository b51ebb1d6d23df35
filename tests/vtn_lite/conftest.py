"""A real vtn_lite on 127.0.0.1 and HTTP helpers for its tests.

Every test here runs twice: on SQLite (``:memory:``) and on PostgreSQL (a fresh database of a
private server started once per session from Debian's binaries, hil/postgres.py). A missing
PostgreSQL is an error, not a skip.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
import pytest

from hil.postgres import PrivatePostgres
from tests.vtn_lite.schema import SPEC_FILES, validate_response
from vtn_lite.auth import hash_secret
from vtn_lite.config import ClientEntry, VtnConfig
from vtn_lite.server import RunningVtn, running_vtn
from vtn_lite.service import Vtn
from vtn_lite.storage import open_storage

# Cheap scrypt cost for tests only: the hashing itself is tested in test_auth.py.
TEST_SCRYPT_N = 2**4
CLIENTS = {
    "bl": ("bl_client", "1001", "bl"),
    "ven": ("ven_client", "999", "ven"),
    "ven2": ("ven_client2", "998", "ven"),
}
BACKENDS = ("sqlite", "postgresql")
# The storage make_config uses by default: the current test's (set by the storage_url fixture).
_current_storage = {"url": ":memory:"}


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    # Session scope: pytest runs the suite once per backend, each module's fixtures anew.
    return str(request.param)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PrivatePostgres]:
    with PrivatePostgres.started() as server:
        yield server


def fresh_storage(backend: str, request: pytest.FixtureRequest) -> str:
    """An empty store of ``backend``: in-memory SQLite or a new PostgreSQL database."""
    if backend == "sqlite":
        return ":memory:"
    server: PrivatePostgres = request.getfixturevalue("postgres")
    return server.new_database()


@pytest.fixture(autouse=True)
def storage_url(backend: str, request: pytest.FixtureRequest) -> Iterator[str]:
    url = fresh_storage(backend, request)
    _current_storage["url"] = url
    yield url
    _current_storage["url"] = ":memory:"
    if backend == "postgresql":
        server: PrivatePostgres = request.getfixturevalue("postgres")
        server.drop_database(url)


@asynccontextmanager
async def open_vtn(
    url: str | None = None, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[Vtn]:
    """The service layer alone on the current test's storage (or ``url``), opened and closed."""
    store = open_storage(url or _current_storage["url"])
    await store.open()
    try:
        vtn = Vtn(store, clock=clock)
        await vtn.refresh_derived()
        yield vtn
    finally:
        await store.close()


def make_config(**overrides: Any) -> VtnConfig:
    clients = tuple(
        ClientEntry(cid, hash_secret(secret, n=TEST_SCRYPT_N), role)  # type: ignore[arg-type]
        for cid, secret, role in CLIENTS.values()
    )
    base = VtnConfig(
        host="127.0.0.1",
        port=0,
        database=_current_storage["url"],
        allow_local_callbacks=True,
        webhook_attempts=3,
        webhook_backoff=0.01,
        webhook_timeout=5.0,
        clients=clients,
    )
    return replace(base, **overrides)


@dataclass
class Api:
    """Calls one API version of a running VTN as a given client."""

    session: aiohttp.ClientSession
    base: str
    tokens: dict[str, str]

    async def call(
        self,
        method: str,
        path: str,
        who: str | None = "bl",
        body: Any = None,
        params: Any = None,
        token: str | None = None,
    ) -> tuple[int, Any]:
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        elif who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        async with self.session.request(
            method, self.base + path, json=body, params=params, headers=headers
        ) as response:
            text = await response.text()
            data = None
            if text:
                data = await response.json(content_type=None)
            if response.status >= 400:
                # Both YAMLs declare application/json for problems (vtn_lite.http).
                assert response.content_type == "application/json", text
                assert data["status"] == response.status
            version = self.base.rsplit("/", 1)[-1]
            if version in SPEC_FILES and not path.startswith("/vtn-lite"):
                # Strict on output: every response of every test must fit the YAML.
                validate_response(version, method, path.split("?")[0], response.status, data)
            return response.status, data

    async def ok(self, method: str, path: str, who: str = "bl", body: Any = None, **kw: Any) -> Any:
        status, data = await self.call(method, path, who, body, **kw)
        assert status in (200, 201), (status, data)
        return data


async def get_token(session: aiohttp.ClientSession, base: str, who: str) -> str:
    cid, secret, _ = CLIENTS[who]
    async with session.post(
        f"{base}/auth/token",
        data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret},
    ) as response:
        assert response.status == 200
        return str((await response.json())["access_token"])


@pytest.fixture
async def server() -> AsyncIterator[RunningVtn]:
    async with running_vtn(make_config()) as running:
        yield running


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def api(server: RunningVtn, session: aiohttp.ClientSession) -> Api:
    tokens = {who: await get_token(session, server.base_url, who) for who in CLIENTS}
    return Api(session, server.base_url, tokens)


@pytest.fixture
async def api301(server: RunningVtn, session: aiohttp.ClientSession, api: Api) -> Api:
    return Api(session, server.base_url_301, api.tokens)


@dataclass
class Receiver:
    """A webhook callback on 127.0.0.1 that answers the echo challenge and records POSTs."""

    url: str
    received: list[tuple[str | None, Any]]
    fail_next: int = 0
    echo_ok: bool = True
    challenges: int = 0

    async def wait_for(self, count: int, server: RunningVtn) -> None:
        await server.notifier.idle()
        assert len(self.received) >= count, self.received


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    from aiohttp import web

    state = Receiver(url="", received=[])

    async def callback(request: web.Request) -> web.Response:
        if request.method == "GET":
            state.challenges += 1
            echo = request.query.get("echo", "")
            return web.Response(text=echo if state.echo_ok else "nope")
        if state.fail_next > 0:
            state.fail_next -= 1
            return web.Response(status=503)
        state.received.append((request.headers.get("Authorization"), await request.json()))
        return web.Response(status=200)

    async with loopback_app("/cb", callback) as url:
        state.url = url
        yield state


@asynccontextmanager
async def loopback_app(path: str, handler: Any) -> AsyncIterator[str]:
    """Serve one handler (any method) on 127.0.0.1 and a free port; yields its URL."""
    from aiohttp import web

    app = web.Application()
    app.router.add_route("*", path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}{path}"
    finally:
        await runner.cleanup()
