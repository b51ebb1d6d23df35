"""Persisted daemon state: small JSON documents written atomically, readable only by the service.

A gateway loses power without warning. Every document is written to a temporary file in the same
directory, flushed to disk, then renamed over the old one, so a reader sees either the previous or
the new content, never a torn file. Files are created with mode 0600 because they can hold
registration ids and report data.

Writing and flushing to an SD card takes milliseconds to seconds, too long for the event loop
that also runs the heater's CTA-2045 timers. From async code, :meth:`StateStore.save_soon`
encodes the document at once (its content is what it is at the call) and leaves the write to one
writer thread. That thread runs every write in the order it was asked for, so what one component
wrote before another is on disk before it too (the report outbox's journal before the link state
that counts its reports). A save of a document that a later save of the same document supersedes
before it started is skipped: the last one always lands last. :meth:`StateStore.load` sees saves
not written yet, and ``await`` :meth:`StateStore.flush` waits until everything asked so far is on
disk.

Every file carries the version of its layout, ``{"data": ..., "version": N}``, so that a release
can read what an earlier one wrote, also when it is upgraded in the middle of a utility event
(docs/architecture.md "Persisted state"). A bare document, as releases before the envelope wrote
them, reads as version 0. :data:`MIGRATIONS` brings an older file up to :data:`SCHEMA_VERSION`
as it is loaded; a file from a newer release is refused, with the reason logged, and kept aside
for that release instead of being overwritten.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700

#: The layout this release writes.
SCHEMA_VERSION = 2


def _heater_limits_added(name: str, document: Any) -> Any:
    """Version 1 to 2: the ``set_point`` document also keeps what the heater refused (its
    narrowed set-point ceiling and the fallback to Basic messages, docs/gateway.md "Set
    points"), under ``heater``; a file from before knew nothing of it."""
    if name == "set_point" and isinstance(document, dict):
        return {**document, "heater": None}
    return document


#: Version N -> a function that takes a document (by name) at version N to version N + 1.
#: Version 0 to 1 added the envelope alone: the documents inside are as they were.
MIGRATIONS: dict[int, Callable[[str, Any], Any]] = {
    0: lambda _name, document: document,
    1: _heater_limits_added,
}


class UnreadableVersion(ValueError):
    """A state file from a newer release than this one."""

    def __init__(self, version: int) -> None:
        super().__init__(f"version {version} is newer than this release reads ({SCHEMA_VERSION})")
        self.version = version


class StateStore:
    """A directory of named JSON documents (``<name>.json``) and other files of the service."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()  # guards the queue and the documents not written yet
        # One write at a time, in the order asked for; the writer thread holds it over each job
        # (re-entered by the job's own writes).
        self._writing = threading.RLock()
        self._jobs: collections.deque[Callable[[], None]] = collections.deque()
        self._draining = False
        self._unwritten: dict[str, tuple[int, bytes | Callable[[], Any]]] = {}
        self._sequence = itertools.count()

    def path(self, name: str, suffix: str = ".json") -> Path:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"invalid state document name {name!r}")
        return self.directory / f"{name}{suffix}"

    # -- writing ---------------------------------------------------------------------------
    def save(self, name: str, document: Any) -> None:
        """Write ``document`` now, on this thread (start-up, tools and tests; async code uses
        :meth:`save_soon`)."""
        data = _encode(document)
        with self._lock:
            sequence = next(self._sequence)
            self._unwritten[name] = (sequence, data)
        self._write_document(name, sequence)

    def save_soon(self, name: str, document: Any) -> None:
        """Encode ``document`` now and write it on the writer thread (at once when no event loop
        runs). A failed write is logged; the previous content stays.

        A callable ``document`` is called on the writer thread instead, and what it returns is
        written: for a document made from immutable values whose encoding takes long (a day of
        ten-second prices)."""
        data = document if callable(document) else _encode(document)
        with self._lock:
            sequence = next(self._sequence)
            self._unwritten[name] = (sequence, data)
        self.submit(lambda: self._write_logged(name, sequence))

    def submit(self, job: Callable[[], None]) -> None:
        """Run ``job`` on the writer thread after every write asked for before it (at once when
        no event loop runs). ``job`` handles its own errors."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        with self._lock:
            self._jobs.append(job)
            if self._draining:
                return
            self._draining = True
        if loop is not None:
            try:
                loop.run_in_executor(None, self._drain)
                return
            except RuntimeError:  # the loop is shutting its executor down: write here
                pass
        self._drain()

    async def flush(self) -> None:
        """Wait until every write asked for so far is done."""
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        def settle() -> None:
            if not done.done():
                done.set_result(None)

        def mark() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(settle)

        self.submit(mark)
        await done

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._draining = False
                    return
                job = self._jobs.popleft()
            with self._writing:
                try:
                    job()
                except Exception:  # one bad job must not stop the writes after it
                    LOG.exception("state write failed")

    def _write_logged(self, name: str, sequence: int) -> None:
        try:
            self._write_document(name, sequence)
        except (OSError, TypeError, ValueError) as exc:  # disk, or a document JSON cannot hold
            LOG.error("cannot save %s state: %s", name, exc)

    def _write_document(self, name: str, sequence: int) -> None:
        with self._writing:
            with self._lock:
                entry = self._unwritten.get(name)
            if entry is None or entry[0] != sequence:
                return  # a later save of this document follows: it alone needs writing
            try:
                self.write_atomic(self.path(name), _enveloped(_bytes(entry[1])))
            finally:  # written, or failed and the previous content stays: load reads the file
                with self._lock:
                    if self._unwritten.get(name, (None,))[0] == sequence:
                        del self._unwritten[name]

    def write_atomic(self, target: Path, data: bytes) -> None:
        """Replace ``target`` by ``data`` (temp file, fsync, rename, fsync the directory)."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=self.directory)
        try:
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self.sync_directory()

    def sync_directory(self) -> None:
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- reading ---------------------------------------------------------------------------
    def load(self, name: str, default: Any = None) -> Any:
        """Read a document (a save not written yet included); a missing or unreadable one gives
        ``default`` (and a logged reason).

        A corrupt file is kept aside as ``<name>.json.corrupt`` for diagnosis instead of being
        silently overwritten by the next save.
        """
        target = self.path(name)
        with self._lock:
            entry = self._unwritten.get(name)
        if entry is not None:
            return json.loads(_bytes(entry[1]))
        try:
            raw = target.read_bytes()
        except FileNotFoundError:
            return default
        try:
            return self._migrated(name, target, json.loads(raw))
        except UnreadableVersion as exc:  # a newer release's file: keep it for that release
            aside = target.with_suffix(f".json.v{exc.version}")
            LOG.error("state file %s: %s; moved to %s, starting without it", target, exc, aside)
            os.replace(target, aside)
            return default
        except ValueError as exc:
            aside = target.with_suffix(".json.corrupt")
            LOG.error("state file %s is corrupt (%s); moved to %s", target, exc, aside)
            os.replace(target, aside)
            return default

    def _migrated(self, name: str, target: Path, stored: Any) -> Any:
        """The document inside ``stored`` (a file's parsed JSON) at :data:`SCHEMA_VERSION`."""
        version, document = _unwrap(stored)
        if version > SCHEMA_VERSION:
            raise UnreadableVersion(version)
        if version < SCHEMA_VERSION:
            for step in range(version, SCHEMA_VERSION):
                document = MIGRATIONS[step](name, document)
            LOG.info(
                "state file %s: migrated from version %d to %d", target, version, SCHEMA_VERSION
            )
        return document

    def delete(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(name).unlink()


def _unwrap(stored: Any) -> tuple[int, Any]:
    """(version, document) of a file's parsed JSON; ValueError for an envelope that is not one."""
    if not (isinstance(stored, dict) and stored.keys() == {"data", "version"}):
        return 0, stored  # written before the envelope
    version = stored["version"]
    if type(version) is not int or version < 1:  # bool is an int, and no file says True
        raise ValueError(f"version {version!r} is not a whole number from 1")
    return version, stored["data"]


def _enveloped(data: bytes) -> bytes:
    # Keys in sorted order, as every document is written (:func:`_encode`).
    return b'{"data":' + data + b',"version":' + str(SCHEMA_VERSION).encode() + b"}"


def _encode(document: Any) -> bytes:
    return "".join(_pieces(document, 2)).encode()


def _pieces(value: Any, depth: int) -> Iterator[str]:
    """``value`` as compact JSON with sorted keys, in pieces: lists and objects of the first
    ``depth`` levels are encoded item by item. One call of the C encoder over a whole large
    document holds the interpreter lock throughout (tens of milliseconds for a day of
    ten-second prices) and the event loop would wait for it."""
    plain = isinstance(value, dict) and not all(isinstance(key, str) for key in value)
    if depth == 0 or plain or not isinstance(value, list | dict) or not value:
        yield json.dumps(value, separators=(",", ":"), sort_keys=True)
    elif isinstance(value, list):
        yield "["
        for index, item in enumerate(value):
            if index:
                yield ","
            yield from _pieces(item, depth - 1)
        yield "]"
    else:
        yield "{"
        for index, key in enumerate(sorted(value)):
            yield ("," if index else "") + json.dumps(key) + ":"
            yield from _pieces(value[key], depth - 1)
        yield "}"


def _bytes(data: bytes | Callable[[], Any]) -> bytes:
    return data if isinstance(data, bytes) else _encode(data())
