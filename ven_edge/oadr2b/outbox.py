"""Messages waiting for the VTN: reports and opt replies, kept on disk through outages.

Like the OpenADR 3 report outbox (:mod:`ven_edge.oadr3.outbox`), each message is persisted when
queued and removed only once the VTN took it, so a restart during an outage loses nothing. Kept
unsigned: a signature's ReplayProtect timestamp must be fresh when sent (digest §1.7).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Final

from ven_edge.store import StateStore

LOG = logging.getLogger(__name__)

#: A day of 1-minute usage and status reports, with room for replies; older ones go first.
MAX_PENDING: Final = 3000


class MessageOutbox:
    def __init__(self, store: StateStore | None, document: str) -> None:
        self._store = store
        self._document = document
        self.pending: deque[tuple[str, str]] = deque()
        raw = store.load(document, default=[]) if store is not None else []
        if isinstance(raw, list):
            for item in raw[-MAX_PENDING:]:
                if (
                    isinstance(item, list)
                    and len(item) == 2
                    and all(isinstance(part, str) for part in item)
                ):
                    self.pending.append((item[0], item[1]))

    def add(self, service: str, body: bytes) -> None:
        self.pending.append((service, body.decode("utf-8")))
        while len(self.pending) > MAX_PENDING:
            dropped = self.pending.popleft()
            LOG.warning("outbox full: oldest message for %s dropped", dropped[0])
        self._save()

    def peek(self) -> tuple[str, bytes] | None:
        if not self.pending:
            return None
        service, text = self.pending[0]
        return service, text.encode("utf-8")

    def pop(self) -> None:
        if self.pending:
            self.pending.popleft()
            self._save()

    def _save(self) -> None:
        if self._store is not None:
            self._store.save_soon(self._document, [list(item) for item in self.pending])
