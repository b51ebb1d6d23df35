"""Reports waiting for the VTN, kept in an append-only journal so that none is lost or sent twice.

Exactly once: every report has a deterministic ``reportName``. :class:`ReportOutbox` records a
report before it is sent and marks it "tried" before its POST, durably; after a crash or a lost
response it asks the VTN (GET /reports) whether a report of that name exists before sending it
again. Delivered names are remembered, so the same report queued twice is sent once.

The journal (``<state dir>/<name>.journal``, mode 0600) has one JSON object per line:
``{"add": body}``, ``{"tried": name}``, ``{"done": name}`` (delivered) and ``{"drop": name}``
(refused by the VTN, or the oldest evicted from a full outbox). Queueing a report appends one line
instead of rewriting every report held: after a day without the VTN thousands wait, and a
rewrite per report grows with the square of their number. The lines are written and fsync'd by
the state store's writer thread (:meth:`~ven_edge.store.StateStore.submit`), in batches, in order
with the other state documents, so the link state that counts the queued reports never reaches
the disk before them. When the journal holds more than twice the lines its live entries need it
is rewritten from them (atomically). At start the journal is replayed; a torn last line (power
lost in the middle of a write) is logged and left out, and unreadable lines elsewhere are logged
and skipped, keeping the rest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, overload

from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.errors import (
    PayloadError,
    ResponseTooLargeError,
    VtnHttpError,
    VtnUnreachableError,
)
from ven_edge.store import FILE_MODE, StateStore

LOG = logging.getLogger(__name__)

#: Statuses after which a report is kept for a later retry instead of being dropped.
_RETRYABLE_STATUSES = frozenset({401, 403, 408, 409, 425, 429})
#: Delivered report names remembered to suppress duplicates (a few days of 15-min reports).
DELIVERED_MEMORY = 2000
#: Reports marked "tried" with one fsync before their POSTs. A crash or an outage in the
#: middle costs a GET each for the rest of the batch, not a duplicate.
TRY_BATCH: Final = 16
#: Lines beyond twice the live entries the journal may grow to before it is rewritten.
COMPACT_SLACK: Final = 64
#: Unreadable journal lines described one by one in the log; the rest are counted.
LOGGED_BAD_LINES: Final = 5


@dataclass(slots=True)
class _Item:
    """A queued report, held as its journal line only: bytes are compact and the garbage
    collector does not walk them (thousands of report dicts after an outage cost both)."""

    line: bytes  # its "add" line: the journal entry and, decoded, the report
    tried: bool = False

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.line)["add"]
        return body


class PendingReports(Sequence[Mapping[str, Any]]):
    """The reports waiting, oldest first; each is decoded when it is looked at."""

    def __init__(self, items: list[_Item]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Mapping[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Mapping[str, Any], ...]: ...

    def __getitem__(self, index: int | slice) -> Mapping[str, Any] | tuple[Mapping[str, Any], ...]:
        if isinstance(index, slice):
            return tuple(item.body for item in self._items[index])
        return self._items[index].body

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]


def _line(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


class ReportOutbox:
    """Reports waiting for the VTN, journaled in ``store``'s directory as ``<name>.journal``."""

    def __init__(
        self, store: StateStore, name: str = "report_outbox", max_pending: int = 20_000
    ) -> None:
        self._store = store
        self._name = name
        self.path = store.path(name, ".journal")
        self.max_pending = max_pending
        self._pending: dict[str, _Item] = {}  # in queueing order
        self._delivered: dict[str, bytes] = {}  # name -> its "done" line, oldest first
        self._lines = 0  # lines in the journal once the buffer is written
        self._tried = 0  # pending reports marked tried (a line each in a rewritten journal)
        self._rewrite = False  # a write failed: rewrite the journal from memory
        self._buffer: list[bytes] = []  # lines for the writer thread (under _buffer_lock)
        self._buffer_lock = threading.Lock()
        # A rewrite starts a new generation of the buffer: a write asked for before it must
        # not take lines added after it (they would land in the file the rewrite replaces).
        self._generation = 0
        self._flushing = asyncio.Lock()  # one delivery run at a time keeps the order and counts
        self._restore()

    # -- what it holds ---------------------------------------------------------------------
    @property
    def pending(self) -> PendingReports:
        return PendingReports(list(self._pending.values()))

    @property
    def delivered(self) -> tuple[str, ...]:
        return tuple(self._delivered)

    def add(self, body: Mapping[str, Any]) -> bool:
        """Queue a report (journaled in order before anything saved after it); False if this
        reportName is known."""
        name = body.get("reportName")
        if not isinstance(name, str) or not name:
            raise ValueError("reports in the outbox need a reportName (the idempotency key)")
        if name in self._delivered or name in self._pending:
            return False
        if len(self._pending) >= self.max_pending:
            oldest = next(iter(self._pending))
            self._remove(oldest)
            LOG.error("report outbox full; dropped the oldest report %s", oldest)
            self._append(_line({"drop": oldest}))
        copy = dict(body)
        item = _Item(_line({"add": copy}))
        self._pending[name] = item
        self._append(item.line)
        return True

    async def durable(self) -> None:
        """Wait until everything recorded so far is on disk."""
        await self._store.flush()

    # -- delivery --------------------------------------------------------------------------
    async def flush(self, client: VtnClient) -> int:
        """Send pending reports in order; returns how many were delivered.

        Stops (keeping the rest) when the VTN is unreachable or answers 5xx; a report the VTN
        refuses for good (400/404: e.g. its event was deleted) is logged and dropped.
        """
        async with self._flushing:
            return await self._flush(client)

    async def _flush(self, client: VtnClient) -> int:
        delivered = 0
        while self._pending:
            name, item = next(iter(self._pending.items()))
            body = item.body
            try:
                if item.tried and await self._already_there(client, body):
                    self._done(name)
                    delivered += 1
                    continue
                if not item.tried:
                    await self._mark_tried()
                await client.create_report(body)
            except (VtnUnreachableError, PayloadError, ResponseTooLargeError) as exc:
                LOG.warning("report %s not delivered yet: %s", name, exc)
                break
            except VtnHttpError as exc:
                if exc.status >= 500 or exc.status in _RETRYABLE_STATUSES:
                    LOG.warning("report %s not delivered yet: %s", name, exc)
                    break
                LOG.error("report %s refused by the VTN, dropped: %s", name, exc)
                if self._remove(name) is not None:
                    self._append(_line({"drop": name}))
                continue
            self._done(name)
            delivered += 1
        return delivered

    async def _already_there(self, client: VtnClient, body: Mapping[str, Any]) -> bool:
        existing = await client.find_reports(str(body.get("eventID")))
        return any(r.get("reportName") == body["reportName"] for r in existing)

    async def _mark_tried(self) -> None:
        """Mark the next untried reports tried and wait until that is on disk: a report is
        never POSTed before a restart would know it may have been."""
        batch: list[bytes] = []
        for name, item in self._pending.items():
            if len(batch) == TRY_BATCH:
                break
            if not item.tried:
                item.tried = True
                self._tried += 1
                batch.append(_line({"tried": name}))
        self._append(*batch)
        await self._store.flush()

    def _done(self, name: str) -> None:
        if self._remove(name) is None:
            return
        self._remember(name)
        self._append(self._delivered[name])

    def _remove(self, name: str) -> _Item | None:
        item = self._pending.pop(name, None)
        if item is not None and item.tried:
            self._tried -= 1
        return item

    def _remember(self, name: str) -> None:
        self._delivered[name] = _line({"done": name})
        while len(self._delivered) > DELIVERED_MEMORY:
            del self._delivered[next(iter(self._delivered))]

    # -- the journal -----------------------------------------------------------------------
    def _append(self, *lines: bytes) -> None:
        with self._buffer_lock:
            idle = not self._buffer
            self._buffer.extend(lines)
            generation = self._generation
        self._lines += len(lines)
        if idle:  # else a write already asked for takes these lines too
            self._store.submit(lambda: self._write_buffer(generation))
        if self._rewrite or self._lines > 2 * self._live_lines() + COMPACT_SLACK:
            self._compact()

    def _live_lines(self) -> int:
        return len(self._delivered) + len(self._pending) + self._tried

    def _write_buffer(self, generation: int) -> None:
        """On the writer thread: append the buffered lines, one fsync for all."""
        with self._buffer_lock:
            if generation != self._generation:
                return  # the journal was rewritten since: these lines are in it
            lines, self._buffer = self._buffer, []
        if not lines:
            return
        try:
            self._store.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            created = not self.path.exists()
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
            try:
                os.write(fd, b"".join(lines))
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                self._store.sync_directory()
        except OSError as exc:
            count = len(lines)
            LOG.error("report outbox journal %s: %d entries not written: %s", self.path, count, exc)
            self._rewrite = True  # from memory, at the next change

    def _compact(self) -> None:
        """Rewrite the journal from the live entries (atomically, on the writer thread)."""
        lines = list(self._delivered.values())
        for name, item in self._pending.items():
            lines.append(item.line)
            if item.tried:
                lines.append(_line({"tried": name}))
        data = b"".join(lines)
        with self._buffer_lock:
            self._buffer.clear()  # their effect is in ``data``
            self._generation += 1
        self._lines = len(lines)
        self._rewrite = False
        self._store.submit(lambda: self._write_snapshot(data))

    def _write_snapshot(self, data: bytes) -> None:
        try:
            self._store.write_atomic(self.path, data)
        except OSError as exc:
            LOG.error("report outbox journal %s not rewritten: %s", self.path, exc)
            self._rewrite = True

    def _restore(self) -> None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            self._migrate()
            return
        except OSError as exc:
            LOG.error("report outbox journal %s unreadable (%s); starting empty", self.path, exc)
            return
        chunks = raw.split(b"\n")
        torn = chunks.pop()  # after the last newline: empty unless a write was cut short
        if torn and self._replay(torn) is None:
            torn = b""  # cut just before its newline: complete (rewritten below)
            chunks.append(b"")
            self._rewrite = True
        bad: list[str] = []
        for number, chunk in enumerate(chunks, start=1):
            problem = self._replay(chunk) if chunk else None
            if problem is not None:
                bad.append(f"line {number}: {problem}")
        if torn:
            LOG.warning(
                "report outbox journal %s: the last line is torn (%d bytes of a write cut short); "
                "left out, the %d lines before it kept",
                self.path,
                len(torn),
                len(chunks),
            )
        if bad:
            shown = "; ".join(bad[:LOGGED_BAD_LINES])
            more = f" and {len(bad) - LOGGED_BAD_LINES} more" if len(bad) > LOGGED_BAD_LINES else ""
            LOG.error(
                "report outbox journal %s: %d unreadable lines skipped (%s%s)",
                self.path,
                len(bad),
                shown,
                more,
            )
        self._lines = len(chunks)
        if torn or bad or self._rewrite or self._lines > 2 * self._live_lines() + COMPACT_SLACK:
            self._compact()

    def _replay(self, chunk: bytes) -> str | None:
        """Apply one journal line; what is wrong with it, if anything."""
        try:
            record = json.loads(chunk)
        except ValueError as exc:
            return f"not JSON ({exc})"
        if not isinstance(record, dict) or len(record) != 1:
            return "not a one-entry object"
        ((op, value),) = record.items()
        if op == "add":
            name = value.get("reportName") if isinstance(value, dict) else None
            if not isinstance(name, str) or not name:
                return "a report without a reportName"
            if name not in self._pending and name not in self._delivered:
                if len(self._pending) >= self.max_pending:
                    self._remove(next(iter(self._pending)))
                self._pending[name] = _Item(chunk.rstrip(b"\n") + b"\n")
            return None
        if not isinstance(value, str):
            return f"{op!r} of {type(value).__name__}, not a report name"
        if op == "tried":
            item = self._pending.get(value)
            if item is not None and not item.tried:
                item.tried = True
                self._tried += 1
        elif op == "done":
            self._remove(value)
            if value not in self._delivered:
                self._remember(value)
        elif op == "drop":
            self._remove(value)
        else:
            return f"unknown entry {op!r}"
        return None

    def _migrate(self) -> None:
        """Take over the whole-document outbox of earlier versions (``<name>.json``)."""
        document = self._store.load(self._name, default=None)
        if not isinstance(document, Mapping):
            return
        for name in document.get("delivered") or []:
            if isinstance(name, str) and name:
                self._remember(name)
        for entry in document.get("pending") or []:
            body = entry.get("body") if isinstance(entry, Mapping) else None
            added = isinstance(body, dict) and self._replay(_line({"add": body})) is None
            if added and isinstance(body, dict) and entry.get("attempted"):
                self._replay(_line({"tried": body["reportName"]}))
        LOG.info("report outbox: %d reports taken over from %s", len(self._pending), self._name)
        self._compact()
        self._store.submit(lambda: self._store.delete(self._name))
