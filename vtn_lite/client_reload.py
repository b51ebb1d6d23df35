"""Re-reads the ``[[clients]]`` of the configuration file while vtn_lite serves (docs/vtn-lite.md
"Clients"), so a client added or removed with ``vtn-lite clients add`` / ``clients remove`` is
served, or refused, without a restart: new tokens, the MQTT notifier's topics and the broker's
password and ACL files follow the file.

The file is looked at every few seconds (its inode, modification time and size; the CLI replaces
it by a rename, so a change is never half seen). A file that cannot be used (unreadable, bad
TOML, a bad entry, with ``[mqtt]`` a client id that cannot be an MQTT username) is logged with
the reason and the last good client list stays in force. Only the client list is taken from it;
other settings apply at the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from vtn_lite.config import ClientEntry, ConfigError, load_config
from vtn_lite.mqtt_config import topic_safe

log = logging.getLogger(__name__)

#: How often the file is looked at: a new client waits at most this long (plus the broker's
#: reload) before it is served.
RELOAD_INTERVAL_S = 2.0
#: Client ids named in one log line at most.
_NAMED = 10

Signature = tuple[int, int, int]
_RETRY: Signature = (-1, -1, -1)
ApplyClients = Callable[[tuple[ClientEntry, ...]], Awaitable[None]]


class ClientReloader:
    """Watches ``path``; hands a changed client list to ``apply``."""

    def __init__(
        self,
        path: Path,
        clients: tuple[ClientEntry, ...],
        apply: ApplyClients,
        *,
        mqtt: bool,
        interval_s: float = RELOAD_INTERVAL_S,
    ) -> None:
        self.path = path
        self.clients = clients
        self._apply = apply
        self._mqtt = mqtt
        self._interval_s = interval_s
        # The first look reads the file: it may have changed since ``clients`` were read from it.
        self._seen: Signature | None = _RETRY

    def _signature(self) -> Signature | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    async def check(self) -> bool:
        """Re-read the file if it changed; True when a changed client list was applied."""
        signature = self._signature()
        if signature == self._seen:
            return False
        self._seen = signature
        kept = f"keeping the {len(self.clients)} clients served"
        if signature is None:
            log.error("clients not re-read: %s cannot be read; %s", self.path, kept)
            return False
        try:
            clients = load_config(self.path).clients
        except ConfigError as exc:
            log.error("clients not re-read from %s: %s; %s", self.path, exc, kept)
            return False
        unsafe = [c.client_id for c in clients if not topic_safe(c.client_id)]
        if self._mqtt and unsafe:
            log.error(
                "clients not re-read from %s: client %r cannot be an MQTT username and topic"
                " level (letters, digits and . _ @ - only); %s",
                self.path,
                unsafe[0][:64],
                kept,
            )
            return False
        if clients == self.clients:
            return False
        before = {c.client_id: c for c in self.clients}
        after = {c.client_id: c for c in clients}
        added = [cid for cid in after if cid not in before]
        removed = [cid for cid in before if cid not in after]
        changed = [cid for cid in after if cid in before and after[cid] != before[cid]]
        try:
            await self._apply(clients)
        except BaseException:
            self._seen = _RETRY  # applied again at the next look, the file changed or not
            raise
        self.clients = clients
        log.info(
            "clients re-read from %s: %d added %s, %d removed %s, %d changed %s",
            self.path,
            len(added),
            _names(added),
            len(removed),
            _names(removed),
            len(changed),
            _names(changed),
        )
        return True

    async def run(self) -> None:
        """Check every ``interval_s`` until cancelled; a failure is logged, never the end."""
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.check()
            except Exception:
                # A broker file that cannot be written (a full disk) must not stop the VTN.
                log.exception("clients not re-read from %s", self.path)


def _names(ids: list[str]) -> str:
    shown = ", ".join(cid[:64] for cid in ids[:_NAMED])
    more = f", … {len(ids) - _NAMED} more" if len(ids) > _NAMED else ""
    return f"({shown}{more})" if ids else ""
