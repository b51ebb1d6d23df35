"""Where push notifications land, whatever carried them (webhook or MQTT, docs/openadr-client.md
"Push").

A :class:`NotificationSink` applies an EVENT notification to the
:class:`~ven_edge.oadr3.client.VtnClient` at once, so the new timeline is ready before the control
loop wakes, and wakes the :class:`~ven_edge.oadr3.link.VtnLink`. A notification that could not be
used leaves :attr:`NotificationSink.last` ``None``, which tells the link to poll at once instead
(the last good timeline stays in force meanwhile). Wakes coalesce (one :class:`asyncio.Event`), so
whether a re-read is owed is kept apart from :attr:`NotificationSink.last` until the link takes it
(:meth:`NotificationSink.take_reread`): an applied EVENT arriving after a changed program, or after
a reconnect, must not hide the poll those asked for.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ven_edge.oadr3.errors import PayloadError

if TYPE_CHECKING:
    from ven_edge.oadr3.client import VtnClient


@dataclass(frozen=True)
class Notification:
    """A VTN notification: ``operation`` is normalised to CREATE/READ/UPDATE/DELETE."""

    object_type: str
    operation: str
    object: Mapping[str, Any] = field(default_factory=dict)
    targets: tuple[str, ...] = ()


LOG = logging.getLogger(__name__)

NotificationCallback = Callable[[Notification], Awaitable[None] | None]


class NotificationSink:
    """Applies notifications and wakes whoever waits in :meth:`wait`."""

    def __init__(
        self,
        *,
        client: VtnClient | None = None,
        on_notification: NotificationCallback | None = None,
    ) -> None:
        self.client = client
        self.on_notification = on_notification
        self.notified = asyncio.Event()
        self.received = 0
        self.rejected = 0
        #: The last notification applied; ``None`` after one that could not be used.
        self.last: Notification | None = None
        self._reread = False

    def count_received(self, notification: Notification, via: str) -> None:
        self.received += 1
        LOG.info(
            "%s notification %s %s %s",
            via,
            notification.operation,
            notification.object_type,
            str(notification.object.get("id", "?"))[:128],
        )

    def _wake(self, notification: Notification | None) -> None:
        self.last = notification
        # Only EVENT notifications are applied here; anything else is re-read by polling.
        if notification is None or notification.object_type != "EVENT":
            self._reread = True
        self.notified.set()

    def take_reread(self) -> bool:
        """True once after any wake that asked for a REST re-read (an object other than an
        event, a notification that could not be used, a (re)connect), however many wakes
        followed it."""
        reread, self._reread = self._reread, False
        return reread

    async def dispatch(self, notification: Notification) -> None:
        """Apply an EVENT notification to the client, then wake the control loop.

        An event object that is rejected (logged by the event store with the bad field) keeps
        the last good timeline; the link then polls at once to re-read the event.
        """
        usable = True
        if self.client is not None and notification.object_type == "EVENT":
            try:
                self.client.apply_event_notification(notification.operation, notification.object)
            except PayloadError:
                usable = False
        self._wake(notification if usable else None)
        if self.on_notification is not None:
            result = self.on_notification(notification)
            if inspect.isawaitable(result):
                await result

    async def wait(self) -> None:
        """Wait for the next notification and clear the flag (wrap in ``asyncio.timeout``)."""
        await self.notified.wait()
        self.notified.clear()
