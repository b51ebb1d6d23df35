"""PostgreSQL workers keep their view version in memory, kept by LISTEN/NOTIFY.

Two stores on one database in this process stand for two workers (each with its own pool and
LISTEN connection, as in vtn_lite.workers). An unchanged poll costs no query; a write answered on
one is in the other's next view; with LISTEN lost a worker reads data_stamp on every poll, and
once it listens again its subscribers hear the changes of the gap (docs/vtn-lite.md "Cached views
and ETags", "Several workers").
"""

from __future__ import annotations

import asyncio
import json
import select
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from hil.postgres import PrivatePostgres
from tests.conftest import wait_for
from vtn_lite.auth import Principal
from vtn_lite.service import SearchParams, Vtn
from vtn_lite.storage import Change, IndexFields
from vtn_lite.storage_postgres import PostgresStore

BL = Principal("bl", "bl")
_WAIT_S = 60.0


@asynccontextmanager
async def two_workers(
    url: str, before_listen: Callable[[PostgresStore], None] = lambda _: None
) -> AsyncIterator[tuple[list[Vtn], list[list[Change]]]]:
    """Two services on ``url``, listening; each records the other's changes it was handed."""
    stores = [PostgresStore(url), PostgresStore(url)]
    heard: list[list[Change]] = [[], []]
    vtns = [Vtn(store) for store in stores]
    try:
        for store in stores:
            await store.open()
        for index, (store, vtn) in enumerate(zip(stores, vtns, strict=True)):

            async def on_change(change: Change, vtn: Vtn = vtn, index: int = index) -> None:
                await vtn.changed_elsewhere(change)
                heard[index].append(change)

            before_listen(store)
            await store.listen(on_change)
        yield vtns, heard
    finally:
        for store in stores:
            await store.close()


def store_of(vtn: Vtn) -> PostgresStore:
    assert isinstance(vtn.store, PostgresStore)
    return vtn.store


async def programs(vtn: Vtn) -> tuple[str, list[str]]:
    """(ETag, program names) of business logic's program list on this worker."""
    view = await vtn.search_view(BL, "PROGRAM", SearchParams())
    return view.etag, [p["programName"] for p in json.loads(view.body)]


async def kill_listener(vtn: Vtn, killer: Vtn) -> None:
    """Terminate ``vtn``'s LISTEN backend from another connection, and wait until it noticed."""
    store = store_of(vtn)
    listener: Any = store._listener
    assert listener is not None
    async with store_of(killer)._acquire() as db:
        assert await db.fetchval("SELECT pg_terminate_backend($1)", listener.get_server_pid())
    await wait_for(lambda: not store.listening, _WAIT_S, "the loss noticed")


async def test_unchanged_polls_make_no_query_and_writes_show_at_once(
    postgres: PrivatePostgres,
) -> None:
    async with two_workers(postgres.new_database("local")) as ([a, b], _):
        assert store_of(b).listening
        etag, names = await programs(b)
        assert names == []
        before = store_of(b).queries
        for _ in range(20):
            assert await programs(b) == (etag, [])
        assert store_of(b).queries == before  # every poll from memory

        await a.create(BL, "PROGRAM", {"programName": "on-a"})
        # Worker A answered: worker B's very next poll has the write, and a new ETag.
        changed, names = await programs(b)
        assert (changed != etag, names) == (True, ["on-a"])
        # ... and its own writes too.
        await b.create(BL, "PROGRAM", {"programName": "on-b"})
        assert (await programs(b))[1] == ["on-a", "on-b"]


async def test_a_write_answers_after_the_other_worker_took_its_notice(
    postgres: PrivatePostgres,
) -> None:
    """A worker slow to take a notice: the writer waits for its confirmation before it answers,
    so the slow worker's next poll still has the write."""

    def slow(store: PostgresStore) -> None:
        received = store._received
        loop = asyncio.get_running_loop()

        def later(*args: Any) -> None:
            loop.call_later(0.3, received, *args)

        store._received = later  # type: ignore[method-assign]

    url = postgres.new_database("confirm")
    async with two_workers(url, before_listen=slow) as ([a, b], _):
        etag, _ = await programs(b)
        await a.create(BL, "PROGRAM", {"programName": "on-a"})
        changed, names = await programs(b)
        assert (changed != etag, names) == (True, ["on-a"])


