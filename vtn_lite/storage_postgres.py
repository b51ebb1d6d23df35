"""PostgreSQL storage for vtn_lite (asyncpg): shared by several worker processes.

The same tables as SQLite, with the targets in a ``text[]`` column (GIN-indexed, ``&&`` for "any
of"). Uniqueness the service checks before writing (program and ven names, a resource name per ven,
one ven object per client) is also enforced by partial unique indexes, because two workers can
pass the check at the same moment; the loser gets :class:`~vtn_lite.storage.NameTaken`.

Every object write stores the object as written in ``changes`` and sends ``NOTIFY
vtn_lite_changes`` with that row's id in its transaction, so the notice leaves only on commit;
each worker LISTENs on its own connection, drops what it cached about the object and notifies its
share of the subscribers (docs/vtn-lite.md "Several workers").
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Sequence
from typing import Any

try:
    import asyncpg
except ImportError:  # python3-asyncpg is only recommended (debian/control); SQLite needs none
    asyncpg = None

from vtn_lite.storage import (
    OADR2B_COLUMNS,
    Change,
    ChangeHandler,
    DeliveryBatch,
    DeliveryState,
    IndexFields,
    NameTaken,
    Oadr2bRecord,
    Oadr2bRegistration,
    Query,
    StorageError,
    StoredObject,
    dump_body,
    dump_extra,
    registration_of,
    registration_row,
    subscription_objects,
    unique_rule,
)

log = logging.getLogger(__name__)

CHANNEL = "vtn_lite_changes"
# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE objects (
        seq BIGSERIAL PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        name TEXT,
        program_id TEXT,
        event_id TEXT,
        ven_id TEXT,
        client_id TEXT,
        client_name TEXT,
        targets TEXT[] NOT NULL DEFAULT '{}',
        ends_at DOUBLE PRECISION,
        body TEXT NOT NULL,
        extra TEXT
    );
    CREATE INDEX objects_kind_seq ON objects(kind, seq);
    CREATE INDEX objects_kind_name ON objects(kind, name);
    CREATE INDEX objects_kind_program ON objects(kind, program_id);
    CREATE INDEX objects_kind_client ON objects(kind, client_id);
    CREATE INDEX objects_kind_ven ON objects(kind, ven_id);
    CREATE INDEX objects_targets ON objects USING GIN (targets);
    CREATE UNIQUE INDEX objects_program_name ON objects(name) WHERE kind = 'PROGRAM';
    CREATE UNIQUE INDEX objects_ven_name ON objects(name) WHERE kind = 'VEN';
    CREATE UNIQUE INDEX objects_ven_client ON objects(client_id) WHERE kind = 'VEN';
    CREATE UNIQUE INDEX objects_resource_name ON objects(ven_id, name) WHERE kind = 'RESOURCE';
    CREATE TABLE subscription_delivery (
        subscription_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        delivered INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_attempt DOUBLE PRECISION
    );
    CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        role TEXT NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX tokens_expiry ON tokens(expires_at);
    -- Derived columns whose rule changed, recomputed once by the service layer (SQLite's
    -- migration 2); a new database has nothing to recompute.
    CREATE TABLE pending_refresh (name TEXT PRIMARY KEY);
    """,
    # Each write's object as written, for the other workers' notifiers (NOTIFY carries only
    # the row's id: its payload is limited to 8000 bytes, an object is not).
    """
    CREATE TABLE changes (
        id BIGSERIAL PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        origin TEXT NOT NULL,
        operation TEXT NOT NULL,
        seq BIGINT NOT NULL,
        object_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        extra TEXT,
        client_id TEXT,
        ven_id TEXT,
        program_id TEXT,
        targets TEXT[] NOT NULL
    );
    CREATE INDEX changes_at ON changes(at);
    """,
    # The operator console's last check-in per client, written in batches (docs/console.md).
    """
    CREATE TABLE ven_checkins (client_id TEXT PRIMARY KEY, last_seen DOUBLE PRECISION NOT NULL);
    """,
    # A counter bumped in the transaction of every object write (data_version): a worker's
    # cached views notice another worker's write as soon as it commits, which the
    # asynchronous NOTIFY cannot promise, and a read never sees the new count before the data.
    """
    CREATE TABLE data_stamp (n BIGINT NOT NULL);
    INSERT INTO data_stamp VALUES (0);
    """,
    # The OpenADR 2.0b face (docs/vtn-lite-2.0b.md), as SQLite's migration 5.
    """
    CREATE TABLE IF NOT EXISTS oadr2b_registrations (
        ven_name TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        requested_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        ven_id TEXT UNIQUE,
        registration_id TEXT,
        fingerprint TEXT,
        info TEXT NOT NULL,
        delivered TEXT
    );
    CREATE TABLE IF NOT EXISTS oadr2b_records (
        seq BIGSERIAL PRIMARY KEY,
        ven_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS oadr2b_records_kind ON oadr2b_records(kind, ven_id, seq);
    CREATE INDEX IF NOT EXISTS oadr2b_records_at ON oadr2b_records(at);
    CREATE TABLE IF NOT EXISTS oadr2b_event_versions (
        event_id TEXT PRIMARY KEY,
        stamp TEXT NOT NULL,
        number INTEGER NOT NULL,
        cancelled TEXT,
        keep_until DOUBLE PRECISION
    );
    """,
)
_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS vtn_lite_schema (version INTEGER NOT NULL)"
# Serialises migrations when several workers start at once (pg_advisory_xact_lock key).
_MIGRATION_LOCK = 0x76746E6C
_SELECT = "seq, id, kind, body, extra, client_id, ven_id, program_id, targets"
_CHANGE_SELECT = (
    "seq, object_id, kind, body, extra, client_id, ven_id, program_id, targets, operation"
)
# Changes are read by the other workers within milliseconds; older rows are pruned now and then.
_CHANGES_KEPT_S = 600.0
_PRUNE_EVERY = 256
_COLUMNS = ("program_id", "event_id", "ven_id", "client_id", "client_name", "name")
_BUMP_STAMP = "UPDATE data_stamp SET n = n + 1"
_POOL_SIZE = 8
_RELISTEN_MAX_S = 10.0


