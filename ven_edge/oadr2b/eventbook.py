"""The VEN's 2.0b events and the signal timeline they make (sans-I/O, time passed in).

What the profile asks of a VEN, and where it is done here (digest §1.3–1.5):

* every distribute lists all events for the VEN: one missing from a new payload is implicitly
  cancelled (rule 61);
* a higher modificationNumber replaces the event (57), a lower one is refused with 450 (58), a
  cancelled one is confirmed with optIn and its end randomised within ``[0, startafter]``
  (59, 65), also when the VEN never knew it (60);
* ``startafter``: one random offset in ``[0, startafter]`` per event, kept across modifications
  unless startafter changes (30), and across restarts (:meth:`EventBook.export_state`);
* the received status is not trusted except "cancelled": the timeline comes from dtstart,
  duration and the offset (rule 114), so a "completed" sent while a randomised event still runs
  changes nothing (66); a duration of 0 is open-ended (47);
* one oadrCreatedEvent reply per event and modification, none for ``never`` (62); an event
  whose signals are all unsupported gets optOut 460 (109), one for another VEN 462 (48);
* a later customer override sends optOut for events in force (17), and optIn when it ends.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ven_edge.oadr2b.codes import ResponseCode
from ven_edge.oadr2b.events import (
    BadEvent,
    DistributeEvent,
    Event,
    EventSignal,
    EventStatus,
    Opt,
    ResponseRequired,
)
from ven_edge.oadr2b.replies import EventReply
from ven_edge.oadr2b.signalmap import Mapped, Unsupported, map_signal
from ven_edge.oadr3.timeline import FAR_FUTURE
from ven_edge.signals import SignalInterval, SignalTimeline

LOG = logging.getLogger(__name__)

#: Most events held (rule 50 sends all of them in each distribute; a water heater sees a few).
MAX_EVENTS = 64


@dataclass
class Held:
    """One event as the VEN holds it."""

    event: Event
    offset: timedelta
    mapped: tuple[tuple[EventSignal, Mapped], ...]  # the supported signals
    ended_at: datetime | None = None  # a (possibly implied) cancel's randomised end
    opt: Opt = Opt.OPT_IN
    replied_mod: int | None = None

    def start(self) -> datetime:
        return self.event.dtstart + self.offset

    def end(self) -> datetime:
        event_end = FAR_FUTURE if not self.event.duration else self.start() + self.event.duration
        return event_end if self.ended_at is None else min(event_end, self.ended_at)


@dataclass
class BookResult:
    replies: list[EventReply] = field(default_factory=list)
    changed: bool = False
    problems: list[str] = field(default_factory=list)


class EventBook:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.SystemRandom()
        self.held: dict[str, Held] = {}
        #: Offsets drawn before a restart: event id → (startafter seconds, offset seconds).
        self._offsets: dict[str, tuple[float, float]] = {}
        #: Events refused, by id: the modification answered, so a VTN that repeats a refused
        #: event in every distribute gets one reply and one warning per modification.
        self._refused: dict[str, int] = {}
        self.override = False

    # -- persistence ------------------------------------------------------------------------
    def export_state(self) -> dict[str, Any]:
        offsets = dict(self._offsets)
        for event_id, held in self.held.items():
            after = held.event.startafter or timedelta(0)
            offsets[event_id] = (after.total_seconds(), held.offset.total_seconds())
        return {"offsets": {k: list(v) for k, v in offsets.items()}}

    def restore_state(self, document: Mapping[str, Any]) -> None:
        raw = document.get("offsets")
        if not isinstance(raw, Mapping):
            return
        for event_id, pair in list(raw.items())[:MAX_EVENTS]:
            if (
                isinstance(event_id, str)
                and isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(v, int | float) for v in pair)
            ):
                self._offsets[event_id] = (float(pair[0]), float(pair[1]))

    # -- distribute --------------------------------------------------------------------------
    def apply(self, message: DistributeEvent, ven_id: str, now: datetime) -> BookResult:
        """Take a whole oadrDistributeEvent: the replies to send, whether the timeline changed."""
        result = BookResult()
        listed: set[str] = set()
        for bad in message.bad_events:
            self._refuse_bad(bad, message.request_id, result)
            if bad.event_id is not None:
                listed.add(bad.event_id)  # an unreadable revision is no implied cancel
        for event in message.events[:MAX_EVENTS]:
            listed.add(event.event_id)
            self._take(event, ven_id, message.request_id, now, result)
        for event_id, held in list(self.held.items()):
            if event_id not in listed and held.ended_at is None:
                LOG.info("event %s no longer listed: implied cancel (rule 61)", event_id)
                self._cancel(held, now)
                result.changed = True
        for event_id, held in list(self.held.items()):
            if held.end() <= now and event_id not in listed:
                del self.held[event_id]
                self._offsets.pop(event_id, None)
        return result

    def _refuse_bad(self, bad: BadEvent, request_id: str, result: BookResult) -> None:
        reason = f"event {bad.event_id!r} refused ({bad.code}): {bad.reason}"
        if bad.event_id is not None and not self._first_refusal(
            bad.event_id, bad.modification_number or 0
        ):
            return
        LOG.warning("%s; last good state kept", reason)
        result.problems.append(reason)
        if bad.event_id is None or bad.response_required is ResponseRequired.NEVER:
            return
        result.replies.append(
            EventReply(
                bad.event_id,
                bad.modification_number or 0,
                Opt.OPT_OUT,
                int(bad.code),
                bad.reason,
                request_id,
            )
        )

    def _first_refusal(self, event_id: str, modification: int) -> bool:
        """Remember a refusal; False when this modification was refused before."""
        if self._refused.get(event_id) == modification:
            return False
        self._refused[event_id] = modification
        while len(self._refused) > MAX_EVENTS:
            del self._refused[next(iter(self._refused))]
        return True

    def _take(
        self, event: Event, ven_id: str, request_id: str, now: datetime, result: BookResult
    ) -> None:
        known = self.held.get(event.event_id)

        def reply(opt: Opt, code: int = 200, description: str = "OK") -> None:
            if event.response_required is ResponseRequired.ALWAYS:
                result.replies.append(
                    EventReply(
                        event.event_id,
                        event.modification_number,
                        opt,
                        code,
                        description,
                        request_id,
                    )
                )

        refused_before = self._refused.get(event.event_id) == event.modification_number
        if not event.targets.includes_ven(ven_id):
            if self._first_refusal(event.event_id, event.modification_number):
                LOG.warning("event %s targets other VENs: optOut 462", event.event_id)
                reply(Opt.OPT_OUT, ResponseCode.TARGET_MISMATCH, "not targeted at this VEN")
            return
        if known is not None and event.modification_number < known.event.modification_number:
            if not self._first_refusal(event.event_id, event.modification_number):
                return
            LOG.warning(
                "event %s modification %d is below the known %d: optOut 450",
                event.event_id,
                event.modification_number,
                known.event.modification_number,
            )
            reply(Opt.OPT_OUT, ResponseCode.OUT_OF_SEQUENCE, "modification number went back")
            return
        same_revision = known is not None and (
            known.event.modification_number == event.modification_number
        )
        if event.status is EventStatus.CANCELLED:
            if known is not None and known.ended_at is None:
                LOG.info("event %s cancelled", event.event_id)
                known.event = event
                self._cancel(known, now)
                result.changed = True
            if known is None or known.replied_mod != event.modification_number:
                reply(Opt.OPT_IN)  # rule 36: optIn confirms a cancellation
                if known is not None:
                    known.replied_mod = event.modification_number
            return
        if same_revision and known is not None:
            known.event = event  # status and currentValue change without a new modification
            return
        if refused_before:
            return  # refused at this modification already: said and answered once
        mapped, unsupported = _map(event)
        for problem in unsupported:
            LOG.warning("event %s: %s; signal ignored", event.event_id, problem)
        if not mapped:
            self._first_refusal(event.event_id, event.modification_number)
            reason = "; ".join(unsupported) or "no signals"
            result.problems.append(f"event {event.event_id!r}: {reason}")
            reply(Opt.OPT_OUT, ResponseCode.SIGNAL_NOT_SUPPORTED, reason[:200])
            return  # a previous usable revision, if any, stays in force
        held = Held(event, self._offset_for(event, known), mapped)
        opt = Opt.OPT_OUT if self.override and held.start() <= now < held.end() else Opt.OPT_IN
        held.opt = opt
        held.replied_mod = event.modification_number
        self.held[event.event_id] = held
        result.changed = True
        if event.test_event:
            LOG.info("event %s is a test event: answered, not acted on", event.event_id)
        reply(opt, 200, "OK" if opt is Opt.OPT_IN else "customer override")

    def _offset_for(self, event: Event, known: Held | None) -> timedelta:
        after = event.startafter or timedelta(0)
        if known is not None and (known.event.startafter or timedelta(0)) == after:
            return known.offset
        saved = self._offsets.get(event.event_id)
        if saved is not None and saved[0] == after.total_seconds():
            return timedelta(seconds=saved[1])
        offset = self._draw(after)
        self._offsets[event.event_id] = (after.total_seconds(), offset.total_seconds())
        return offset

    def _draw(self, span: timedelta) -> timedelta:
        if span <= timedelta(0):
            return timedelta(0)
        return timedelta(seconds=self._rng.uniform(0.0, span.total_seconds()))

    def _cancel(self, held: Held, now: datetime) -> None:
        """Rule 65: the end of a cancelled event is randomised within ``[0, startafter]``."""
        held.ended_at = now + self._draw(held.event.startafter or timedelta(0))

    # -- the customer -----------------------------------------------------------------------
    def set_override(self, active: bool, now: datetime) -> list[EventReply]:
        """Opt out of the events in force when the customer overrides (rule 17); opt back in
        when the override ends. The replies to send (events asking for them only)."""
        if active == self.override:
            return []
        self.override = active
        wanted = Opt.OPT_OUT if active else Opt.OPT_IN
        replies: list[EventReply] = []
        for held in self.held.values():
            in_force = held.start() <= now < held.end() and held.ended_at is None
            if not in_force or held.opt is wanted:
                continue
            held.opt = wanted
            LOG.info(
                "event %s: %s (customer override %s)",
                held.event.event_id,
                wanted.value,
                "started" if active else "ended",
            )
            if held.event.response_required is ResponseRequired.ALWAYS:
                replies.append(
                    EventReply(
                        held.event.event_id,
                        held.event.modification_number,
                        wanted,
                        200,
                        "customer override" if active else "override ended",
                    )
                )
        return replies

    # -- the timeline -------------------------------------------------------------------------
    def timeline(self) -> SignalTimeline:
        intervals: list[SignalInterval] = []
        for held in self.held.values():
            if not held.event.test_event:
                intervals.extend(_intervals(held))
        return SignalTimeline(tuple(intervals))

    def event_ids(self) -> list[str]:
        return sorted(self.held)


def _map(event: Event) -> tuple[tuple[tuple[EventSignal, Mapped], ...], list[str]]:
    mapped: list[tuple[EventSignal, Mapped]] = []
    problems: list[str] = []
    for signal in event.signals:
        try:
            mapped.append((signal, map_signal(signal)))
        except Unsupported as exc:
            problems.append(str(exc))
    return tuple(mapped), problems


def _intervals(held: Held) -> list[SignalInterval]:
    event = held.event
    start, end = held.start(), held.end()
    priority = event.priority or None  # 2.0b priority 0 means "none" (rule 3)
    out: list[SignalInterval] = []
    for signal, mapped in held.mapped:
        t = start
        for index, (interval, value) in enumerate(
            zip(signal.intervals, mapped.values, strict=True)
        ):
            last = index == len(signal.intervals) - 1
            # Open-ended events keep their last interval in force until cancelled (rule 47).
            stop = end if last and not event.duration else min(end, t + interval.duration)
            if stop > t:
                out.append(
                    SignalInterval(
                        t,
                        stop,
                        mapped.kind,
                        (value,),
                        priority,
                        event.event_id,
                        event.market_context,
                        f"{signal.signal_name} ({event.event_id})",
                        mapped.unit,
                    )
                )
            t = t + interval.duration
            if t >= end:
                break
    return out
