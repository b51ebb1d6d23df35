"""Several workers on one port: what one worker stores, issues or changes holds on the others.

SO_REUSEPORT lets the kernel pick the worker per connection, so the tests open connections
until each worker holds one (``/vtn-lite/worker`` says which), then keep using them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from tests.conftest import REPO_ROOT, run_module, wait_for
from tests.vtn_lite.conftest import (
    CLIENTS,
    TEST_SCRYPT_N,
    Api,
    Receiver,
    get_token,
    make_config,
    open_vtn,
)
from vtn_lite.auth import Principal, hash_secret
from vtn_lite.config import ClientEntry, ConfigError, client_toml
from vtn_lite.notifier import WebhookNotifier
from vtn_lite.service import Vtn
from vtn_lite.storage import Change, IndexFields, Query, open_storage
from vtn_lite.workers import RunningWorkers, running_workers

WORKERS = 2
# Connections tried before giving up on reaching every worker: each lands on a given worker
# with probability 1/2, so 200 misses are about as likely as a 2**-199 event.
_MAX_CONNECTIONS = 200
_WAIT_S = 60.0
_SUBSCRIPTIONS = 12


@asynccontextmanager
async def sessions_per_worker(
    running: RunningWorkers, token: str
) -> AsyncIterator[list[aiohttp.ClientSession]]:
    """One keep-alive session pinned to each worker (a single connection each)."""
    found: dict[int, aiohttp.ClientSession] = {}
    async with AsyncExitStack() as stack:
        for _ in range(_MAX_CONNECTIONS):
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
            worker = await _worker_of(session, running, token)
            if worker in found:
                await session.close()
                continue
            found[worker] = await stack.enter_async_context(session)
            if len(found) == WORKERS:
                break
        assert sorted(found) == list(range(WORKERS)), f"reached only workers {sorted(found)}"
        yield [found[index] for index in range(WORKERS)]


async def _worker_of(session: aiohttp.ClientSession, running: RunningWorkers, token: str) -> int:
    async with session.get(
        f"{running.url}/vtn-lite/worker", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 200, await response.text()
        return int((await response.json())["worker"])


async def test_workers_share_tokens_subscriptions_and_grants(
    backend: str, receiver: Receiver
) -> None:
    config = make_config(workers=WORKERS)
    if backend == "sqlite":
        # One SQLite file cannot be shared: refused before anything starts.
        with pytest.raises(ConfigError, match="needs PostgreSQL"):
            async with running_workers(config):
                pass
        return
    async with running_workers(config) as running, aiohttp.ClientSession() as plain:
        bl_token = await get_token(plain, running.base_url, "bl")
        async with sessions_per_worker(running, bl_token) as (on_a, on_b):
            await _scenario(running, on_a, on_b, receiver)


async def _scenario(
    running: RunningWorkers,
    on_a: aiohttp.ClientSession,
    on_b: aiohttp.ClientSession,
    receiver: Receiver,
) -> None:
    base = running.base_url
    # A token issued by worker A is accepted by worker B.
    tokens = {"ven": await get_token(on_a, base, "ven")}
    tokens["bl"] = await get_token(on_a, base, "bl")
    bl_a, bl_b = Api(on_a, base, tokens), Api(on_b, base, tokens)
    ven_a = Api(on_a, base, tokens)
    assert await bl_b.ok("GET", "/programs") == []
    assert (await ven_a.call("GET", "/programs", who="ven"))[0] == 200

    # Subscriptions registered on either worker hear of an event created on worker B, each
    # exactly once (each worker notifies its share of them).
    for n in range(_SUBSCRIPTIONS):
        operation = {
            "objects": ["EVENT"],
            "operations": ["CREATE"],
            "callbackUrl": receiver.url,
            "bearerToken": f"sub-{n}",
        }
        body = {"clientName": f"listener-{n}", "objectOperations": [operation]}
        await (bl_a if n % 2 else bl_b).ok("POST", "/subscriptions", body=body)
    program = await bl_b.ok("POST", "/programs", body={"programName": "shared"})
    event = await bl_b.ok(
        "POST",
        "/events",
        body={"programID": program["id"], "targets": ["group-1"], "intervals": []},
    )
    await wait_for(
        lambda: len(receiver.received) >= _SUBSCRIPTIONS, _WAIT_S, "cross-worker notifications"
    )
    await asyncio.sleep(0.5)  # room for a duplicate to show
    assert sorted(auth or "" for auth, _ in receiver.received) == sorted(
        f"Bearer sub-{n}" for n in range(_SUBSCRIPTIONS)
    )
    for _, note in receiver.received:
        assert (note["operation"], note["object"]["id"]) == ("CREATE", event["id"])

    # A write on worker A changes the view, and its ETag, that worker B serves from its cache:
    # at once, on the next poll (tests/vtn_lite/test_cheap_polls.py shows it without notices).
    headers = {"Authorization": f"Bearer {tokens['bl']}"}
    async with on_b.get(f"{base}/programs", headers=headers) as response:
        etag = response.headers["ETag"]
    unchanged = {**headers, "If-None-Match": etag}
    async with on_b.get(f"{base}/programs", headers=unchanged) as response:
        assert response.status == 304
    written = await bl_a.ok("POST", "/programs", body={"programName": "written-on-a"})
    async with on_b.get(f"{base}/programs", headers=unchanged) as response:
        assert response.status == 200
        assert response.headers["ETag"] != etag
        assert written["id"] in [p["id"] for p in await response.json()]

    # Targets granted on worker B reach the VEN's view on worker A, whose cache held the old
    # grant: worker A hears of the change (LISTEN/NOTIFY) and forgets it.
    ven = await ven_a.ok("POST", "/vens", who="ven", body={"venName": "ven-1"})
    assert await ven_a.ok("GET", "/events", who="ven") == []
    grant = {
        "objectType": "BL_VEN_REQUEST",
        "venName": "ven-1",
        "clientID": CLIENTS["ven"][0],
        "targets": ["group-1"],
    }
    await bl_b.ok("PUT", f"/vens/{ven['id']}", body=grant)
    seen: list[Any] = []

    async def poll() -> None:
        while not seen:
            seen.extend(await ven_a.ok("GET", "/events", who="ven"))
            if not seen:
                await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), _WAIT_S)
    assert [e["id"] for e in seen] == [event["id"]]

    # The same name created on both workers at once: one wins, the other gets 409.
    statuses = await asyncio.gather(
        bl_a.call("POST", "/programs", body={"programName": "race"}),
        bl_b.call("POST", "/programs", body={"programName": "race"}),
    )
    assert sorted(status for status, _ in statuses) == [201, 409]

    # Both connections stayed on their workers throughout.
    assert await _worker_of(on_a, running, tokens["bl"]) == 0
    assert await _worker_of(on_b, running, tokens["bl"]) == 1


async def test_grants_read_during_a_change_are_not_cached() -> None:
    """A grant lookup that awaited the storage while another worker changed the ven must not
    keep what it read before the change."""
    async with open_vtn() as vtn:
        bl = Principal("bl", "bl")
        ven = await vtn.create(
            bl, "VEN", {"objectType": "BL_VEN_REQUEST", "clientID": "c", "venName": "v"}
        )
        store = vtn.store
        read = store.search
        raced: list[bool] = []

        async def search_then_change(query: Query) -> list[Any]:
            found = await read(query)
            if query.kind == "VEN" and not raced:
                raced.append(True)
                stored = await store.get("VEN", ven["id"])
                assert stored is not None
                granted = IndexFields(name="v", client_id="c", targets=("g",))
                await store.replace(stored, granted, {**ven, "targets": ["g"]})
                changed = await store.get("VEN", ven["id"])
                assert changed is not None
                await vtn.changed_elsewhere(Change("UPDATE", changed))
            return found

        store.search = search_then_change  # type: ignore[method-assign]
        assert await vtn.granted_targets("c") == ()  # read before the change
        assert await vtn.granted_targets("c") == ("g",)  # not served from a stale cache


def test_each_subscription_has_exactly_one_notifying_worker() -> None:
    ids = [str(uuid.uuid4()) for _ in range(200)]
    notifiers = [_notifier(index) for index in range(WORKERS)]
    owners = [[n.owns(sub_id) for n in notifiers].count(True) for sub_id in ids]
    assert owners == [1] * len(ids)
    assert all(any(n.owns(sub_id) for sub_id in ids) for n in notifiers)  # the work is shared
    assert all(_notifier(0, count=1).owns(sub_id) for sub_id in ids)


def _notifier(index: int, count: int = WORKERS) -> WebhookNotifier:
    vtn = Vtn(open_storage(":memory:"))
    return WebhookNotifier(
        vtn, lambda _: None, allow_local=True, timeout=1, attempts=1, backoff=0,
        share=(index, count),
    )  # fmt: skip


def test_serve_command_runs_and_stops_its_workers(
    tmp_path: Path, backend: str, storage_url: str
) -> None:
    config = tmp_path / "vtn.toml"
    url = storage_url if backend == "postgresql" else "vtn.sqlite"
    client = ClientEntry("utility", hash_secret("s", n=TEST_SCRYPT_N), "bl")
    config.write_text(
        f'[server]\nport = 0\nworkers = 2\n[storage]\nurl = "{url}"\n' + client_toml(client)
    )
    if backend == "sqlite":
        refused = run_module("vtn_lite", "serve", "--config", str(config))
        assert refused.returncode == 2
        assert "workers = 2 needs PostgreSQL" in refused.stderr
        return
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    process = subprocess.Popen(
        [sys.executable, "-m", "vtn_lite", "serve", "--config", str(config)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stderr is not None
        line = ""
        deadline = time.monotonic() + _WAIT_S
        while time.monotonic() < deadline and "3.1.0 at" not in line:
            line = process.stderr.readline()
        base = line.rsplit(" ", 1)[1].strip()
        assert httpx.get(base + "/auth/server", timeout=30).status_code == 200
        workers = [pid for pid in _children(process.pid) if "spawn_main" in _cmdline(pid)]
        assert len(workers) == WORKERS
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(_WAIT_S) == 0
    # The parent waits for its workers before it exits.
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def _children(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def _cmdline(pid: str) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