class PostgresStore:
    """asyncpg pool; :meth:`open` connects and migrates, :meth:`listen` follows other workers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        # Tells this process's own notices from other workers' (each has its own pid).
        self._origin = f"{os.getpid()}:{id(self)}"
        self._incoming: asyncio.Queue[int] = asyncio.Queue()
        self._follower: asyncio.Task[None] | None = None
        self._relistening: asyncio.Task[None] | None = None
        self._announced = 0
        self._stamp_read: asyncio.Task[int] | None = None
        self._stamp_next: asyncio.Task[int] | None = None
        self.stamp_reads = 0  # queries data_version made (polls can share one)
        self._deliveries = DeliveryBatch(self._write_delivered)

    async def open(self) -> None:
        if asyncpg is None:
            raise StorageError(
                "PostgreSQL storage needs asyncpg: apt install python3-asyncpg"
                " (or pip install 'ven-edge[postgres]')"
            )
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=_POOL_SIZE, command_timeout=60
            )
        except (OSError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StorageError(
                f"cannot connect to PostgreSQL at {redact(self.url)}: {exc}"
            ) from None
        async with self._acquire() as db, db.transaction():
            await db.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await db.execute(_VERSION_TABLE)
            current = await db.fetchval("SELECT version FROM vtn_lite_schema")
            if current is None:
                await db.execute("INSERT INTO vtn_lite_schema VALUES (0)")
                current = 0
            if current > len(MIGRATIONS):
                raise StorageError(
                    f"database {redact(self.url)} has schema version {current}, newer than this"
                    f" vtn_lite ({len(MIGRATIONS)})"
                )
            for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
                log.info("migrating %s to schema version %d", redact(self.url), version)
                await db.execute(script)
                await db.execute("UPDATE vtn_lite_schema SET version = $1", version)

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            await asyncio.gather(self._follower, return_exceptions=True)
            self._follower = None
        if self._pool is not None:
            await self._deliveries.close()
        if self._relistening is not None:
            self._relistening.cancel()
            await asyncio.gather(self._relistening, return_exceptions=True)
        if self._listener is not None:
            listener, self._listener = self._listener, None
            await listener.close()
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def schema_version(self) -> int:
        async with self._acquire() as db:
            return int(await db.fetchval("SELECT version FROM vtn_lite_schema"))

    # --- objects -------------------------------------------------------------------------

    async def insert(
        self,
        kind: str,
        object_id: str,
        index: IndexFields,
        body: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> StoredObject:
        async with self._acquire() as db, db.transaction():
            try:
                row = await db.fetchrow(
                    "INSERT INTO objects (id, kind, name, program_id, event_id, ven_id, client_id,"
                    " client_name, targets, ends_at, body, extra)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                    f" RETURNING {_SELECT}",
                    _text(object_id),
                    kind,
                    *_columns(index),
                    dump_body(body),
                    dump_extra(extra),
                )
            except asyncpg.UniqueViolationError as exc:
                raise NameTaken(_unique_rule(exc)) from None
            stored = _row(row)
            await self._announce(db, "CREATE", stored)
        return stored

    async def replace(
        self,
        stored: StoredObject,
        index: IndexFields,
        body: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> StoredObject:
        async with self._acquire() as db, db.transaction():
            try:
                row = await db.fetchrow(
                    "UPDATE objects SET name=$1, program_id=$2, event_id=$3, ven_id=$4,"
                    " client_id=$5, client_name=$6, targets=$7, ends_at=$8, body=$9, extra=$10"
                    f" WHERE seq=$11 RETURNING {_SELECT}",
                    *_columns(index),
                    dump_body(body),
                    dump_extra(extra),
                    stored.seq,
                )
            except asyncpg.UniqueViolationError as exc:
                raise NameTaken(_unique_rule(exc)) from None
            if row is None:
                # Deleted by another worker between the read and this write: as SQLite would
                # after a delete, the object is gone; the caller's next read answers 404.
                return stored
            updated = _row(row)
            await self._announce(db, "UPDATE", updated)
        return updated

    async def insert_many(
        self, kind: str, rows: Sequence[tuple[str, IndexFields, dict[str, Any]]]
    ) -> None:
        records = [
            (_text(object_id), kind, *_columns(index), dump_body(body))
            for object_id, index, body in rows
        ]
        columns = (
            "id", "kind", "name", "program_id", "event_id", "ven_id", "client_id", "client_name",
            "targets", "ends_at", "body",
        )  # fmt: skip
        async with self._acquire() as db, db.transaction():
            try:
                await db.copy_records_to_table("objects", records=records, columns=columns)
            except asyncpg.UniqueViolationError as exc:
                raise NameTaken(_unique_rule(exc)) from None
            await db.execute(_BUMP_STAMP)

    async def delete(self, stored: StoredObject) -> None:
        if stored.kind == "SUBSCRIPTION":
            await self._deliveries.flush()  # not to recreate the state after it is removed
        async with self._acquire() as db, db.transaction():
            await db.execute("DELETE FROM objects WHERE seq=$1", stored.seq)
            if stored.kind == "SUBSCRIPTION":
                await db.execute(
                    "DELETE FROM subscription_delivery WHERE subscription_id=$1", stored.id
                )
            await self._announce(db, "DELETE", stored)

    async def get(self, kind: str, object_id: str) -> StoredObject | None:
        async with self._acquire() as db:
            row = await db.fetchrow(
                f"SELECT {_SELECT} FROM objects WHERE id=$1 AND kind=$2", _text(object_id), kind
            )
        return _row(row) if row else None

    async def name_taken(
        self, kind: str, name: str, *, ven_id: str | None = None, except_id: str | None = None
    ) -> bool:
        sql = "SELECT 1 FROM objects WHERE kind=$1 AND name=$2 AND id IS DISTINCT FROM $3"
        params: list[Any] = [kind, _text(name), _opt(except_id)]
        if ven_id is not None:
            sql += " AND ven_id=$4"
            params.append(_text(ven_id))
        async with self._acquire() as db:
            return await db.fetchval(sql + " LIMIT 1", *params) is not None

    async def search(self, query: Query) -> list[StoredObject]:
        params: list[Any] = [query.kind]
        where = ["kind=$1"]

        def param(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        for column in _COLUMNS:
            value = getattr(query, column)
            if value is not None:
                where.append(f"{column}={param(_text(value))}")
        if query.any_targets is not None:
            where.append(f"targets && {param(_texts(query.any_targets))}::text[]")
        if query.visible_targets is not None:
            marks = param(_texts(query.visible_targets))
            where.append(f"(cardinality(targets) = 0 OR targets && {marks}::text[])")
        if query.with_program:
            where.append("program_id IS NOT NULL")
        if query.active_at is not None:
            where.append(f"(ends_at IS NULL OR ends_at > {param(query.active_at)})")
        sql = f"SELECT {_SELECT} FROM objects WHERE {' AND '.join(where)} ORDER BY seq"
        if query.object_kinds is None:
            sql += f" LIMIT {param(query.limit)} OFFSET {param(query.skip)}"
        async with self._acquire() as db:
            rows = await db.fetch(sql, *params)
        found = [_row(row) for row in rows]
        if query.object_kinds is None:
            return found
        wanted = set(query.object_kinds)
        found = [obj for obj in found if wanted & subscription_objects(obj.body)]
        return found[query.skip : query.skip + query.limit]

    async def data_version(self) -> int:
        """The write counter, read once per poll. Polls that ask while a read is in flight share
        the next read, which begins after each of them asked: none misses a commit it could know
        of, and a burst of polls costs two queries, not one each."""
        loop = asyncio.get_running_loop()
        if self._stamp_read is None or self._stamp_read.done():
            self._stamp_read = loop.create_task(self._read_stamp())
            return await asyncio.shield(self._stamp_read)
        if self._stamp_next is None:
            self._stamp_next = loop.create_task(self._read_stamp_after(self._stamp_read))
        return await asyncio.shield(self._stamp_next)

    async def _read_stamp_after(self, running: asyncio.Task[int]) -> int:
        await asyncio.gather(running, return_exceptions=True)
        self._stamp_read, self._stamp_next = self._stamp_next, None
        return await self._read_stamp()

    async def _read_stamp(self) -> int:
        self.stamp_reads += 1
        async with self._acquire() as db:
            return int(await db.fetchval("SELECT n FROM data_stamp"))

    async def next_end(self, seqs: Sequence[int], after: float) -> float | None:
        if not seqs:
            return None
        async with self._acquire() as db:
            end = await db.fetchval(
                "SELECT min(ends_at) FROM objects WHERE seq = ANY($1::bigint[]) AND ends_at > $2",
                list(seqs),
                after,
            )
        return None if end is None else float(end)

    async def pending_refresh(self) -> set[str]:
        async with self._acquire() as db:
            return {row[0] for row in await db.fetch("SELECT name FROM pending_refresh")}

    async def set_ends_at(
        self, updates: Sequence[tuple[float | None, int]], refreshed: str
    ) -> None:
        async with self._acquire() as db, db.transaction():
            await db.executemany("UPDATE objects SET ends_at=$1 WHERE seq=$2", updates)
            await db.execute("DELETE FROM pending_refresh WHERE name=$1", refreshed)
            await db.execute(_BUMP_STAMP)

    async def all_of_kind(self, kind: str) -> list[StoredObject]:
        async with self._acquire() as db:
            rows = await db.fetch(f"SELECT {_SELECT} FROM objects WHERE kind=$1 ORDER BY seq", kind)
        return [_row(row) for row in rows]

    async def children(self, kind: str, column: str, parent_id: str) -> list[StoredObject]:
        assert column in ("program_id", "ven_id", "event_id")
        async with self._acquire() as db:
            rows = await db.fetch(
                f"SELECT {_SELECT} FROM objects WHERE kind=$1 AND {column}=$2 ORDER BY seq",
                kind,
                _text(parent_id),
            )
        return [_row(row) for row in rows]

    # --- webhook delivery state -----------------------------------------------------------

    async def delivery_state(self, subscription_id: str) -> DeliveryState | None:
        await self._deliveries.flush()
        async with self._acquire() as db:
            row = await db.fetchrow(
                "SELECT subscription_id, state, consecutive_failures, delivered, last_error,"
                " last_attempt FROM subscription_delivery WHERE subscription_id=$1",
                subscription_id,
            )
        return DeliveryState(*row) if row else None

    async def record_delivery(self, subscription_id: str, *, ok: bool, error: str | None) -> None:
        if ok:
            self._deliveries.add(subscription_id)
            return

        async def failed() -> None:
            async with self._acquire() as db:
                await db.execute(
                    "INSERT INTO subscription_delivery (subscription_id, state,"
                    " consecutive_failures, delivered, last_error, last_attempt)"
                    " VALUES ($1, 'FAILING', 1, 0, $2, $3) ON CONFLICT (subscription_id) DO UPDATE"
                    " SET state='FAILING',"
                    " consecutive_failures=subscription_delivery.consecutive_failures+1,"
                    " last_error=excluded.last_error, last_attempt=excluded.last_attempt",
                    subscription_id,
                    _opt(error),
                    time.time(),
                )

        await self._deliveries.flush(then=failed)

    async def _write_delivered(self, counts: dict[str, int]) -> None:
        async with self._acquire() as db:
            await db.execute(
                "INSERT INTO subscription_delivery (subscription_id, state, consecutive_failures,"
                " delivered, last_error, last_attempt)"
                " SELECT s, 'OK', 0, d, NULL, $3 FROM unnest($1::text[], $2::int[]) AS t(s, d)"
                " ON CONFLICT (subscription_id) DO UPDATE SET state='OK', consecutive_failures=0,"
                " delivered=subscription_delivery.delivered+excluded.delivered,"
                " last_attempt=excluded.last_attempt",
                list(counts),
                list(counts.values()),
                time.time(),
            )

    async def mark_delivery_failed(self, subscription_id: str, error: str) -> None:
        async def failed() -> None:
            async with self._acquire() as db:
                await db.execute(
                    "UPDATE subscription_delivery SET state='FAILED', last_error=$1"
                    " WHERE subscription_id=$2",
                    _text(error),
                    subscription_id,
                )

        await self._deliveries.flush(then=failed)

    # --- console check-ins ---------------------------------------------------------------

    async def save_checkins(self, rows: Sequence[tuple[str, float]]) -> None:
        # One statement may not update a row twice (ON CONFLICT): the last check-in counts.
        latest = dict(rows)
        async with self._acquire() as db:
            await db.execute(
                "INSERT INTO ven_checkins (client_id, last_seen)"
                " SELECT * FROM unnest($1::text[], $2::float8[])"
                " ON CONFLICT (client_id) DO UPDATE SET last_seen=excluded.last_seen",
                [_text(client_id) for client_id in latest],
                list(latest.values()),
            )

    async def load_checkins(self) -> dict[str, float]:
        async with self._acquire() as db:
            rows = await db.fetch("SELECT client_id, last_seen FROM ven_checkins")
        return {_untext(client_id): float(at) for client_id, at in rows}

    # --- tokens ---------------------------------------------------------------------------

    async def save_token(
        self, token_hash: str, client_id: str, role: str, expires_at: float
    ) -> None:
        async with self._acquire() as db:
            await db.execute(
                "INSERT INTO tokens VALUES ($1, $2, $3, $4) ON CONFLICT (token_hash) DO UPDATE"
                " SET client_id=excluded.client_id, role=excluded.role,"
                " expires_at=excluded.expires_at",
                token_hash,
                client_id,
                role,
                expires_at,
            )

    async def purge_tokens(self, now: float) -> None:
        async with self._acquire() as db:
            await db.execute("DELETE FROM tokens WHERE expires_at <= $1", now)

    async def load_tokens(self, now: float) -> list[tuple[str, str, str, float]]:
        await self.purge_tokens(now)
        async with self._acquire() as db:
            rows = await db.fetch("SELECT token_hash, client_id, role, expires_at FROM tokens")
        return [(str(a), str(b), str(c), float(d)) for a, b, c, d in rows]

    async def find_token(self, token_hash: str) -> tuple[str, str, float] | None:
        async with self._acquire() as db:
            row = await db.fetchrow(
                "SELECT client_id, role, expires_at FROM tokens WHERE token_hash=$1", token_hash
            )
        return (str(row[0]), str(row[1]), float(row[2])) if row else None

    # --- OpenADR 2.0b face ------------------------------------------------------------------

    async def oadr2b_registration(self, ven_name: str) -> Oadr2bRegistration | None:
        return await self._registration("ven_name", ven_name)

    async def oadr2b_registration_of(self, ven_id: str) -> Oadr2bRegistration | None:
        return await self._registration("ven_id", ven_id)

    async def _registration(self, column: str, value: str) -> Oadr2bRegistration | None:
        async with self._acquire() as db:
            row = await db.fetchrow(
                f"SELECT {OADR2B_COLUMNS} FROM oadr2b_registrations WHERE {column}=$1",
                _text(value),
            )
        return registration_of(tuple(row)) if row else None

    async def oadr2b_registrations(self) -> list[Oadr2bRegistration]:
        async with self._acquire() as db:
            rows = await db.fetch(
                f"SELECT {OADR2B_COLUMNS} FROM oadr2b_registrations ORDER BY ven_name"
            )
        return [registration_of(tuple(row)) for row in rows]

    async def save_oadr2b_registration(self, registration: Oadr2bRegistration) -> None:
        values = list(registration_row(registration))
        values[0] = _text(values[0])
        async with self._acquire() as db:
            await db.execute(
                f"INSERT INTO oadr2b_registrations ({OADR2B_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (ven_name) DO UPDATE"
                " SET state=excluded.state, requested_at=excluded.requested_at,"
                " updated_at=excluded.updated_at, ven_id=excluded.ven_id,"
                " registration_id=excluded.registration_id, fingerprint=excluded.fingerprint,"
                " info=excluded.info, delivered=excluded.delivered",
                *values,
            )

    async def set_oadr2b_delivered(self, ven_name: str, digest: str) -> None:
        async with self._acquire() as db:
            await db.execute(
                "UPDATE oadr2b_registrations SET delivered=$1 WHERE ven_name=$2",
                digest,
                _text(ven_name),
            )

    async def add_oadr2b_record(
        self, ven_id: str, kind: str, at: float, body: dict[str, Any]
    ) -> None:
        async with self._acquire() as db:
            await db.execute(
                "INSERT INTO oadr2b_records (ven_id, kind, at, body) VALUES ($1, $2, $3, $4)",
                _text(ven_id),
                kind,
                at,
                dump_body(body),
            )

    async def oadr2b_records(
        self, kind: str, *, ven_id: str | None = None, limit: int = 50
    ) -> list[Oadr2bRecord]:
        sql = "SELECT seq, ven_id, kind, at, body FROM oadr2b_records WHERE kind=$1"
        params: list[Any] = [kind]
        if ven_id is not None:
            sql += " AND ven_id=$2"
            params.append(_text(ven_id))
        sql += f" ORDER BY seq DESC LIMIT ${len(params) + 1}"
        async with self._acquire() as db:
            rows = await db.fetch(sql, *params, limit)
        return [
            Oadr2bRecord(int(seq), _untext(ven), k, float(at), json.loads(body))
            for seq, ven, k, at, body in rows
        ]

    async def prune_oadr2b_records(self, before: float) -> int:
        async with self._acquire() as db:
            status = await db.execute("DELETE FROM oadr2b_records WHERE at < $1", before)
        return int(str(status).rsplit(" ", 1)[-1])

    async def oadr2b_modification(self, event_id: str, stamp: str) -> int:
        async with self._acquire() as db:
            await db.execute(
                "INSERT INTO oadr2b_event_versions (event_id, stamp, number) VALUES ($1, $2, 0)"
                " ON CONFLICT (event_id) DO UPDATE SET stamp=excluded.stamp,"
                " number=oadr2b_event_versions.number+1"
                " WHERE oadr2b_event_versions.stamp<>excluded.stamp",
                _text(event_id),
                stamp,
            )
            number = await db.fetchval(
                "SELECT number FROM oadr2b_event_versions WHERE event_id=$1", _text(event_id)
            )
        return int(number)

    async def oadr2b_cancel(self, event_id: str, body_text: str, keep_until: float) -> int:
        async with self._acquire() as db:
            number = await db.fetchval(
                "INSERT INTO oadr2b_event_versions (event_id, stamp, number, cancelled,"
                " keep_until) VALUES ($1, 'cancelled', 0, $2, $3) ON CONFLICT (event_id)"
                " DO UPDATE SET stamp='cancelled', number=oadr2b_event_versions.number+1,"
                " cancelled=excluded.cancelled, keep_until=excluded.keep_until RETURNING number",
                _text(event_id),
                body_text,
                keep_until,
            )
        return int(number)

    async def oadr2b_cancelled(self, now: float) -> list[tuple[str, int, str]]:
        async with self._acquire() as db:
            await db.execute(
                "DELETE FROM oadr2b_event_versions WHERE cancelled IS NOT NULL AND keep_until<=$1",
                now,
            )
            rows = await db.fetch(
                "SELECT event_id, number, cancelled FROM oadr2b_event_versions"
                " WHERE cancelled IS NOT NULL ORDER BY event_id"
            )
        return [(_untext(a), int(b), str(c)) for a, b, c in rows]

    # --- other workers --------------------------------------------------------------------

    async def listen(self, handler: ChangeHandler) -> None:
        self._follower = asyncio.get_running_loop().create_task(self._follow(handler))
        await self._connect_listener()

    async def _connect_listener(self) -> None:
        # A dedicated connection: a pooled one would stop listening when returned to the pool.
        listener = await asyncpg.connect(self.url)
        listener.add_termination_listener(self._listener_lost)
        await listener.add_listener(CHANNEL, self._received)
        self._listener = listener

    def _received(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        origin, _, change_id = payload.rpartition(" ")
        if origin == self._origin:
            return  # this process already acted on its own write
        if not change_id.isdigit():
            log.warning("ignoring a malformed %s notice", CHANNEL)
            return
        self._incoming.put_nowait(int(change_id))

    def _listener_lost(self, _conn: object) -> None:
        if self._listener is None:
            return  # closed on purpose
        log.error(
            "lost the LISTEN connection to %s: other workers' changes are missed until it is back",
            redact(self.url),
        )
        self._listener = None
        task = asyncio.get_running_loop().create_task(self._relisten())
        self._relistening = task

    async def _relisten(self) -> None:
        delay = 0.5
        while self._pool is not None:
            try:
                await self._connect_listener()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("cannot LISTEN again yet: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RELISTEN_MAX_S)
                continue
            log.info("listening to other workers' changes again")
            return

    async def _follow(self, handler: ChangeHandler) -> None:
        """Hand other workers' changes to ``handler`` one at a time, in commit order."""
        while True:
            change_id = await self._incoming.get()
            try:
                async with self._acquire() as db:
                    row = await db.fetchrow(
                        f"SELECT {_CHANGE_SELECT} FROM changes WHERE id=$1", change_id
                    )
                if row is None:
                    log.warning("change %d was pruned before this worker read it", change_id)
                    continue
                await handler(Change(row["operation"], _row(tuple(row)[:9])))
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("cannot follow change %d: %s", change_id, exc)
            except Exception:  # one bad change must not stop following the others
                log.exception("handling change %d failed", change_id)

    async def _announce(self, db: asyncpg.Connection, operation: str, stored: StoredObject) -> None:
        now = time.time()
        change_id = await db.fetchval(
            "INSERT INTO changes (at, origin, operation, seq, object_id, kind, body, extra,"
            " client_id, ven_id, program_id, targets)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            now,
            self._origin,
            operation,
            stored.seq,
            _text(stored.id),
            stored.kind,
            stored.body_text,
            dump_extra(stored.extra),
            _opt(stored.client_id),
            _opt(stored.ven_id),
            _opt(stored.program_id),
            _texts(stored.targets),
        )
        await db.execute(_BUMP_STAMP)
        # Delivered on commit only, in commit order (PostgreSQL NOTIFY).
        await db.execute("SELECT pg_notify($1, $2)", CHANNEL, f"{self._origin} {change_id}")
        self._announced += 1
        if self._announced % _PRUNE_EVERY == 0:
            await db.execute("DELETE FROM changes WHERE at < $1", now - _CHANGES_KEPT_S)

    def _acquire(self) -> Any:
        if self._pool is None:
            raise RuntimeError("PostgreSQL storage used before open()")
        return self._pool.acquire()