async def test_lost_listen_reads_data_stamp_then_recovers_and_replays(
    postgres: PrivatePostgres,
) -> None:
    gate = asyncio.Event()

    def gated(store: PostgresStore) -> None:
        connect = store._connect_listener
        first = [True]

        async def when_open() -> None:
            if not first[0]:
                await gate.wait()  # the test decides when LISTEN comes back
            first[0] = False
            await connect()

        store._connect_listener = when_open  # type: ignore[method-assign]

    async with two_workers(postgres.new_database("relisten"), before_listen=gated) as (
        [a, b],
        heard,
    ):
        await a.create(BL, "PROGRAM", {"programName": "before"})
        await wait_for(lambda: len(heard[1]) == 1, _WAIT_S, "the first change handed over")
        etag, _ = await programs(b)

        await kill_listener(b, a)
        # LISTEN down: each poll reads data_stamp, so nothing stale is served.
        reads = store_of(b).stamp_reads
        assert await programs(b) == (etag, ["before"])
        assert store_of(b).stamp_reads == reads + 1
        missed = await a.create(BL, "PROGRAM", {"programName": "during"})
        changed, names = await programs(b)
        assert (changed != etag, names) == (True, ["before", "during"])

        gate.set()
        await wait_for(lambda: store_of(b).listening, _WAIT_S, "LISTEN back")
        # The change made during the gap reaches worker B's subscribers, once; the one it had
        # heard before is not handed again.
        await wait_for(lambda: len(heard[1]) >= 2, _WAIT_S, "the missed change replayed")
        await asyncio.sleep(0.3)  # room for a duplicate to show
        assert [(c.operation, c.stored.id) for c in heard[1]][1:] == [("CREATE", missed["id"])]
        assert heard[1][0].stored.body["programName"] == "before"

        # Polls are from memory again, and still see writes at once.
        current = await programs(b)
        before = store_of(b).queries
        assert await programs(b) == current
        assert store_of(b).queries == before
        await a.create(BL, "PROGRAM", {"programName": "after"})
        assert (await programs(b))[1] == ["before", "during", "after"]


async def test_bulk_writes_of_another_worker_change_views(postgres: PrivatePostgres) -> None:
    """An import (no change row, no subscriber notice) still moves the other worker's views."""
    async with two_workers(postgres.new_database("bulk")) as ([a, b], _):
        etag, _ = await programs(b)
        version = store_of(b)._version
        rows = [("p-bulk", IndexFields(name="bulk"), {"id": "p-bulk", "programName": "bulk"})]
        await a.store.insert_many("PROGRAM", rows)
        # The notice is not waited for by the writer (a bulk write is rare): wait for it here.
        await wait_for(lambda: store_of(b)._version > version, _WAIT_S, "the import's notice")
        reads = store_of(b).stamp_reads
        changed, names = await programs(b)
        assert (changed != etag, names) == (True, ["bulk"])
        assert store_of(b).stamp_reads == reads  # heard, not read


async def test_a_notice_not_yet_read_sends_the_poll_to_data_stamp(
    postgres: PrivatePostgres,
) -> None:
    """A notice that reached the LISTEN socket but not this event loop yet: the poll does not
    trust the version in memory."""
    url = postgres.new_database("unread")
    writer = PostgresStore(url)  # not listening: it waits for no confirmation
    await writer.open()
    try:
        async with two_workers(url) as ([_, b], _):
            etag, _ = await programs(b)
            listener: Any = store_of(b)._listener
            listener._transport.pause_reading()  # as if the loop had not come to it yet
            try:
                await Vtn(writer).create(BL, "PROGRAM", {"programName": "unread"})
                sock = listener._transport.get_extra_info("socket")

                def readable() -> bool:
                    return bool(select.select([sock.fileno()], [], [], 0)[0])

                await wait_for(readable, _WAIT_S, "the notice in the socket")
                reads = store_of(b).stamp_reads
                changed, names = await programs(b)
                assert (changed != etag, names) == (True, ["unread"])
                assert store_of(b).stamp_reads == reads + 1
            finally:
                listener._transport.resume_reading()
    finally:
        await writer.close()
