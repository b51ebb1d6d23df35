"""Utility-scale parts of bench/vtn_lite.py: bulk-loaded VENs, storage and worker settings, a
private PostgreSQL, and the webhook fan-out measurement. Not a bench itself (imported)."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench._measure import percentile, status_mib
from hil.postgres import PrivatePostgres
from vtn_lite.auth import hash_secret
from vtn_lite.storage import IndexFields, Storage, open_storage

BL_CLIENT = ("bench-bl", "bench-bl-secret")
_BATCH = 10_000
_FANOUT_TIMEOUT_S = 120.0


def storage_lines(database: str, workers: int) -> list[str]:
    """``[server] workers`` (the caller's [server] table is open) and the ``[storage]`` table."""
    return [
        f"workers = {workers}",
        "allow_local_callbacks = true",
        "[storage]",
        f'url = "{database}"',
    ]


def bl_client_lines(scrypt_n: int) -> list[str]:
    return [
        "[[clients]]",
        f'client_id = "{BL_CLIENT[0]}"',
        f'secret_hash = "{hash_secret(BL_CLIENT[1], n=scrypt_n)}"',
        'role = "bl"',
    ]


@contextmanager
def private_postgres(wanted: bool) -> Iterator[PrivatePostgres | None]:
    if not wanted:
        yield None
        return
    with PrivatePostgres.started() as server:
        yield server


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def bulk_vens(store: Storage, vens: int, groups: int) -> None:
    """``vens`` ven objects (client ``ven-N``, target ``group-(N % groups)``), as business logic
    would register them, in batches of one transaction each."""
    started = time.perf_counter()
    now = _now()
    for first in range(0, vens, _BATCH):
        rows = []
        for n in range(first, min(vens, first + _BATCH)):
            object_id = str(uuid.uuid4())
            targets = (f"group-{n % groups}",)
            body = {
                "id": object_id,
                "createdDateTime": now,
                "modificationDateTime": now,
                "objectType": "VEN",
                "clientID": f"ven-{n}",
                "venName": f"ven-{n}",
                "targets": list(targets),
            }
            index = IndexFields(name=f"ven-{n}", client_id=f"ven-{n}", targets=targets)
            rows.append((object_id, index, body))
        await store.insert_many("VEN", rows)
    print(f"bulk-loaded {vens} vens in {time.perf_counter() - started:.1f} s")


RECEIVERS = 4  # processes: 10,000 subscribers are many machines, not one Python process


async def fanout(
    session: aiohttp.ClientSession, base: str, database: str, subscribers: int
) -> float:
    """Seconds from POST /events until ``subscribers`` webhooks have each received it.

    The callbacks are served by RECEIVERS processes on loopback (a subscriber's callback is
    ``/cb/N`` on receiver N % RECEIVERS), each reporting its arrival times (CLOCK_MONOTONIC,
    comparable between processes) once it has all of its share or after the timeout.
    """
    context = multiprocessing.get_context("spawn")
    results: Queue[Any] = context.Queue()
    ports: Queue[Any] = context.Queue()
    shares = [len(range(r, subscribers, RECEIVERS)) for r in range(RECEIVERS)]
    processes = [
        context.Process(target=_receiver_main, args=(r, shares[r], ports, results), daemon=True)
        for r in range(RECEIVERS)
    ]
    for process in processes:
        process.start()
    try:
        reported = [await asyncio.to_thread(ports.get, True, 60) for _ in processes]
        urls = [url for _, url in sorted(reported)]
        store = open_storage(database)
        await store.open()
        try:
            await _bulk_subscriptions(store, urls, subscribers)
        finally:
            await store.close()
        token = await _bl_token(session, base)
        headers = {"Authorization": f"Bearer {token}"}
        async with session.get(f"{base}/programs", headers=headers) as response:
            program_id = (await response.json())[0]["id"]
        event = {"programID": program_id, "eventName": "fan-out", "intervals": []}
        started = time.monotonic()
        async with session.post(f"{base}/events", json=event, headers=headers) as response:
            assert response.status == 201, await response.text()
        answered = time.monotonic() - started
        arrivals: list[float] = []
        for _ in processes:
            arrivals.extend(await asyncio.to_thread(results.get, True, _FANOUT_TIMEOUT_S + 30))
    finally:
        for process in processes:
            process.join(5)
            if process.exitcode is None:
                process.kill()
    if len(arrivals) < subscribers:
        print(f"fan-out: only {len(arrivals)} of {subscribers} within {_FANOUT_TIMEOUT_S} s")
        return float("inf")
    delays = [t - started for t in arrivals]
    total = max(delays)
    print(
        f"fan-out   {subscribers} webhooks: all within {total:.2f} s"
        f" (POST answered after {answered:.2f} s; p50 {percentile(delays, 0.5):.2f} s)"
        f"  target 5 s: {'met' if total <= 5.0 else 'NOT met'}"
    )
    return total


def _receiver_main(index: int, expected: int, ports: Queue[Any], results: Queue[Any]) -> None:
    asyncio.run(_receive(index, expected, ports, results))


async def _receive(index: int, expected: int, ports: Queue[Any], results: Queue[Any]) -> None:
    arrivals: list[float] = []
    everyone = asyncio.Event()

    async def callback(request: web.Request) -> web.Response:
        await request.read()
        arrivals.append(time.monotonic())
        if len(arrivals) >= expected:
            everyone.set()
        return web.Response()

    app = web.Application()
    app.router.add_post("/cb/{n}", callback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    ports.put((index, f"http://127.0.0.1:{port}/cb"))
    with suppress(TimeoutError):  # the parent counts what arrived
        await asyncio.wait_for(everyone.wait(), _FANOUT_TIMEOUT_S)
    results.put(arrivals)
    await runner.cleanup()


async def _bulk_subscriptions(store: Storage, callbacks: list[str], count: int) -> None:
    now = _now()
    rows = []
    for n in range(count):
        object_id = str(uuid.uuid4())
        body: dict[str, Any] = {
            "id": object_id,
            "createdDateTime": now,
            "modificationDateTime": now,
            "objectType": "SUBSCRIPTION",
            "clientName": f"subscriber-{n}",
            "objectOperations": [
                {
                    "objects": ["EVENT"],
                    "operations": ["CREATE"],
                    "callbackUrl": f"{callbacks[n % len(callbacks)]}/{n}",
                }
            ],
            "clientID": f"subscriber-{n}",
        }
        index = IndexFields(client_id=f"subscriber-{n}", client_name=f"subscriber-{n}")
        rows.append((object_id, index, body))
    await store.insert_many("SUBSCRIPTION", rows)


async def _bl_token(session: aiohttp.ClientSession, base: str) -> str:
    async with session.post(
        f"{base}/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": BL_CLIENT[0],
            "client_secret": BL_CLIENT[1],
        },
    ) as response:
        return str((await response.json())["access_token"])


# A backend flushes its statistics to pg_stat_database within a second of going idle, or, when
# another backend holds the entry's lock, on a retry ten seconds later (PostgreSQL 15+ pgstat).
STATS_SETTLE_S = 11.0


async def committed_transactions(database: str, settle: float = STATS_SETTLE_S) -> int | None:
    """Transactions committed in ``database`` so far (None for SQLite), after ``settle``
    seconds for the statistics of what ran before to arrive: with a count before and after a
    phase, the database work it took, which the machine's load does not change."""
    if not database.startswith(("postgresql://", "postgres://")):
        return None
    import asyncpg

    await asyncio.sleep(settle)
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        count = await conn.fetchval(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    return int(count)


def tree_rss_mib(pid: int) -> float:
    """RSS of a process and its children (the workers), in MiB."""
    total = status_mib(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        try:
            total += tree_rss_mib(int(child))
        except (OSError, RuntimeError):
            continue
    return total
