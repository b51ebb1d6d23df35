"""vtn_lite's storage interface: the shapes every backend returns and the operations it offers.

Two backends implement :class:`Storage`: SQLite (:mod:`vtn_lite.storage_sqlite`, embedded, the
default) and PostgreSQL (:mod:`vtn_lite.storage_postgres`, for several workers). Objects are kept
in their canonical 3.1.0 wire form (``body``, JSON text) next to the columns the searches filter
on, so a search is one indexed query and pagination happens after every filter (including object
privacy), in creation order (``seq``): a stable order for ``skip``/``limit``.

:func:`open_storage` picks the backend from the ``[storage] url`` (docs/vtn-lite.md "Storage").
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

SQLITE_SCHEME = "sqlite:"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class StorageError(RuntimeError):
    """The database cannot be used: unreachable, or written by a newer vtn_lite."""


class NameTaken(Exception):
    """A write that would break a uniqueness rule another writer won meanwhile (another worker,
    or an offline import into the same database); the service checks first, this is the backstop.
    """


# The uniqueness rules both backends enforce with partial unique indexes: (kind, column) -> why.
UNIQUE_RULES = {
    ("PROGRAM", "name"): "a program with this name exists",
    ("VEN", "name"): "a ven with this name exists",
    ("VEN", "client_id"): "this client already has a ven object",
    ("RESOURCE", "name"): "this ven has a resource with this name",
}


def unique_rule(kind: str, column: str) -> str:
    return UNIQUE_RULES.get((kind, column), "an object with this id exists")


@dataclass(frozen=True, slots=True)
class IndexFields:
    """The searchable columns of one object (all derived from its body)."""

    name: str | None = None
    program_id: str | None = None
    event_id: str | None = None
    ven_id: str | None = None
    client_id: str | None = None
    client_name: str | None = None
    targets: tuple[str, ...] = ()
    ends_at: float | None = None


@dataclass(frozen=True, slots=True)
class StoredObject:
    seq: int
    id: str
    kind: str
    body_text: str
    extra: dict[str, Any] | None
    client_id: str | None
    ven_id: str | None
    program_id: str | None
    targets: tuple[str, ...] = field(default=())

    @property
    def body(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body_text)
        return parsed


@dataclass(frozen=True, slots=True)
class Query:
    """Filters of one search; every given filter must hold (AND)."""

    kind: str
    program_id: str | None = None
    event_id: str | None = None
    ven_id: str | None = None
    client_id: str | None = None
    client_name: str | None = None
    name: str | None = None
    # Objects carrying at least one of these targets.
    any_targets: tuple[str, ...] | None = None
    # Object privacy for VENs (Definition "Object Privacy"): untargeted objects, or objects
    # carrying one of these targets.
    visible_targets: tuple[str, ...] | None = None
    active_at: float | None = None
    object_kinds: tuple[str, ...] | None = None  # subscriptions: "objects" filter
    with_program: bool = False  # only objects that name a program
    skip: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class DeliveryState:
    subscription_id: str
    state: str
    consecutive_failures: int
    delivered: int
    last_error: str | None
    last_attempt: float | None


@dataclass(frozen=True, slots=True)
class Change:
    """A committed write announced to the other workers sharing the database: the object as
    written (as it was, for a delete), so every worker can notify its share of subscribers."""

    operation: str
    stored: StoredObject

    @property
    def kind(self) -> str:
        return self.stored.kind


ChangeHandler = Callable[[Change], Coroutine[Any, Any, None]]


@dataclass(frozen=True, slots=True)
class Oadr2bRegistration:
    """One OpenADR 2.0b VEN's party registration, keyed by its venName; ``state`` is one of
    those of :mod:`vtn_lite.oadr2b.registry` (pending, approved, rejected, cancelling, revoked,
    cancelled, reregister).

    ``ven_id`` is the id of the 3.x ven object created on approval (the 2.0b venID), so 2.0b
    VENs share targets, groups and the console's VEN list with 3.x VENs. ``delivered`` is the
    digest of the event list the VEN last answered, so a poll sends events only on a change.
    """

    ven_name: str
    state: str
    requested_at: float
    updated_at: float
    ven_id: str | None = None
    registration_id: str | None = None
    fingerprint: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    delivered: str | None = None


@dataclass(frozen=True, slots=True)
class Oadr2bRecord:
    """Something a 2.0b VEN sent that the operator sees: an opt, a report, a registered
    report's metadata (``kind``), as received (``at``, VTN clock) and parsed (``body``)."""

    seq: int
    ven_id: str
    kind: str
    at: float
    body: dict[str, Any]


