"""The events a 2.0b VEN is sent, from the shared store (docs/vtn-lite-2.0b.md "Mapping").

Each stored 3.1 event the VEN may see (3.x object privacy) is mapped once per version and
recipient shape (:func:`vtn_lite.oadr2b.mapping.to_2b_event`), then only brought to the time of
the poll; its modificationNumber comes from the store, so every process numbers versions alike.
A deleted event is kept as a cancellation until it would have ended.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from pydantic import ValidationError

from ven_edge.oadr2b.events import Event, EventStatus, Targets
from ven_edge.oadr3.timefmt import TimeFormatError, parse_datetime
from vtn_lite.console.directory import ven_of_target
from vtn_lite.oadr2b.mapping import Unmapped, at_time, next_change, to_2b_event, utc_now
from vtn_lite.oadr2b.registry import client_id_of
from vtn_lite.service import Vtn, event_ends_at
from vtn_lite.storage import Oadr2bRegistration, Query, StoredObject
from vtn_lite.wire import models

log = logging.getLogger(__name__)

#: How long a deleted event is still sent as cancelled when its end is unknown (open-ended).
CANCEL_KEPT: Final = timedelta(days=1)
#: How often the cancellations still sent are read from the store (other processes' too).
CANCELLED_REREAD_S: Final = 1.0
#: Mapped event versions kept (a few per event and recipient shape).
MAX_MAPPED: Final = 50_000
#: Longest a VEN's event list is kept without a write (cancellations expire on their own).
VIEW_KEPT_S: Final = 60.0
#: VENs whose event lists are kept.
MAX_VIEWS: Final = 100_000
_ALL: Final = 10**6
_NEVER: Final = float("inf")


class EventFeed:
    def __init__(self, vtn: Vtn, *, clock: Callable[[], float]) -> None:
        self.vtn = vtn
        self.store = vtn.store
        self._clock = clock
        self._modifications: dict[str, tuple[str, int]] = {}
        self._unmapped: set[tuple[str, str]] = set()
        # Mapped events by version and recipient shape: a steady poll maps nothing again.
        self._mapped: dict[tuple[str, str, int, Targets, bool], Event | None] = {}
        self._cancelled: tuple[float, list[tuple[str, int, str]]] | None = None
        self._generation = 0
        self._views: dict[str, tuple[Hashable, float, list[Event]]] = {}
        vtn.listeners.append(self.on_change)

    async def events_for(self, registration: Oadr2bRegistration) -> list[Event]:
        """Every far, near and active event for the VEN (rule 50), cancellations still due
        (rules 5, 66), active first, then by priority, then by start (rule 15).

        A VEN's list is kept until a write (this process's, or another's: the store's data
        version) or the next moment one of its events changes status or interval; a steady
        poll then costs no search."""
        now_s = self._clock()
        granted = await self.vtn.granted_targets(client_id_of(registration.ven_name)) or ()
        key = (
            registration.ven_id,
            granted,
            self._generation,
            await self.store.data_version(),
        )
        kept = self._views.get(registration.ven_name)
        if kept is not None and kept[0] == key and now_s < kept[1]:
            return kept[2]
        events = await self._events_for(registration, granted, now_s)
        until = min(
            [now_s + VIEW_KEPT_S, *(next_change(e, utc_now(now_s)) or _NEVER for e in events)]
        )
        if len(self._views) >= MAX_VIEWS:
            self._views.clear()
        self._views[registration.ven_name] = (key, until, events)
        return events

    async def _events_for(
        self, registration: Oadr2bRegistration, granted: tuple[str, ...], now_s: float
    ) -> list[Event]:
        now = utc_now(now_s)
        rows = await self.store.search(
            Query(kind="EVENT", visible_targets=granted, active_at=now_s, limit=_ALL)
        )
        events: list[Event] = []
        for stored in rows:
            body = stored.body
            number = await self._modification(stored.id, body)
            mapped = await self._map(body, registration, granted, number, now)
            if mapped is not None and mapped.status is not EventStatus.COMPLETED:
                events.append(mapped)
        for event_id, number, body_text in await self._cancellations(now_s):
            body = StoredObject(0, event_id, "EVENT", body_text, None, None, None, None).body
            targets = tuple(body.get("targets") or ())
            if targets and not set(targets) & set(granted):
                continue
            mapped = await self._map(body, registration, granted, number, now, cancelled=True)
            if mapped is not None:
                events.append(mapped)
        events.sort(
            key=lambda e: (
                e.status is not EventStatus.ACTIVE,
                e.priority == 0,
                e.priority,
                e.dtstart,
            )
        )
        return events

    async def _map(
        self,
        body: dict[str, Any],
        registration: Oadr2bRegistration,
        granted: tuple[str, ...],
        number: int,
        now: datetime,
        *,
        cancelled: bool = False,
    ) -> Event | None:
        key = (
            str(body.get("id", "")),
            str(body.get("modificationDateTime", "")),
            number,
            _targets(body, registration, granted),
            cancelled,
        )
        if key in self._mapped:
            known = self._mapped[key]
            return at_time(known, now) if known is not None else None
        if len(self._mapped) >= MAX_MAPPED:
            self._mapped.clear()
        mapped = await self._map_anew(body, key[3], number, now, cancelled=cancelled)
        self._mapped[key] = mapped
        return mapped

    async def _map_anew(
        self, body: dict[str, Any], targets: Targets, number: int, now: datetime, *, cancelled: bool
    ) -> Event | None:
        program = await self.store.get("PROGRAM", str(body.get("programID", "")))
        program_body = program.body if program is not None else {}
        name = str(program_body.get("programName") or body.get("programID") or "unknown")
        mapped = to_2b_event(
            body,
            modification=number,
            now=now,
            targets=targets,
            market_context=f"oadr://vtn-lite/{quote(name, safe='')}",
            program_descriptors=[
                d for d in program_body.get("payloadDescriptors") or () if isinstance(d, dict)
            ],
            cancelled=cancelled,
        )
        if isinstance(mapped, Unmapped):
            key = (mapped.event_id, str(body.get("modificationDateTime")))
            if key not in self._unmapped:
                self._unmapped.add(key)
                log.warning("event %s is not sent to 2.0b VENs: %s", mapped.event_id, mapped.reason)
            return None
        return mapped

    async def _modification(self, event_id: str, body: dict[str, Any]) -> int:
        stamp = str(body.get("modificationDateTime", ""))
        known = self._modifications.get(event_id)
        if known is not None and known[0] == stamp:
            return known[1]
        number = await self.store.oadr2b_modification(event_id, stamp)
        self._modifications[event_id] = (stamp, number)
        return number

    async def _cancellations(self, now: float) -> list[tuple[str, int, str]]:
        """The cancellations still sent, read again (and the expired ones dropped) at most
        once a second, or at once after this process cancelled an event."""
        if self._cancelled is None or now - self._cancelled[0] >= CANCELLED_REREAD_S:
            self._cancelled = (now, await self.store.oadr2b_cancelled(now))
        return self._cancelled[1]

    async def on_change(self, operation: str, stored: StoredObject) -> None:
        """A deleted event is sent as cancelled, one modification later (rule 5), until it
        would have ended plus its randomisation (rule 66)."""
        if stored.kind in ("PROGRAM", "EVENT", "VEN", "RESOURCE"):
            self._generation += 1  # every VEN's kept list may be out of date
        if stored.kind == "PROGRAM":
            self._mapped.clear()  # its name and descriptors are in the mapped events
        if stored.kind != "EVENT" or operation != "DELETE":
            return
        now = self._clock()
        body = stored.body
        try:
            request = models.EventRequest.model_validate(body)
            written = parse_datetime(body["modificationDateTime"])
        except (ValidationError, TimeFormatError, KeyError):
            return  # not a body this VTN wrote: nothing was sent from it either
        end = event_ends_at(request, written)  # its end plus its randomisation
        keep = end if end is not None else now + CANCEL_KEPT.total_seconds()
        if keep <= now:
            return  # over already: nobody needs to hear it was cancelled
        self._modifications.pop(stored.id, None)
        await self.store.oadr2b_cancel(stored.id, stored.body_text, keep)
        self._cancelled = None

    async def current_number(self, event_id: str) -> int | None:
        stored = await self.store.get("EVENT", event_id)
        if stored is not None:
            return await self._modification(stored.id, stored.body)
        for cancelled_id, number, _ in await self._cancellations(self._clock()):
            if cancelled_id == event_id:
                return number
        return None


def _targets(
    body: dict[str, Any], registration: Oadr2bRegistration, granted: tuple[str, ...]
) -> Targets:
    """The event's targets as this VEN sees them: venID for a per-VEN target, groupID for a
    group it belongs to, nothing for an untargeted event ("the recipient", rule 22)."""
    matched = [t for t in body.get("targets") or () if t in granted]
    ven_ids = tuple(
        registration.ven_id or "" for t in matched if ven_of_target(t) == registration.ven_id
    )[:1]  # one venID at most (rule 63)
    groups = tuple(t for t in matched if ven_of_target(t) is None)
    return Targets(ven_ids=ven_ids, group_ids=groups)
