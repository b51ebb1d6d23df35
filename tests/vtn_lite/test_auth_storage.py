"""Tokens (form, Basic, JSON, expiry), hashed secrets, migrations and restart persistence."""

from __future__ import annotations

import base64
import os
import sqlite3
from pathlib import Path

import aiohttp
import pytest

from tests.vtn_lite.conftest import CLIENTS, Api, get_token, make_config
from vtn_lite.auth import hash_secret, verify_secret
from vtn_lite.server import RunningVtn, running_vtn
from vtn_lite.storage import open_storage
from vtn_lite.storage_sqlite import MIGRATIONS, SqliteStore


async def test_auth_server_and_token_styles(
    server: RunningVtn, session: aiohttp.ClientSession
) -> None:
    async with session.get(server.base_url + "/auth/server") as response:
        assert response.status == 200
        assert (await response.json()) == {"tokenURL": server.base_url + "/auth/token"}
    token_url = server.base_url + "/auth/token"
    basic = base64.b64encode(b"ven_client:999").decode()
    async with session.post(
        token_url,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    ) as response:
        body = await response.json()
        assert response.status == 200
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 3600
        assert response.headers["Cache-Control"] == "no-store"
    async with session.post(token_url, json={"clientID": "bl_client", "clientSecret": "1001"}) as r:
        assert r.status == 200
    async with session.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": "bl_client",
            "client_secret": "wrong",
        },
    ) as response:
        assert response.status == 401
        assert (await response.json())["error"] == "invalid_client"
    async with session.post(
        token_url, data=b"[" * 100_000, headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_request"
    async with session.post(token_url, data={"grant_type": "password"}) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "unsupported_grant_type"
    async with session.post(token_url, data={"grant_type": "client_credentials"}) as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_request"
    async with session.get(server.base_url + "/notifiers") as response:
        assert response.status == 401
    token = await get_token(session, server.base_url, "ven")
    async with session.get(
        server.base_url + "/notifiers", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert (await response.json()) == {"WEBHOOK": True}


async def test_tokens_expire(session: aiohttp.ClientSession) -> None:
    now = [1_000_000.0]
    async with running_vtn(make_config(token_lifetime=60), clock=lambda: now[0]) as server:
        token = await get_token(session, server.base_url, "bl")
        api = Api(session, server.base_url, {"bl": token})
        assert (await api.call("GET", "/programs"))[0] == 200
        now[0] += 61
        status, problem = await api.call("GET", "/programs")
        assert status == 401
        assert "expired" in problem["detail"]


def test_secret_hashing() -> None:
    stored = hash_secret("s3cret", n=2**4)
    assert stored.startswith("scrypt$16$")
    assert "s3cret" not in stored
    assert verify_secret("s3cret", stored)
    assert not verify_secret("s3cret!", stored)
    assert not verify_secret("s3cret", "plain$text")
    assert hash_secret("s3cret", n=2**4) != stored  # salted


async def test_restart_keeps_everything(
    tmp_path: Path, session: aiohttp.ClientSession, backend: str, storage_url: str
) -> None:
    # SQLite in a file (not :memory:); PostgreSQL's database outlives the server anyway.
    durable = str(tmp_path / "vtn.sqlite") if backend == "sqlite" else storage_url
    config = make_config(database=durable)
    async with running_vtn(config) as server:
        token = await get_token(session, server.base_url, "bl")
        api = Api(session, server.base_url, {"bl": token})
        program = await api.ok("POST", "/programs", body={"programName": "kept", "targets": ["t1"]})
        event = await api.ok("POST", "/events", body={"programID": program["id"], "intervals": []})
        before = (await api.ok("GET", "/programs"), await api.ok("GET", "/events"))
    if backend == "sqlite":
        assert oct((tmp_path / "vtn.sqlite").stat().st_mode & 0o777) == oct(0o600)
    async with running_vtn(config) as server:
        api = Api(session, server.base_url, {"bl": token})  # the token survives too
        after = (await api.ok("GET", "/programs"), await api.ok("GET", "/events"))
        assert after == before
        assert await api.ok("GET", "/programs", params={"targets": "t1"}) == before[0]
        assert (await api.call("POST", "/programs", body={"programName": "kept"}))[0] == 409
        assert event["id"] in [e["id"] for e in after[1]]


async def test_migrations_are_versioned(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    await SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        SqliteStore(path)
    assert os.stat(path).st_mode & 0o077 == 0


async def test_body_size_limit(session: aiohttp.ClientSession) -> None:
    async with running_vtn(make_config(max_body_bytes=2000)) as server:
        token = await get_token(session, server.base_url, "bl")
        api = Api(session, server.base_url, {"bl": token})
        status, problem = await api.call(
            "POST", "/programs", body={"programName": "big", "x": "y" * 5000}
        )
        assert status == 413
        assert problem["title"] == "Request Entity Too Large"
        assert await api.ok("GET", "/programs") == []
    assert CLIENTS


def test_config_errors(tmp_path: Path) -> None:
    from vtn_lite.config import ConfigError, load_config

    cases = {
        '[server]\nport = "80"\n': "port must be int",
        "[server]\nnope = 1\n": "unknown key 'nope'",
        '[[clients]]\nclient_id = "a"\nsecret_hash = "1001"\nrole = "bl"\n': "scrypt hash",
        '[[clients]]\nclient_id = "a"\nsecret_hash = "scrypt$1$1$1$a$b"\nrole = "root"\n': "role",
        '[[clients]]\nclient_id = "a"\nrole = "bl"\n': "lacks 'secret_hash'",
        "[server\n": "vtn.toml",
    }
    path = tmp_path / "vtn.toml"
    for text, message in cases.items():
        path.write_text(text)
        with pytest.raises(ConfigError, match=message):
            load_config(path)
    path.write_text('[server]\ndatabase = "data/vtn.sqlite"\nallow_local_callbacks = true\n')
    config = load_config(path)
    assert config.database == str(tmp_path / "data" / "vtn.sqlite")
    assert config.allow_local_callbacks


async def test_expired_tokens_are_forgotten(storage_url: str) -> None:
    from vtn_lite import auth
    from vtn_lite.config import ClientEntry

    now = [0.0]
    store = open_storage(storage_url)
    await store.open()
    client = ClientEntry("c", hash_secret("s", n=2**4), "ven")
    authenticator = auth.Authenticator([client], store, lifetime=10, clock=lambda: now[0])
    old = [(await authenticator.issue_for(client)).access_token for _ in range(auth._PURGE_AT)]
    now[0] = 11.0
    fresh = (await authenticator.issue_for(client)).access_token  # the purge happens here
    assert await authenticator.principal(fresh) is not None
    assert len(authenticator._tokens) == 1
    assert await authenticator.principal(old[0]) is None
    # Gone from the storage too, not only from this worker's cache.
    assert await store.find_token(auth._token_hash(old[0])) is None
    assert await store.find_token(auth._token_hash(fresh)) is not None
    await store.close()
