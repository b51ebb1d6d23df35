"""Keeps the gateway connected to a 2.0b VTN: register, poll, answer, deliver reports.

:class:`Oadr2bLink` drives the sans-I/O :class:`~ven_edge.oadr2b.engine.VenEngine` over a
:class:`~ven_edge.oadr2b.vtnhttp.VtnTransport`. Each cycle registers when needed, delivers the
polls, polls again at once while the VTN has more to say, then delivers the outbox (reports,
opt replies).
Failures back off with full jitter, a VTN that does not answer is retried at least once per
poll period; the last good timeline stays in force meanwhile and the planner keeps planning on
it. Nothing that goes wrong in one cycle ends the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from ven_edge.errorlog import ErrorOnce
from ven_edge.oadr2b.build import to_bytes
from ven_edge.oadr2b.engine import Outgoing, Reaction, VenEngine
from ven_edge.oadr2b.errors import MessageError
from ven_edge.oadr2b.outbox import MessageOutbox
from ven_edge.oadr2b.reports import Sample
from ven_edge.oadr2b.vtnhttp import ExchangeError, VtnTransport
from ven_edge.oadr2b.xmlsafe import parse_xml
from ven_edge.oadr3.backoff import Backoff, CycleRetry
from ven_edge.redact import redact_text
from ven_edge.signals import SignalTimeline
from ven_edge.store import StateStore

LOG = logging.getLogger(__name__)

STATE_DOCUMENT: Final = "oadr2b_link"
OUTBOX_DOCUMENT: Final = "oadr2b_outbox"
#: Polls in a row while the VTN keeps answering with something (a queue being emptied); more
#: would let a misbehaving VTN keep the gateway busy for ever.
MAX_DRAIN_POLLS: Final = 20
#: Messages delivered from the outbox per cycle (the rest go next cycle).
MAX_FLUSH: Final = 50
#: Tries of a queued message the VTN answers with an error before it is dropped.
MAX_ATTEMPTS: Final = 3


@dataclass
class LinkHealth:
    connected: bool = False
    last_success: datetime | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    polls: int = 0


class Oadr2bLink:
    def __init__(
        self,
        engine: VenEngine,
        transport: VtnTransport,
        *,
        on_timeline: Callable[[SignalTimeline], None] | None = None,
        store: StateStore | None = None,
        poll_s: float = 30.0,
        backoff: Backoff | None = None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.on_timeline = on_timeline
        self.store = store
        self.default_poll_s = poll_s
        self.backoff = backoff or Backoff(1.0, 300.0)
        self.outbox = MessageOutbox(store, OUTBOX_DOCUMENT)
        self.health = LinkHealth()
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._crashes = ErrorOnce(LOG, repeats=logging.DEBUG)
        self._retry = CycleRetry(self.backoff, LOG, "2.0b VTN cycle")
        self._wake = asyncio.Event()
        self._attempts = 0  # failed tries of the outbox's oldest message
        if store is not None:
            document = store.load(STATE_DOCUMENT, default={})
            if isinstance(document, dict):
                engine.restore_state(document, wall_clock())

    @property
    def poll_s(self) -> float:
        """The VTN's requested poll period (oadrRequestedOadrPollFreq), else the configured one."""
        period = self.engine.poll_period
        return self.default_poll_s if period is None else period.total_seconds()

    def _persist(self) -> None:
        if self.store is not None:
            self.store.save_soon(STATE_DOCUMENT, self.engine.export_state())

    # -- sending -------------------------------------------------------------------------------
    async def _exchange(self, out: Outgoing) -> Reaction:
        answer = await self.transport.post(out.service, out.payload)
        if answer is None:
            return Reaction()
        reaction = self.engine.handle(answer, self._wall_clock())
        await self._react(reaction, depth=0)
        return reaction

    async def _react(self, reaction: Reaction, depth: int) -> None:
        if reaction.problems:
            # Shown on the status page with the VTN's health; the engine logged each one.
            self.health.last_error = redact_text(reaction.problems[-1])
        if reaction.timeline_changed or reaction.reports_changed:
            # Saved at once, not at the end of the cycle: an outage may end the cycle early.
            self._persist()
        if reaction.timeline_changed:
            self._notify()
        for out in reaction.outgoing:
            if depth >= 3:
                LOG.warning("reply chain too long; %s not sent", out.what)
                break
            answer = await self.transport.post(out.service, out.payload)
            if answer is None:
                continue
            nested = self.engine.handle(answer, self._wall_clock())
            await self._react(nested, depth + 1)
            reaction.reregister |= nested.reregister
        if reaction.reregister:
            self.engine.forget_registration()
            self._persist()

    def queue(self, messages: list[Outgoing]) -> None:
        """Keep messages for the VTN on disk; delivered by the next cycle (or at once)."""
        for out in messages:
            self.outbox.add(out.service, to_bytes(out.payload))
        if messages:
            self._wake.set()

    async def _flush(self) -> None:
        """Deliver queued messages, oldest first (after a successful poll). A VTN that cannot
        be reached keeps them for the next cycle; one that answers but refuses or fails a
        message (an HTTP error, a bad answer) has it tried :data:`MAX_ATTEMPTS` times, then it
        is dropped with the reason, so one message the VTN cannot take blocks no other."""
        for _ in range(MAX_FLUSH):
            item = self.outbox.peek()
            if item is None:
                return
            service, body = item
            try:
                payload = parse_xml(body)
            except ValueError:
                self.outbox.pop()  # our own message, unreadable: cannot be sent
                continue
            try:
                answer = await self.transport.post(service, payload)
            except ExchangeError as exc:
                if not exc.answered:
                    return  # not reached: kept for the next cycle
                self._attempts += 1
                if self._attempts < MAX_ATTEMPTS:
                    return
                LOG.warning("queued message for %s dropped after %d attempts: %s",
                            service, self._attempts, exc)  # fmt: skip
                self._attempts = 0
                self.outbox.pop()
                continue
            self._attempts = 0
            self.outbox.pop()
            if answer is None:
                continue
            reaction = self.engine.handle(answer, self._wall_clock())
            await self._react(reaction, depth=1)

    # -- one cycle -----------------------------------------------------------------------------
    async def _register(self) -> None:
        engine = self.engine
        await self._take_registration(engine.query_registration(), final=False)
        await self._take_registration(engine.create_registration(), final=True)
        self._persist()
        for out in engine.after_registration(self._wall_clock()):
            await self._exchange(out)

    async def _take_registration(self, out: Outgoing, *, final: bool) -> None:
        answer = await self.transport.post(out.service, out.payload)
        if answer is None:
            raise ExchangeError("registration: empty answer", vtn_down=False)
        try:
            self.engine.take_registration(answer, final=final)
        except MessageError as exc:
            raise ExchangeError(f"registration: {exc}", vtn_down=False) from None

    async def cycle(self) -> None:
        if self.engine.registration is None:
            await self._register()
        for _ in range(MAX_DRAIN_POLLS):
            if self.engine.registration is None:
                break
            reaction = await self._exchange(self.engine.poll())
            self.health.polls += 1
            if not reaction.substantive:
                break
        # After the poll: a VTN that just answered it and fails one queued message fails that
        # message, not the whole link (a VTN that is down failed the poll already).
        await self._flush()
        self._persist()

    def _notify(self) -> None:
        if self.on_timeline is not None:
            self.on_timeline(self.engine.timeline())

    # -- the loop ------------------------------------------------------------------------------
    async def run(self) -> None:
        """Cycle until cancelled."""
        self._notify()  # offsets restored: whatever is known is in force from the start
        while True:
            delay = await self._cycle_or_backoff()
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    async def _cycle_or_backoff(self) -> float:
        try:
            await self.cycle()
        except ExchangeError as exc:
            return self._failed(str(exc), vtn_down=exc.vtn_down)
        except Exception as exc:
            reason = self._crashes.log(exc, "2.0b cycle crashed (%s); last good state kept")
            return self._failed(reason, vtn_down=False)
        self._retry.succeeded(self.health, self._wall_clock())
        return self.poll_s

    def _failed(self, reason: str, *, vtn_down: bool) -> float:
        return self._retry.failed(self.health, reason, vtn_down=vtn_down, poll_s=self.poll_s)

    # -- the device ------------------------------------------------------------------------------
    def device_update(self, sample: Sample, override: bool) -> None:
        """The heater's state: opt replies on an override change, reports due now."""
        now = self._wall_clock()
        messages = self.engine.override(override, now)
        messages += self.engine.due_reports(now, sample)
        self.queue(messages)
