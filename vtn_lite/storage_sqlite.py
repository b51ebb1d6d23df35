"""SQLite storage for vtn_lite: one file in WAL mode (or ``:memory:``), versioned migrations.

The embedded default backend of :class:`vtn_lite.storage.Storage`. Every statement is short and
local, so the event loop runs it directly; the methods are coroutines only to share the interface
with PostgreSQL. One process owns the file, so there are no other workers to hear from.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vtn_lite.storage import (
    OADR2B_COLUMNS,
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

# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE objects (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        name TEXT,
        program_id TEXT,
        event_id TEXT,
        ven_id TEXT,
        client_id TEXT,
        client_name TEXT,
        targeted INTEGER NOT NULL DEFAULT 0,
        ends_at REAL,
        body TEXT NOT NULL,
        extra TEXT
    );
    CREATE INDEX objects_kind_seq ON objects(kind, seq);
    CREATE INDEX objects_kind_name ON objects(kind, name);
    CREATE INDEX objects_kind_program ON objects(kind, program_id);
    CREATE INDEX objects_kind_client ON objects(kind, client_id);
    CREATE INDEX objects_kind_ven ON objects(kind, ven_id);
    CREATE TABLE object_targets (
        target TEXT NOT NULL,
        seq INTEGER NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
        PRIMARY KEY (target, seq)
    ) WITHOUT ROWID;
    CREATE INDEX object_targets_seq ON object_targets(seq);
    CREATE TABLE subscription_delivery (
        subscription_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        delivered INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_attempt REAL
    );
    CREATE TABLE tokens (
        token_hash TEXT PRIMARY KEY,
        client_id TEXT NOT NULL,
        role TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    """,
    # Derived columns whose rule changed: recomputed once by the service layer, which knows the
    # rule (Vtn.refresh_derived). event_ends: `active` now counts randomizeStart and instants.
    """
    CREATE TABLE pending_refresh (name TEXT PRIMARY KEY);
    INSERT INTO pending_refresh (name) VALUES ('event_ends');
    """,
    # The operator console's last check-in per client, written in batches (docs/console.md).
    """
    CREATE TABLE IF NOT EXISTS ven_checkins (client_id TEXT PRIMARY KEY, last_seen REAL NOT NULL);
    """,
    # The uniqueness the service checks, enforced too: another process (an offline price
    # import) may write the same file (storage.UNIQUE_RULES). Every statement is idempotent
    # (IF NOT EXISTS, the check-ins table included) so a database at any earlier version ends
    # with the same schema.
    """
    CREATE UNIQUE INDEX IF NOT EXISTS objects_program_name ON objects(name)
        WHERE kind = 'PROGRAM';
    CREATE UNIQUE INDEX IF NOT EXISTS objects_ven_name ON objects(name) WHERE kind = 'VEN';
    CREATE UNIQUE INDEX IF NOT EXISTS objects_ven_client ON objects(client_id) WHERE kind = 'VEN';
    CREATE UNIQUE INDEX IF NOT EXISTS objects_resource_name ON objects(ven_id, name)
        WHERE kind = 'RESOURCE';
    CREATE TABLE IF NOT EXISTS ven_checkins (client_id TEXT PRIMARY KEY, last_seen REAL NOT NULL);
    """,
    # The OpenADR 2.0b face (docs/vtn-lite-2.0b.md): party registrations, what 2.0b VENs sent
    # (opts, reports), and the modificationNumber of each event version and cancellation.
    # Idempotent like version 4, so an older database set back to version 1 upgrades too.
    """
    CREATE TABLE IF NOT EXISTS oadr2b_registrations (
        ven_name TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        requested_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        ven_id TEXT UNIQUE,
        registration_id TEXT,
        fingerprint TEXT,
        info TEXT NOT NULL,
        delivered TEXT
    );
    CREATE TABLE IF NOT EXISTS oadr2b_records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        ven_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        at REAL NOT NULL,
        body TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS oadr2b_records_kind ON oadr2b_records(kind, ven_id, seq);
    CREATE INDEX IF NOT EXISTS oadr2b_records_at ON oadr2b_records(at);
    CREATE TABLE IF NOT EXISTS oadr2b_event_versions (
        event_id TEXT PRIMARY KEY,
        stamp TEXT NOT NULL,
        number INTEGER NOT NULL,
        cancelled TEXT,
        keep_until REAL
    );
    """,
)


