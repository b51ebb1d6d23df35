"""The asyncio shell around :class:`~ven_edge.cta2045.link.LinkEngine`.

:class:`LinkDriver` is an :class:`asyncio.Protocol`: plug it into any transport that delivers
bytes (pyserial-asyncio for a serial port, see :mod:`ven_edge.cta2045.transport`, or a pty master
in the simulator). It feeds received bytes and the loop's clock to the engine, writes what the
engine transmits, and keeps one loop timer armed at the engine's next deadline, so no task polls.

Requests follow zigpy-znp's pattern: the future is registered before the bytes are written, one
request is in flight at a time, and the future is always resolved, by the reply, by a link failure
or by the port closing. Waiting requests are served by priority, then in order: a DR command
(``urgent=True``) waits at most for the transaction already on the wire, never behind queued
reads, since a read can take up to 4 tries of 3 s (docs/cta2045.md §5, §13 row 9).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable

from ven_edge.cta2045.frames import Frame, MessageType
from ven_edge.cta2045.link import (
    Failure,
    FrameReceived,
    LinkCounters,
    LinkEngine,
    LinkEvent,
    LinkTimers,
    ReplyMatcher,
    RequestDone,
    SendFailed,
    Transmit,
)

log = logging.getLogger(__name__)

#: A sleep may end this much before its time (the loop's clock resolution, with margin).
_EARLY_S = 1e-6
#: Bound on the waits for the transport's write buffer in :meth:`LinkDriver.drain`.
_DRAIN_POLLS = 100

FrameHandler = Callable[[Frame], None]
LostHandler = Callable[[Exception | None], None]


class PriorityGate:
    """One holder at a time; waiters are served urgent first, then first come, first served."""

    def __init__(self) -> None:
        self._held = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def urgent_waiting(self) -> bool:
        return any(p == 0 and not f.done() for p, _, f in self._waiters)

    def ticket(self) -> int:
        """A place in the order; pass it to :meth:`acquire` again to keep the place."""
        return next(self._order)

    async def acquire(self, *, urgent: bool = False, ticket: int | None = None) -> None:
        if not self._held and not self._waiters:
            self._held = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        order = self.ticket() if ticket is None else ticket
        heapq.heappush(self._waiters, (0 if urgent else 1, order, future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # granted just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            *_, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)  # the gate stays held, now by this waiter
                return
        self._held = False


class LinkDriver(asyncio.Protocol):
    """One side of a CTA-2045 link over an asyncio transport."""

    def __init__(
        self,
        timers: LinkTimers | None = None,
        *,
        supported_types: frozenset[int] = frozenset(MessageType),
        on_frame: FrameHandler | None = None,
        on_lost: LostHandler | None = None,
    ) -> None:
        self.engine = LinkEngine(timers, supported_types=supported_types)
        self.on_frame = on_frame
        self.on_lost = on_lost
        self._transport: asyncio.BaseTransport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._futures: dict[int, asyncio.Future[RequestDone]] = {}
        self._gate = PriorityGate()
        self._opened = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._changed = asyncio.Event()  # set after every batch of engine events

    @property
    def counters(self) -> LinkCounters:
        return self.engine.counters

    @property
    def connected(self) -> bool:
        return self._transport is not None

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._opened.set()

    def data_received(self, data: bytes) -> None:
        self._dispatch(self.engine.receive(data, self._now()))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._idle.set()
        self._cancel_timer()
        self._dispatch(self.engine.close())
        if self.on_lost is not None:
            self.on_lost(exc)

    # --- API -------------------------------------------------------------------------------

    async def request(
        self,
        frame: Frame,
        *,
        matcher: ReplyMatcher | None = None,
        idempotent: bool = True,
        urgent: bool = False,
    ) -> RequestDone:
        """Send ``frame`` and wait for its application reply (or only its ACK without matcher).

        An ``urgent`` request goes before every waiting non-urgent one (module docstring). A
        non-urgent one waits for the line to be free (owed ACKs out, the quiet time over) before
        its frame is handed to the engine, and gives way to an urgent request that came
        meanwhile, keeping its own place: so a command waits only for a transaction already on
        the wire, not for a read still waiting out the quiet time.
        """
        ticket = self._gate.ticket()
        while True:
            await self._gate.acquire(urgent=urgent, ticket=ticket)
            if urgent:
                break
            try:
                await self._line_free()
            except BaseException:
                self._gate.release()
                raise
            if self._transport is None or not self._gate.urgent_waiting:
                break
            self._gate.release()
        try:
            if self._transport is None:
                return RequestDone(0, failure=Failure.CLOSED, attempts=0)
            loop = asyncio.get_running_loop()
            future: asyncio.Future[RequestDone] = loop.create_future()
            request_id, events = self.engine.request(
                frame, self._now(), matcher=matcher, idempotent=idempotent
            )
            self._futures[request_id] = future
            try:
                self._dispatch(events)
                return await future
            finally:
                self._futures.pop(request_id, None)
        finally:
            self._gate.release()

    async def _line_free(self) -> None:
        """Wait until a frame of ours could go on the wire now (or the port is gone)."""
        while self._transport is not None:
            at = self.engine.free_at()
            now = self._now()
            if at is not None and at <= now + _EARLY_S:
                return  # the engine holds the frame for what is left, if anything
            if at is None:  # something of ours is owed or in flight: wait for the engine
                self._changed.clear()
                await self._changed.wait()
            else:  # only the quiet time is left; new traffic can only move it later
                await asyncio.sleep(at - now)

    async def drain(self) -> None:
        """Wait until nothing is owed or awaited (our last link ACK included) and written out.

        Closing the port before the ACK of the last reply has left makes the peer send that
        reply again (docs/cta2045.md §4, §5). Wrap in ``asyncio.timeout``.
        """
        while self._transport is not None and not self.engine.idle:
            self._idle.clear()
            await self._idle.wait()
        # The transport keeps what the port did not take yet; give it the bytes' wire time.
        transport = self._transport
        if isinstance(transport, asyncio.WriteTransport):
            for _ in range(_DRAIN_POLLS):
                pending = transport.get_write_buffer_size()
                if not pending:
                    break
                await asyncio.sleep(max(pending * self.engine.timers.byte_time, 0.001))

    def reply(self, frame: Frame) -> None:
        """Answer the frame just received (sent tAR after our link ACK of it)."""
        self._dispatch(self.engine.reply(frame, self._now()))

    def send(self, frame: Frame) -> None:
        """Send a frame that only needs a link ACK."""
        self._dispatch(self.engine.send(frame, self._now()))

    def write_raw(self, data: bytes) -> None:
        """Write bytes outside the protocol (fault injection)."""
        self._dispatch(self.engine.send_raw(data))

    def close(self) -> None:
        """Close the transport; the outstanding request, if any, fails with ``CLOSED``."""
        transport = self._transport
        if transport is not None:
            transport.close()

    async def wait_open(self) -> None:
        """Wait for ``connection_made`` (pyserial-asyncio calls it on the next loop turn)."""
        await self._opened.wait()

    # --- internals -------------------------------------------------------------------------

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self, deadline: float) -> None:
        self._timer = None
        # asyncio runs a timer up to its clock resolution early; the engine must see the time
        # it asked for, or it finds nothing due and asks again for the same instant forever.
        self._dispatch(self.engine.poll(max(self._now(), deadline)))

    def _dispatch(self, events: list[LinkEvent]) -> None:
        for event in events:
            if isinstance(event, Transmit):
                self._write(event.data)
            elif isinstance(event, RequestDone):
                future = self._futures.get(event.request_id)
                if future is not None and not future.done():
                    future.set_result(event)
            elif isinstance(event, FrameReceived):
                if self.on_frame is not None:
                    self.on_frame(event.frame)
            elif isinstance(event, SendFailed):
                log.warning(
                    "cta2045 frame %s not acknowledged: %s",
                    event.frame.serialize().hex(" "),
                    event.failure.value,
                )
            else:
                log.debug("cta2045 link %s: %s", event.kind, event.detail)
        if self.engine.idle:
            self._idle.set()
        self._changed.set()
        self._arm_timer()

    def _write(self, data: bytes) -> None:
        transport = self._transport
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(data)
        elif transport is not None:
            raise TypeError(f"{type(transport).__name__} cannot write")

    def _arm_timer(self) -> None:
        self._cancel_timer()
        if self._transport is None:
            return
        deadline = self.engine.next_deadline()
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._on_timer, deadline)
