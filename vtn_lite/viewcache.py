"""Serialised search results per view, reused until the store changes or an event in them ends.

A fleet polls far more often than a utility writes: 10,000 gateways every 20 s ask the same few
hundred questions (one per group of targets) again and again. A view is the response body of one
search as one kind of caller sees it; it is reused while

* the store's change stamp is the one it was built at (every write through the service, and,
  for SQLite, commits by other connections such as an offline price import), and
* for ``active=true`` searches, no event in it has ended since (``valid_until``).

The ETag is a hash of the bytes, so it is the same on every worker and changes exactly when the
view does. Memory is bounded by entry count and total bytes (least recently used go first).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

MAX_VIEWS = 2048
MAX_VIEW_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class View:
    body: bytes
    etag: str


def etag_of(body: bytes) -> str:
    """A strong ETag of these exact bytes (RFC 9110 §8.8.3)."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


@dataclass(frozen=True, slots=True)
class _Entry:
    view: View
    stamp: Hashable
    valid_until: float | None


class ViewCache:
    def __init__(self, max_views: int = MAX_VIEWS, max_bytes: int = MAX_VIEW_BYTES) -> None:
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._bytes = 0
        self._max_views = max_views
        self._max_bytes = max_bytes
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, stamp: Hashable, now: float) -> View | None:
        entry = self._entries.get(key)
        if (
            entry is None
            or entry.stamp != stamp
            or (entry.valid_until is not None and now >= entry.valid_until)
        ):
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.view

    def put(self, key: Hashable, stamp: Hashable, valid_until: float | None, body: bytes) -> View:
        view = View(body, etag_of(body))
        self._drop(key)
        if len(body) <= self._max_bytes:
            self._entries[key] = _Entry(view, stamp, valid_until)
            self._bytes += len(body)
            while len(self._entries) > self._max_views or self._bytes > self._max_bytes:
                self._drop(next(iter(self._entries)))
        return view

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= len(entry.view.body)