class SqliteStore:
    """SQLite access; every call is short, so the event loop runs it directly."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            Path(self.path).touch(mode=0o600, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._migrate()
        self._deliveries = DeliveryBatch(self._write_delivered)

    @property
    def url(self) -> str:
        return self.path

    async def open(self) -> None:
        """Nothing to do: the file is opened and migrated on construction."""

    async def close(self) -> None:
        await self._deliveries.close()
        self._db.close()

    async def schema_version(self) -> int:
        return self._user_version()

    def _user_version(self) -> int:
        row = self._db.execute("PRAGMA user_version").fetchone()
        return int(row[0])

    def _migrate(self) -> None:
        current = self._user_version()
        if current > len(MIGRATIONS):
            raise StorageError(
                f"database {self.path} has schema version {current}, newer than this vtn_lite "
                f"({len(MIGRATIONS)})"
            )
        for version, script in enumerate(MIGRATIONS[current:], start=current + 1):
            log.info("migrating %s to schema version %d", self.path, version)
            self._db.executescript(f"BEGIN; {script}; PRAGMA user_version = {version}; COMMIT;")

    # --- objects -------------------------------------------------------------------------

    async def insert(
        self,
        kind: str,
        object_id: str,
        index: IndexFields,
        body: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> StoredObject:
        with self._unique(kind), self._transaction():
            cursor = self._db.execute(
                "INSERT INTO objects (id, kind, name, program_id, event_id, ven_id, client_id,"
                " client_name, targeted, ends_at, body, extra)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    object_id,
                    kind,
                    *self._columns(index),
                    dump_body(body),
                    dump_extra(extra),
                ),
            )
            seq = int(cursor.lastrowid or 0)
            self._set_targets(seq, index.targets)
        stored = await self.get(kind, object_id)
        assert stored is not None
        return stored

    async def replace(
        self,
        stored: StoredObject,
        index: IndexFields,
        body: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> StoredObject:
        with self._unique(stored.kind), self._transaction():
            self._db.execute(
                "UPDATE objects SET name=?, program_id=?, event_id=?, ven_id=?, client_id=?,"
                " client_name=?, targeted=?, ends_at=?, body=?, extra=? WHERE seq=?",
                (
                    *self._columns(index),
                    dump_body(body),
                    dump_extra(extra),
                    stored.seq,
                ),
            )
            self._db.execute("DELETE FROM object_targets WHERE seq=?", (stored.seq,))
            self._set_targets(stored.seq, index.targets)
        updated = await self.get(stored.kind, stored.id)
        assert updated is not None
        return updated

    async def insert_many(
        self, kind: str, rows: Sequence[tuple[str, IndexFields, dict[str, Any]]]
    ) -> None:
        with self._unique(kind), self._transaction():
            for object_id, index, body in rows:
                cursor = self._db.execute(
                    "INSERT INTO objects (id, kind, name, program_id, event_id, ven_id, client_id,"
                    " client_name, targeted, ends_at, body, extra)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                    (object_id, kind, *self._columns(index), dump_body(body)),
                )
                self._set_targets(int(cursor.lastrowid or 0), index.targets)

    async def delete(self, stored: StoredObject) -> None:
        if stored.kind == "SUBSCRIPTION":
            await self._deliveries.flush()  # not to recreate the state after it is removed
        with self._transaction():
            self._db.execute("DELETE FROM objects WHERE seq=?", (stored.seq,))
            if stored.kind == "SUBSCRIPTION":
                self._db.execute(
                    "DELETE FROM subscription_delivery WHERE subscription_id=?", (stored.id,)
                )

    async def get(self, kind: str, object_id: str) -> StoredObject | None:
        row = self._db.execute(
            f"SELECT {_SELECT} FROM objects WHERE id=? AND kind=?", (object_id, kind)
        ).fetchone()
        return self._row(row) if row else None

    async def name_taken(
        self, kind: str, name: str, *, ven_id: str | None = None, except_id: str | None = None
    ) -> bool:
        sql = "SELECT 1 FROM objects WHERE kind=? AND name=? AND id IS NOT ?"
        params: list[Any] = [kind, name, except_id]
        if ven_id is not None:
            sql += " AND ven_id=?"
            params.append(ven_id)
        return self._db.execute(sql + " LIMIT 1", params).fetchone() is not None

    async def search(self, query: Query) -> list[StoredObject]:
        where = ["kind=?"]
        params: list[Any] = [query.kind]
        for column in ("program_id", "event_id", "ven_id", "client_id", "client_name", "name"):
            value = getattr(query, column)
            if value is not None:
                where.append(f"{column}=?")
                params.append(value)
        if query.any_targets is not None:
            marks = ",".join("?" * len(query.any_targets))
            where.append(f"seq IN (SELECT seq FROM object_targets WHERE target IN ({marks}))")
            params.extend(query.any_targets)
        if query.visible_targets is not None:
            marks = ",".join("?" * len(query.visible_targets))
            where.append(
                f"(targeted=0 OR seq IN (SELECT seq FROM object_targets WHERE target IN ({marks})))"
            )
            params.extend(query.visible_targets)
        if query.with_program:
            where.append("program_id IS NOT NULL")
        if query.active_at is not None:
            where.append("(ends_at IS NULL OR ends_at > ?)")
            params.append(query.active_at)
        sql = f"SELECT {_SELECT} FROM objects WHERE {' AND '.join(where)} ORDER BY seq"
        if query.object_kinds is None:
            # Every filter is in SQL, so the page is too (a 100,000-VEN table is not read whole).
            sql += " LIMIT ? OFFSET ?"
            params.extend((query.limit, query.skip))
        rows: Iterable[Any] = self._db.execute(sql, params)
        found = [self._row(row) for row in rows]
        if query.object_kinds is None:
            return found
        wanted = set(query.object_kinds)
        found = [obj for obj in found if wanted & subscription_objects(obj.body)]
        return found[query.skip : query.skip + query.limit]

    async def data_version(self) -> int:
        """A number that changes when another connection commits to the database (SQLite
        ``PRAGMA data_version``): cached views notice writes by other processes."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    async def next_end(self, seqs: Sequence[int], after: float) -> float | None:
        if not seqs:
            return None
        marks = ",".join("?" * len(seqs))
        row = self._db.execute(
            f"SELECT min(ends_at) FROM objects WHERE seq IN ({marks}) AND ends_at > ?",
            (*seqs, after),
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    async def pending_refresh(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT name FROM pending_refresh")}

    async def set_ends_at(
        self, updates: Sequence[tuple[float | None, int]], refreshed: str
    ) -> None:
        """New ``ends_at`` per seq, and ``refreshed`` marked done, in one transaction."""
        with self._transaction():
            self._db.executemany("UPDATE objects SET ends_at=? WHERE seq=?", updates)
            self._db.execute("DELETE FROM pending_refresh WHERE name=?", (refreshed,))

    async def all_of_kind(self, kind: str) -> list[StoredObject]:
        rows = self._db.execute(f"SELECT {_SELECT} FROM objects WHERE kind=? ORDER BY seq", (kind,))
        return [self._row(row) for row in rows]

    async def children(self, kind: str, column: str, parent_id: str) -> list[StoredObject]:
        assert column in ("program_id", "ven_id", "event_id")
        rows = self._db.execute(
            f"SELECT {_SELECT} FROM objects WHERE kind=? AND {column}=? ORDER BY seq",
            (kind, parent_id),
        )
        return [self._row(row) for row in rows]

    # --- webhook delivery state -----------------------------------------------------------

    async def delivery_state(self, subscription_id: str) -> DeliveryState | None:
        await self._deliveries.flush()
        row = self._db.execute(
            "SELECT subscription_id, state, consecutive_failures, delivered, last_error,"
            " last_attempt FROM subscription_delivery WHERE subscription_id=?",
            (subscription_id,),
        ).fetchone()
        return DeliveryState(*row) if row else None

    async def record_delivery(self, subscription_id: str, *, ok: bool, error: str | None) -> None:
        if ok:
            self._deliveries.add(subscription_id)
            return

        async def failed() -> None:
            self._db.execute(
                "INSERT INTO subscription_delivery (subscription_id, state, consecutive_failures,"
                " delivered, last_error, last_attempt) VALUES (?, 'FAILING', 1, 0, ?, ?)"
                " ON CONFLICT(subscription_id) DO UPDATE SET state='FAILING',"
                " consecutive_failures=consecutive_failures+1, last_error=excluded.last_error,"
                " last_attempt=excluded.last_attempt",
                (subscription_id, error, time.time()),
            )

        await self._deliveries.flush(then=failed)

    async def _write_delivered(self, counts: dict[str, int]) -> None:
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "INSERT INTO subscription_delivery (subscription_id, state, consecutive_failures,"
                " delivered, last_error, last_attempt) VALUES (?, 'OK', 0, ?, NULL, ?)"
                " ON CONFLICT(subscription_id) DO UPDATE SET state='OK', consecutive_failures=0,"
                " delivered=delivered+excluded.delivered, last_attempt=excluded.last_attempt",
                [(subscription_id, count, now) for subscription_id, count in counts.items()],
            )

    async def mark_delivery_failed(self, subscription_id: str, error: str) -> None:
        async def failed() -> None:
            self._db.execute(
                "UPDATE subscription_delivery SET state='FAILED', last_error=?"
                " WHERE subscription_id=?",
                (error, subscription_id),
            )

        await self._deliveries.flush(then=failed)

    # --- console check-ins ---------------------------------------------------------------

    async def save_checkins(self, rows: Sequence[tuple[str, float]]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT INTO ven_checkins (client_id, last_seen) VALUES (?, ?)"
                " ON CONFLICT(client_id) DO UPDATE SET last_seen=excluded.last_seen",
                rows,
            )

    async def load_checkins(self) -> dict[str, float]:
        rows = self._db.execute("SELECT client_id, last_seen FROM ven_checkins")
        return {str(client_id): float(at) for client_id, at in rows}

    # --- tokens ---------------------------------------------------------------------------

    async def save_token(
        self, token_hash: str, client_id: str, role: str, expires_at: float
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?)",
            (token_hash, client_id, role, expires_at),
        )

    async def purge_tokens(self, now: float) -> None:
        self._db.execute("DELETE FROM tokens WHERE expires_at <= ?", (now,))

    async def load_tokens(self, now: float) -> list[tuple[str, str, str, float]]:
        await self.purge_tokens(now)
        rows = self._db.execute("SELECT token_hash, client_id, role, expires_at FROM tokens")
        return [(str(a), str(b), str(c), float(d)) for a, b, c, d in rows]

    async def find_token(self, token_hash: str) -> tuple[str, str, float] | None:
        row = self._db.execute(
            "SELECT client_id, role, expires_at FROM tokens WHERE token_hash=?", (token_hash,)
        ).fetchone()
        return (str(row[0]), str(row[1]), float(row[2])) if row else None

    # --- OpenADR 2.0b face ------------------------------------------------------------------

    async def oadr2b_registration(self, ven_name: str) -> Oadr2bRegistration | None:
        return self._registration("ven_name", ven_name)

    async def oadr2b_registration_of(self, ven_id: str) -> Oadr2bRegistration | None:
        return self._registration("ven_id", ven_id)

    def _registration(self, column: str, value: str) -> Oadr2bRegistration | None:
        row = self._db.execute(
            f"SELECT {OADR2B_COLUMNS} FROM oadr2b_registrations WHERE {column}=?", (value,)
        ).fetchone()
        return registration_of(row) if row else None

    async def oadr2b_registrations(self) -> list[Oadr2bRegistration]:
        rows = self._db.execute(
            f"SELECT {OADR2B_COLUMNS} FROM oadr2b_registrations ORDER BY ven_name"
        )
        return [registration_of(row) for row in rows]

    async def save_oadr2b_registration(self, registration: Oadr2bRegistration) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO oadr2b_registrations ({OADR2B_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            registration_row(registration),
        )

    async def set_oadr2b_delivered(self, ven_name: str, digest: str) -> None:
        self._db.execute(
            "UPDATE oadr2b_registrations SET delivered=? WHERE ven_name=?", (digest, ven_name)
        )

    async def add_oadr2b_record(
        self, ven_id: str, kind: str, at: float, body: dict[str, Any]
    ) -> None:
        self._db.execute(
            "INSERT INTO oadr2b_records (ven_id, kind, at, body) VALUES (?, ?, ?, ?)",
            (ven_id, kind, at, dump_body(body)),
        )

    async def oadr2b_records(
        self, kind: str, *, ven_id: str | None = None, limit: int = 50
    ) -> list[Oadr2bRecord]:
        sql = "SELECT seq, ven_id, kind, at, body FROM oadr2b_records WHERE kind=?"
        params: list[Any] = [kind]
        if ven_id is not None:
            sql += " AND ven_id=?"
            params.append(ven_id)
        rows = self._db.execute(sql + " ORDER BY seq DESC LIMIT ?", (*params, limit))
        return [Oadr2bRecord(seq, ven, k, at, json.loads(body)) for seq, ven, k, at, body in rows]

    async def prune_oadr2b_records(self, before: float) -> int:
        cursor = self._db.execute("DELETE FROM oadr2b_records WHERE at < ?", (before,))
        return int(cursor.rowcount)

    async def oadr2b_modification(self, event_id: str, stamp: str) -> int:
        with self._transaction():
            self._db.execute(
                "INSERT INTO oadr2b_event_versions (event_id, stamp, number) VALUES (?, ?, 0)"
                " ON CONFLICT(event_id) DO UPDATE SET stamp=excluded.stamp, number=number+1"
                " WHERE stamp<>excluded.stamp",
                (event_id, stamp),
            )
            row = self._db.execute(
                "SELECT number FROM oadr2b_event_versions WHERE event_id=?", (event_id,)
            ).fetchone()
        return int(row[0])

    async def oadr2b_cancel(self, event_id: str, body_text: str, keep_until: float) -> int:
        with self._transaction():
            self._db.execute(
                "INSERT INTO oadr2b_event_versions (event_id, stamp, number, cancelled,"
                " keep_until) VALUES (?, 'cancelled', 0, ?, ?) ON CONFLICT(event_id) DO UPDATE"
                " SET stamp='cancelled', number=number+1, cancelled=excluded.cancelled,"
                " keep_until=excluded.keep_until",
                (event_id, body_text, keep_until),
            )
            row = self._db.execute(
                "SELECT number FROM oadr2b_event_versions WHERE event_id=?", (event_id,)
            ).fetchone()
        return int(row[0])

    async def oadr2b_cancelled(self, now: float) -> list[tuple[str, int, str]]:
        self._db.execute(
            "DELETE FROM oadr2b_event_versions WHERE cancelled IS NOT NULL AND keep_until<=?",
            (now,),
        )
        rows = self._db.execute(
            "SELECT event_id, number, cancelled FROM oadr2b_event_versions"
            " WHERE cancelled IS NOT NULL ORDER BY event_id"
        )
        return [(str(a), int(b), str(c)) for a, b, c in rows]

    async def listen(self, handler: ChangeHandler) -> None:
        """No other process writes this file (one worker on SQLite, docs/vtn-lite.md)."""

    # --- helpers --------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    @staticmethod
    @contextmanager
    def _unique(kind: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError as exc:
            # "UNIQUE constraint failed: objects.name" (or objects.client_id, objects.id)
            message = str(exc)
            if not message.startswith("UNIQUE constraint failed: objects."):
                raise
            column = message.rsplit(".", 1)[-1]
            raise NameTaken(unique_rule(kind, column)) from None

    @staticmethod
    def _columns(index: IndexFields) -> Sequence[Any]:
        return (
            index.name,
            index.program_id,
            index.event_id,
            index.ven_id,
            index.client_id,
            index.client_name,
            1 if index.targets else 0,
            index.ends_at,
        )

    def _set_targets(self, seq: int, targets: tuple[str, ...]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO object_targets (target, seq) VALUES (?, ?)",
            [(target, seq) for target in targets],
        )

    def _row(self, row: Sequence[Any]) -> StoredObject:
        seq, object_id, kind, body, extra, client_id, ven_id, program_id, targets = row
        return StoredObject(
            seq=seq,
            id=object_id,
            kind=kind,
            body_text=body,
            extra=json.loads(extra) if extra else None,
            client_id=client_id,
            ven_id=ven_id,
            program_id=program_id,
            targets=tuple(targets.split("\x1f")) if targets else (),
        )


_SELECT = (
    "seq, id, kind, body, extra, client_id, ven_id, program_id,"
    " (SELECT group_concat(target, char(31)) FROM object_targets t WHERE t.seq = objects.seq)"
)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