def _text(value: str) -> str:
    """PostgreSQL text cannot hold NUL (SQLite's can): escape it, and the escape character, so
    equality still means equality; :func:`_untext` reverses it for the columns read back."""
    if "\x00" not in value and "\\" not in value:
        return value
    return value.replace("\\", "\\\\").replace("\x00", "\\0")


def _untext(value: str) -> str:
    if "\\" not in value:
        return value
    return re.sub(r"\\(.)", lambda m: "\x00" if m.group(1) == "0" else m.group(1), value)


def _opt(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _texts(values: Sequence[str]) -> list[str]:
    return [_text(value) for value in values]


def _columns(index: IndexFields) -> Sequence[Any]:
    return (
        _opt(index.name),
        _opt(index.program_id),
        _opt(index.event_id),
        _opt(index.ven_id),
        _opt(index.client_id),
        _opt(index.client_name),
        # As SQLite's object_targets returns them: each once, in order.
        _texts(sorted(set(index.targets))),
        index.ends_at,
    )


def _row(row: Any) -> StoredObject:
    seq, object_id, kind, body, extra, client_id, ven_id, program_id, targets = row
    return StoredObject(
        seq=int(seq),
        id=_untext(object_id),
        kind=kind,
        body_text=body,
        extra=json.loads(extra) if extra else None,
        client_id=None if client_id is None else _untext(client_id),
        ven_id=None if ven_id is None else _untext(ven_id),
        program_id=None if program_id is None else _untext(program_id),
        targets=tuple(_untext(target) for target in targets),
    )


_INDEXES = {
    "objects_program_name": ("PROGRAM", "name"),
    "objects_ven_name": ("VEN", "name"),
    "objects_ven_client": ("VEN", "client_id"),
    "objects_resource_name": ("RESOURCE", "name"),
}


def _unique_rule(exc: asyncpg.UniqueViolationError) -> str:
    return unique_rule(*_INDEXES.get(getattr(exc, "constraint_name", "") or "", ("", "id")))


def redact(url: str) -> str:
    """``url`` without its password, for logs and errors."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"
