"""The VEN's event state: the one owner of the VTN's events and of the timeline built from them.

Polls and push notifications both change the events, and both go through :class:`EventStore`,
whose methods are synchronous: on the event loop they never interleave. A poll fetches its
snapshot first and applies it later, so a push may land in between; :attr:`EventStore.pushes`
counts the pushes applied, the client fetches again when one arrived during its fetch, and any
push still newer than the snapshot it finally applies is replayed on top of it. A push is thus
never wiped by an older poll: polling is the backstop for lost notifications (quirks 13-14 of
docs/openadr3.md §10.1), not a way to undo the ones that arrived.

An event is admitted only when it parses (:func:`~ven_edge.oadr3.eventparse.parse_event`) and
can be placed on the timeline. Otherwise that event alone is rejected: logged once per event id
and version with the path of the bad field, and its last good version, if any, kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ven_edge.oadr3.errors import PayloadError
from ven_edge.oadr3.eventparse import Event, parse_event
from ven_edge.oadr3.operations import operation_name
from ven_edge.oadr3.timeline import TimelineBuilder
from ven_edge.signals import SignalTimeline

LOG = logging.getLogger(__name__)

#: Pushes remembered for replay over a poll that started before them; a poll trims what it has
#: seen, so only a flood of pushes during one poll reaches this bound (the oldest are dropped).
MAX_JOURNAL = 1000


@dataclass(frozen=True)
class PollResult:
    """What one poll (or one applied notification) changed."""

    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    programs_changed: bool = False
    errors: tuple[PayloadError, ...] = ()
    timeline: SignalTimeline = field(default_factory=SignalTimeline)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.modified or self.removed or self.programs_changed)


@dataclass(frozen=True)
class _Push:
    sequence: int
    event_id: str
    event: Event | None  # None: deleted


class EventStore:
    """The last good events and their timeline; polls and pushes both apply here."""

    def __init__(
        self,
        builder: TimelineBuilder,
        wall_clock: Callable[[], datetime],
        version: str = "3.1.0",
    ) -> None:
        self.builder = builder
        self.version = version
        self._wall_clock = wall_clock
        self._events: dict[str, Event] = {}
        self._timeline = SignalTimeline()
        self._rejected: dict[str, tuple[str | None, str]] = {}  # key -> (version, text) logged
        self._journal: list[_Push] = []
        #: How many pushes have been applied; a poll compares it before and after its fetch.
        self.pushes = 0

    @property
    def events(self) -> Mapping[str, Event]:
        return dict(self._events)

    @property
    def timeline(self) -> SignalTimeline:
        return self._timeline

    # -- admission -------------------------------------------------------------------------
    def admit(self, raw: object) -> Event:
        """Parse ``raw`` and check it can be placed on the timeline; raises PayloadError."""
        event = parse_event(raw, version=self.version)
        if self._events.get(event.id) != event:  # an unchanged event was checked already
            self.builder.checked_intervals(event, self._wall_clock())
        return event

    def _reject(self, key: str, raw: object, exc: PayloadError) -> PayloadError:
        version: str | None = None
        if isinstance(raw, Mapping):
            stamp = raw.get("modificationDateTime")
            version = stamp[:64] if isinstance(stamp, str) else None
        text = f"{exc.where or '<root>'}: {exc.reason}"
        if self._rejected.get(key) != (version, text):
            self._rejected[key] = (version, text)
            kept = "last good version kept" if key in self._events else "not used"
            LOG.error("event %r rejected: %s (%s)", key, text, kept)
        return exc

    # -- polls -----------------------------------------------------------------------------
    def apply_poll(
        self,
        events_raw: Sequence[Any],
        wanted_programs: set[str] | None,
        *,
        programs_changed: bool = False,
        pushes_before: int | None = None,
    ) -> PollResult:
        """Replace the events by a poll's snapshot; pushes applied after ``pushes_before`` (the
        value of :attr:`pushes` when the fetch started) are replayed on top of it."""
        incoming: dict[str, Event] = {}
        errors: list[PayloadError] = []
        listed: set[str] = set()
        for index, raw in enumerate(events_raw):
            ident = raw.get("id") if isinstance(raw, Mapping) else None
            key = ident if isinstance(ident, str) else f"#{index}"
            listed.add(key)
            try:
                event = self.admit(raw)
            except PayloadError as exc:
                errors.append(self._reject(key, raw, exc))
                if key in self._events:
                    incoming[key] = self._events[key]  # keep the last good version
                continue
            self._rejected.pop(key, None)
            if wanted_programs is None or event.program_id in wanted_programs:
                incoming[event.id] = event
        # Forget rejections of events no longer listed, so the table cannot grow without bound.
        self._rejected = {k: v for k, v in self._rejected.items() if k in listed}
        if pushes_before is not None:
            for push in self._journal:
                if push.sequence > pushes_before:
                    LOG.info("event %r: a push newer than this poll is kept", push.event_id)
                    _apply(incoming, push)
        self._journal.clear()
        return self._replace(incoming, programs_changed, tuple(errors))

    # -- pushes ----------------------------------------------------------------------------
    def apply_push(
        self, operation: str, obj: Mapping[str, Any], wanted_programs: set[str] | None
    ) -> PollResult:
        """Apply a pushed EVENT notification; a malformed object raises PayloadError and
        changes nothing."""
        op = operation_name(operation)  # quirk 6: 3.0.1 spells operations as HTTP verbs
        ident = obj.get("id")
        if op == "DELETE":
            if not isinstance(ident, str):
                raise PayloadError("object.id", "DELETE notification without an event id")
            push = _Push(self.pushes + 1, ident, None)
        elif op in ("CREATE", "UPDATE"):
            key = ident if isinstance(ident, str) else "<pushed>"
            try:
                event = self.admit(obj)
            except PayloadError as exc:
                raise self._reject(key, obj, exc) from None
            self._rejected.pop(event.id, None)
            if wanted_programs is not None and event.program_id not in wanted_programs:
                return PollResult(timeline=self._timeline)
            push = _Push(self.pushes + 1, event.id, event)
        else:
            return PollResult(timeline=self._timeline)
        self.pushes = push.sequence
        self._journal = [*self._journal[-(MAX_JOURNAL - 1) :], push]
        incoming = dict(self._events)
        _apply(incoming, push)
        return self._replace(incoming)

    # -- timeline --------------------------------------------------------------------------
    def rebuild(self) -> SignalTimeline:
        """Recompute the timeline from the last good events (e.g. after a clock jump)."""
        self._timeline = self.builder.build(self._events.values(), self._wall_clock())
        return self._timeline

    def _replace(
        self,
        incoming: Mapping[str, Event],
        programs_changed: bool = False,
        errors: tuple[PayloadError, ...] = (),
    ) -> PollResult:
        old = self._events
        added = tuple(sorted(set(incoming) - set(old)))
        removed = tuple(sorted(set(old) - set(incoming)))
        modified = tuple(
            sorted(i for i in set(incoming) & set(old) if incoming[i].revision != old[i].revision)
        )
        self._events = dict(incoming)
        self.rebuild()
        for ident in removed:
            LOG.info("event %s is gone (cancelled or ended)", ident)
        return PollResult(added, modified, removed, programs_changed, errors, self._timeline)


def _apply(events: dict[str, Event], push: _Push) -> None:
    if push.event is None:
        events.pop(push.event_id, None)
    else:
        events[push.event_id] = push.event
