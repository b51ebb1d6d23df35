"""The daemon's utility side over :class:`~ven_edge.oadr3.client.VtnClient`.

Registration ids and the timeline builder's per-event anchors (randomizeStart is drawn once per
event) are persisted, so a restarted gateway finds its VEN without creating a new one and keeps
its randomised starts. Every client error becomes :class:`~ven_edge.ports.GridError`; the daemon
backs off and keeps the last good signals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from ven_edge.control import DeviceView, OverrideRecord
from ven_edge.oadr3.client import Registration, VtnClient
from ven_edge.oadr3.errors import Oadr3Error
from ven_edge.ports import GridError, GridHealth
from ven_edge.signals import SignalTimeline
from ven_edge.store import StateStore

log = logging.getLogger(__name__)

REGISTRATION_DOC: Final = "registration"
ANCHORS_DOC: Final = "event_anchors"


class VtnGridPort:
    """Polls one VTN; webhook notifications and reports plug in through the hooks below."""

    def __init__(self, client: VtnClient, store: StateStore) -> None:
        self.client = client
        self.store = store
        self._listener: Callable[[], None] | None = None
        self._restore()

    def _restore(self) -> None:
        reg = self.store.load(REGISTRATION_DOC)
        if isinstance(reg, dict):
            try:
                self.client.registration = Registration.from_json(reg)
            except (KeyError, TypeError, ValueError) as exc:
                log.error("persisted registration unusable (%s); registering again", exc)
        anchors = self.store.load(ANCHORS_DOC)
        if isinstance(anchors, dict):
            try:
                self.client.timeline_builder.restore_state(anchors)
            except (KeyError, TypeError, ValueError) as exc:
                log.error("persisted event anchors unusable (%s)", exc)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.client.close()

    def set_listener(self, callback: Callable[[], None]) -> None:
        self._listener = callback

    def notify(self) -> None:
        """A webhook notification arrived: let the daemon fetch at once."""
        if self._listener is not None:
            self._listener()

    async def poll(self, now: datetime) -> SignalTimeline:
        try:
            if self.client.registration is None:
                registration = await self.client.register()
                self._save(REGISTRATION_DOC, registration.to_json())
            result = await self.client.poll_once()
        except Oadr3Error as exc:
            raise GridError(str(exc)) from exc
        if result.changed:
            self._save(ANCHORS_DOC, self.client.timeline_builder.export_state())
        return result.timeline

    async def report(
        self, now: datetime, device: DeviceView, overrides: tuple[OverrideRecord, ...]
    ) -> None:
        return None

    def health(self) -> GridHealth:
        reg = self.client.registration
        return GridHealth(
            url=self.client.settings.base_url, ven_id=None if reg is None else reg.ven_id
        )

    def _save(self, name: str, document: Any) -> None:
        try:
            self.store.save(name, document)
        except OSError as exc:
            log.error("cannot save %s: %s", name, exc)