class Storage(Protocol):
    """What the service layer, the authenticator and the notifier need from a backend."""

    @property
    def url(self) -> str: ...

    async def open(self) -> None:
        """Connect and bring the schema up to date (versioned migrations)."""

    async def close(self) -> None: ...

    async def schema_version(self) -> int: ...

    # --- objects -------------------------------------------------------------------------

    async def insert(
        self,
        kind: str,
        object_id: str,
        index: IndexFields,
        body: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> StoredObject: ...

    async def replace(
        self,
        stored: StoredObject,
        index: IndexFields,
        body: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> StoredObject: ...

    async def insert_many(
        self, kind: str, rows: Sequence[tuple[str, IndexFields, dict[str, Any]]]
    ) -> None:
        """Bulk load of (id, index, body) in one transaction: setup and imports only. No change
        is announced; a body is stored as given (the caller builds the full wire form)."""

    async def delete(self, stored: StoredObject) -> None: ...

    async def get(self, kind: str, object_id: str) -> StoredObject | None: ...

    async def name_taken(
        self, kind: str, name: str, *, ven_id: str | None = None, except_id: str | None = None
    ) -> bool: ...

    async def search(self, query: Query) -> list[StoredObject]: ...

    async def data_version(self) -> int:
        """A number that changes when another process commits a write to the database (another
        worker, an offline import): what this process cached from the database may be stale.
        Its own writes need not change it (the service counts those itself)."""

    async def next_end(self, seqs: Sequence[int], after: float) -> float | None:
        """The earliest ``ends_at`` later than ``after`` among these objects (None: none ends)."""

    async def pending_refresh(self) -> set[str]: ...

    async def set_ends_at(
        self, updates: Sequence[tuple[float | None, int]], refreshed: str
    ) -> None:
        """New ``ends_at`` per seq, and ``refreshed`` marked done, in one transaction."""

    async def all_of_kind(self, kind: str) -> list[StoredObject]: ...

    async def children(self, kind: str, column: str, parent_id: str) -> list[StoredObject]: ...

    # --- webhook delivery state -----------------------------------------------------------

    async def delivery_state(self, subscription_id: str) -> DeliveryState | None: ...

    async def record_delivery(
        self, subscription_id: str, *, ok: bool, error: str | None
    ) -> None: ...

    async def mark_delivery_failed(self, subscription_id: str, error: str) -> None: ...

    # --- console check-ins ---------------------------------------------------------------

    async def save_checkins(self, rows: Sequence[tuple[str, float]]) -> None:
        """Last check-in per client id, many at once (one transaction)."""

    async def load_checkins(self) -> dict[str, float]: ...

    # --- tokens ---------------------------------------------------------------------------

    async def save_token(
        self, token_hash: str, client_id: str, role: str, expires_at: float
    ) -> None: ...

    async def purge_tokens(self, now: float) -> None: ...

    async def load_tokens(self, now: float) -> list[tuple[str, str, str, float]]: ...

    async def find_token(self, token_hash: str) -> tuple[str, str, float] | None:
        """(client_id, role, expires_at) of a token another worker may have issued."""

    # --- OpenADR 2.0b face (vtn_lite/oadr2b) ------------------------------------------------

    async def oadr2b_registration(self, ven_name: str) -> Oadr2bRegistration | None: ...

    async def oadr2b_registration_of(self, ven_id: str) -> Oadr2bRegistration | None:
        """The registration whose venID (3.x ven object id) is ``ven_id``."""

    async def oadr2b_registrations(self) -> list[Oadr2bRegistration]: ...

    async def save_oadr2b_registration(self, registration: Oadr2bRegistration) -> None:
        """Insert or replace the registration of ``registration.ven_name``."""

    async def set_oadr2b_delivered(self, ven_name: str, digest: str) -> None: ...

    async def add_oadr2b_record(
        self, ven_id: str, kind: str, at: float, body: dict[str, Any]
    ) -> None: ...

    async def oadr2b_records(
        self, kind: str, *, ven_id: str | None = None, limit: int = 50
    ) -> list[Oadr2bRecord]:
        """Newest first; every VEN's when ``ven_id`` is None."""

    async def prune_oadr2b_records(self, before: float) -> int:
        """Forget records received before ``before``; returns how many."""

    async def oadr2b_modification(self, event_id: str, stamp: str) -> int:
        """The 2.0b modificationNumber of an event version: 0 for the first ``stamp`` seen,
        one more for each different one (rule 5), shared by every worker."""

    async def oadr2b_cancel(self, event_id: str, body_text: str, keep_until: float) -> int:
        """Record a deleted event to send as cancelled until ``keep_until`` (rules 5, 66);
        returns its new modificationNumber."""

    async def oadr2b_cancelled(self, now: float) -> list[tuple[str, int, str]]:
        """(event id, modificationNumber, 3.x body text) of cancellations still sent; older
        ones are forgotten."""

    # --- other workers --------------------------------------------------------------------

    async def listen(self, handler: ChangeHandler) -> None:
        """Call ``handler`` for each write committed by another process on this database."""


class DeliveryBatch:
    """Successful webhook deliveries counted in memory and written together: a fan-out to
    10,000 subscribers is then a few statements, not 10,000 writes.

    Everything that reads or changes delivery state goes through :meth:`flush` first (under one
    lock), so the stored states stay in the order the deliveries happened.
    """

    def __init__(
        self, write: Callable[[dict[str, int]], Awaitable[None]], *, delay: float = 0.2
    ) -> None:
        self._write = write
        self._delay = delay
        self._counts: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._timer: asyncio.Task[None] | None = None

    def add(self, subscription_id: str) -> None:
        self._counts[subscription_id] = self._counts.get(subscription_id, 0) + 1
        if self._timer is None or self._timer.done():
            self._timer = asyncio.get_running_loop().create_task(self._flush_later())

    async def flush(self, then: Callable[[], Awaitable[None]] | None = None) -> None:
        """Write what is counted, then run ``then`` (another delivery write) under the lock."""
        async with self._lock:
            counts, self._counts = self._counts, {}
            if counts:
                await self._write(counts)
            if then is not None:
                await then()

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            await asyncio.gather(self._timer, return_exceptions=True)
        await self.flush()

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._delay)
        try:
            await self.flush()
        except Exception:  # the next flush retries nothing; the counts are lost, not the server
            log.exception("cannot record webhook deliveries")


def open_storage(url: str) -> Storage:
    """The backend for ``url``: ``postgresql://…``, ``sqlite:PATH`` or a plain SQLite path."""
    if url.startswith(POSTGRES_SCHEMES):
        from vtn_lite.storage_postgres import PostgresStore

        return PostgresStore(url)
    from vtn_lite.storage_sqlite import SqliteStore

    return SqliteStore(url.removeprefix(SQLITE_SCHEME))


def is_postgres(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


def subscription_objects(body: dict[str, Any]) -> set[str]:
    kinds: set[str] = set()
    for operation in body.get("objectOperations", []):
        kinds.update(operation.get("objects", []))
    return kinds


def dump_body(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))


def registration_row(registration: Oadr2bRegistration) -> tuple[Any, ...]:
    """The column values of a registration, in ``OADR2B_COLUMNS`` order."""
    return (
        registration.ven_name,
        registration.state,
        registration.requested_at,
        registration.updated_at,
        registration.ven_id,
        registration.registration_id,
        registration.fingerprint,
        json.dumps(registration.info),
        registration.delivered,
    )


OADR2B_COLUMNS = (
    "ven_name, state, requested_at, updated_at, ven_id, registration_id, fingerprint, info,"
    " delivered"
)


def registration_of(row: Sequence[Any]) -> Oadr2bRegistration:
    name, state, requested, updated, ven_id, registration_id, fingerprint, info, delivered = row
    return Oadr2bRegistration(
        ven_name=name,
        state=state,
        requested_at=float(requested),
        updated_at=float(updated),
        ven_id=ven_id,
        registration_id=registration_id,
        fingerprint=fingerprint,
        info=json.loads(info),
        delivered=delivered,
    )


def dump_extra(extra: dict[str, Any] | None) -> str | None:
    return json.dumps(extra) if extra else None
