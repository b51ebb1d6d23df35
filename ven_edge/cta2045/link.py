"""Sans-I/O CTA-2045 link engine, shared by the UCM side and the simulated heater (SGD) side.

Bytes and the time go in; :class:`Transmit` (bytes to write now), received frames and request
outcomes come out, and :meth:`LinkEngine.next_deadline` says when :meth:`LinkEngine.poll` must
run next. The engine never sleeps and never reads a clock, so tests drive it with a fake clock and
check every timer exactly. :mod:`ven_edge.cta2045.driver` is the thin asyncio shell around it.

Rules implemented (docs/cta2045.md §4, §5, §13 rows 8-9, §16.1):

* Every valid data frame is link-ACKed ``06 00``; a frame with wrong check bytes is NAKed 0x03,
  a partial frame abandoned after :attr:`LinkTimers.frame_timeout` is NAKed 0x05, a frame of an
  unsupported message type is NAKed 0x06, and a Basic DR or data-link frame whose length is
  neither 0 (type query) nor 2 is NAKed 0x02. ACKs and NAKs are never acknowledged.
* Our ACK/NAK goes out :attr:`LinkTimers.ack_delay` (tMA, 40 ms) after the frame ended, well
  inside the peer's 200 ms wait. Our application reply to a received frame goes out no sooner
  than :attr:`LinkTimers.reply_delay` (tAR, 100 ms) after our ACK of it.
* One data frame at a time waits for its link ACK; one *request* at a time waits for its
  application reply. Frames from the peer (its requests, unsolicited state, its replies to us)
  are handled whatever we are waiting for, and our replies to the peer may go out while our own
  request waits for its reply.
* The line is half duplex (RS-485, docs/cta2045.md §1), so the engine never starts a message over
  another: a link ACK/NAK we owe goes out before any frame of ours (our ACK of the peer's reply
  comes before our next request), nothing starts while the peer is in the middle of a frame, and
  a data frame starts only :attr:`LinkTimers.quiet_time` (tIM, 100 ms, §5) after the last byte
  of the previous message on the line, ours or the peer's (our own end is the write time plus
  :attr:`LinkTimers.write_latency` plus :attr:`LinkTimers.byte_time` per byte). An ACK due while
  the peer is mid-frame waits for the end of that frame; a partial frame whose last byte came an
  idle gap ago (20 ms) is not the peer talking any more.
* A frame not ACKed within :attr:`LinkTimers.ack_timeout`, or NAKed with a transient reason
  (0x00 no reason, 0x03 checksum, 0x05 timeout), is sent again :attr:`LinkTimers.retry_interval`
  after the previous attempt, at most :attr:`LinkTimers.retries` times (Intwine's 500 ms spacing).
  A request whose reply does not come within :attr:`LinkTimers.reply_timeout` is retried the same
  way when it is marked idempotent (re-sent Basic commands are harmless, §11.2).
* A valid reply that arrives before the link ACK counts as the ACK (the ACK was lost on the way).
* A burst followed by :attr:`LinkTimers.idle_gap` of silence ends there (see
  :mod:`ven_edge.cta2045.stream`): a partial frame is NAKed 0x05 after 20 ms, not 500 ms.
* The stream parser rejects at once a header claiming more than the negotiated maximum payload
  (so a stray vendor-type byte >= 0xF0 cannot hold up the next frames while the parser waits for
  thousands of bytes); a native message type (08 01-08 04) claiming more is NAKed 0x02, "larger
  than the maximum payload" (EPRI-sim, §4). Until a maximum-payload response (08 03 19) has
  passed in either direction the limit is :data:`UNNEGOTIATED_MAX_PAYLOAD`, 2 bytes (docs/cta2045.md
  §6); afterwards it is the smaller of the sizes announced by each side, since neither may exceed
  what the other takes.
  :attr:`LinkEngine.max_payload` can also be set, for a peer that does not negotiate.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from ven_edge.cta2045.encodings import MAX_PAYLOAD_SIZES
from ven_edge.cta2045.frames import (
    Frame,
    LinkAck,
    LinkNak,
    MessageType,
    NakReason,
)
from ven_edge.cta2045.stream import (
    FRAME_TIMEOUT,
    IDLE_GAP,
    BytesDiscarded,
    FrameReader,
    FrameRejected,
)

#: tMA: least delay from the end of a received frame to our link ACK/NAK (EPRI-lib ``m_tma``,
#: EPRI-sim, radinet, pycta2045: 40 ms; docs/cta2045.md §5).
T_MA = 0.040
#: How long a sender waits for the link ACK/NAK (EPRI-lib, EPRI-sim, Intwine: 200 ms;
#: docs/cta2045.md §5, §13 row 8).
LINK_ACK_TIMEOUT = 0.200
#: tAR: least delay from our link ACK to our application reply (EPRI-lib ``m_tar``: 100 ms; §5).
T_AR = 0.100
#: How long a requester waits for the application reply after the link ACK (EPRI-lib, EPRI-sim,
#: Intwine: 3000 ms; §5).
APP_REPLY_TIMEOUT = 3.0
#: tIM: least quiet time on the line between the end of one message and the start of the next
#: (EPRI-sim 100 ms, Intwine 100 ms - 1 s, radinet 100 ms after every ACK/NAK; docs/cta2045.md §5).
T_IM = 0.100
#: Seconds per byte on the wire at 19200 baud 8N1 (start bit, 8 data bits, stop bit; §1).
BYTE_TIME = 10 / 19200
#: Slack for a write of ours reaching the line late (OS and USB-serial adapter; an FTDI adapter
#: batches for up to its 16 ms latency timer, a GPIO-driven transceiver enable adds more,
#: docs/cta2045.md §15).
WRITE_LATENCY = 0.010
#: Spacing of re-sent frames and how many re-sends (Intwine: 3 tries 500 ms apart; §5, §13 row 9).
RETRY_INTERVAL = 0.5
RETRIES = 3
#: Until the maximum payload is negotiated, assume 2 bytes: only Basic-sized frames are safe
#: (EPRI-sim ``MaxPayloadSizeCd``, EPRI-lib sample ``LENGTH2``; docs/cta2045.md §6).
UNNEGOTIATED_MAX_PAYLOAD = 2
#: Data-link opcode1 of the maximum-payload response, whose opcode2 is the size code (§6).
_MAX_PAYLOAD_RESPONSE = 0x19

#: Message types whose payload is always 0 (type query) or 2 bytes (docs/cta2045.md §6, §8).
_TWO_BYTE_TYPES = frozenset({MessageType.BASIC_DR, MessageType.DATA_LINK})
_TWO_BYTE_PAYLOAD = 2
#: NAK reasons after which sending the same bytes again can succeed (corruption in transit).
_TRANSIENT_NAKS = frozenset(
    {NakReason.NO_REASON, NakReason.CHECKSUM_ERROR, NakReason.MESSAGE_TIMEOUT}
)


@dataclass(frozen=True, slots=True)
class LinkTimers:
    """Every link timer in seconds, defaulting to the values of docs/cta2045.md §5."""

    ack_delay: float = T_MA
    ack_timeout: float = LINK_ACK_TIMEOUT
    reply_delay: float = T_AR
    reply_timeout: float = APP_REPLY_TIMEOUT
    frame_timeout: float = FRAME_TIMEOUT
    retry_interval: float = RETRY_INTERVAL
    retries: int = RETRIES
    #: Silence that ends a burst (None: only ``frame_timeout`` abandons a partial frame).
    idle_gap: float | None = IDLE_GAP
    quiet_time: float = T_IM
    byte_time: float = BYTE_TIME
    #: How late a write of ours may reach the line (the OS, a USB-serial adapter): the quiet
    #: time after our own message counts from this much after the write, to stay "at least".
    write_latency: float = WRITE_LATENCY

    @classmethod
    def fast(cls) -> LinkTimers:
        """No deliberate delays and short timeouts: for tests and the zero-timer benchmark.

        The timeouts stay long enough for a loaded machine to answer over a pty.
        """
        return cls(
            ack_delay=0.0,
            ack_timeout=0.25,
            reply_delay=0.0,
            reply_timeout=0.5,
            frame_timeout=0.2,
            retry_interval=0.05,
            quiet_time=0.0,
            write_latency=0.0,
        )


# --- events out ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transmit:
    """Write these bytes to the port now."""

    data: bytes


@dataclass(frozen=True, slots=True)
class FrameReceived:
    """A valid data frame from the peer that is not the reply to our outstanding request."""

    frame: Frame


class Failure(enum.Enum):
    """Why a request or a transmission ended without success."""

    LINK_NAK = "link_nak"
    NO_ACK = "no_ack"
    REPLY_TIMEOUT = "reply_timeout"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class RequestDone:
    """The outstanding request ended.

    ``reply`` is the application reply (or None when only a link ACK was expected and came);
    on failure ``failure`` says why and ``nak`` holds the last link NAK reason, if any.
    """

    request_id: int
    reply: Frame | None = None
    failure: Failure | None = None
    nak: int | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(frozen=True, slots=True)
class SendFailed:
    """A non-request frame (e.g. our application reply) was never link-ACKed."""

    frame: Frame
    failure: Failure
    nak: int | None = None


@dataclass(frozen=True, slots=True)
class LinkError:
    """Something wrong arrived; kept for the link-health counters and logs."""

    kind: str  # "checksum", "frame_timeout", "unsupported_type", "bad_length", "garbage", "stray"
    detail: str
    data: bytes = b""


LinkEvent = Transmit | FrameReceived | RequestDone | SendFailed | LinkError

ReplyMatcher = Callable[[Frame], bool]


class LinkBusy(RuntimeError):
    """A request is already outstanding (one at a time, docs/cta2045.md §16.1)."""


class _Phase(enum.Enum):
    QUEUED = "queued"  # waiting for its (re)send time or for the ACK slot
    AWAIT_ACK = "await_ack"
    AWAIT_REPLY = "await_reply"


@dataclass(slots=True, eq=False)
class _Outgoing:
    frame: Frame
    data: bytes
    not_before: float
    request_id: int | None = None  # set for our requests
    matcher: ReplyMatcher | None = None  # None: only the link ACK is expected
    idempotent: bool = True
    phase: _Phase = _Phase.QUEUED
    attempts: int = 0
    sent_at: float = 0.0
    deadline: float | None = None
    last_nak: int | None = None


@dataclass(slots=True)
class LinkCounters:
    """Link-health counters (reported by the UCM's device snapshot)."""

    frames_in: int = 0
    frames_out: int = 0
    naks_sent: int = 0
    naks_received: int = 0
    retries: int = 0
    timeouts: int = 0
    garbage_bytes: int = 0
    checksum_errors: int = 0
    acks_received: int = 0


@dataclass(frozen=True, slots=True)
class _Pending:
    due: float
    data: bytes


class LinkEngine:
    """The link state machine for one side of one port (see the module docstring)."""

    def __init__(
        self,
        timers: LinkTimers | None = None,
        *,
        supported_types: frozenset[int] = frozenset(MessageType),
    ) -> None:
        self.timers = timers or LinkTimers()
        self.supported_types = supported_types
        self.counters = LinkCounters()
        self._reader = FrameReader(
            UNNEGOTIATED_MAX_PAYLOAD,
            idle_gap=self.timers.idle_gap,
            frame_timeout=self.timers.frame_timeout,
        )
        # Sizes from the maximum-payload responses we received and sent (module docstring).
        self._peer_max: int | None = None
        self._own_max: int | None = None
        self._acks: list[_Pending] = []  # our link ACK/NAKs, each due at tMA after its frame
        self._outbox: list[_Outgoing] = []
        self._inflight: _Outgoing | None = None  # the one frame awaiting its link ACK
        self._request: _Outgoing | None = None
        self._ids = itertools.count(1)
        # When our ACK of the latest received frame goes out: replies wait tAR after it.
        self._last_ack_due = float("-inf")
        # When the last message on the line ended (ours or the peer's): tIM counts from here.
        self._line_quiet_since = float("-inf")
        #: When the last valid frame, ACK or NAK came from the peer (None: never).
        self.last_heard: float | None = None

    @property
    def max_payload(self) -> int:
        """The largest payload the stream parser waits for (negotiated, see module docstring)."""
        return self._reader.max_payload

    @max_payload.setter
    def max_payload(self, value: int) -> None:
        self._reader.max_payload = value

    def _learn_max_payload(self, frame: Frame, *, ours: bool) -> None:
        p = frame.payload
        if frame.msg_type != MessageType.DATA_LINK or len(p) != 2 or p[0] != _MAX_PAYLOAD_RESPONSE:
            return
        size = MAX_PAYLOAD_SIZES.get(p[1])
        if size is None:
            return  # an unknown code: keep what we have (the application reports the error)
        if ours:
            self._own_max = size
        else:
            self._peer_max = size
        self.max_payload = min(s for s in (self._own_max, self._peer_max) if s is not None)

    # --- inputs ----------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """True while a request is outstanding."""
        return self._request is not None

    @property
    def idle(self) -> bool:
        """Nothing owed and nothing awaited: no ACK/NAK to send, no frame queued or in flight."""
        return (
            not self._acks and not self._outbox and self._inflight is None and self._request is None
        )

    def free_at(self) -> float | None:
        """When a new frame of ours could start if queued now: after the quiet time and the
        peer's partial frame; None while an ACK/NAK is owed or a frame of ours is queued or in
        flight (those go first, and their timing is not known yet)."""
        if self._acks or self._outbox or self._inflight is not None:
            return None
        start = self._line_quiet_since + self.timers.quiet_time
        talking = self._peer_talking_until()
        return start if talking is None else max(start, talking)

    def request(
        self,
        frame: Frame,
        now: float,
        *,
        matcher: ReplyMatcher | None = None,
        idempotent: bool = True,
    ) -> tuple[int, list[LinkEvent]]:
        """Start a request; ``matcher`` recognises its application reply (None: ACK only).

        Returns the request id (echoed by :class:`RequestDone`) and the events of this instant.
        """
        if self._request is not None:
            raise LinkBusy("a request is already outstanding")
        out = _Outgoing(
            frame, frame.serialize(), now, next(self._ids), matcher, idempotent=idempotent
        )
        self._request = out
        self._outbox.append(out)
        return out.request_id or 0, self.poll(now)

    def reply(self, frame: Frame, now: float) -> list[LinkEvent]:
        """Send our application reply to the latest received frame, tAR after our ACK of it."""
        not_before = max(now, self._last_ack_due + self.timers.reply_delay)
        self._outbox.append(_Outgoing(frame, frame.serialize(), not_before))
        return self.poll(now)

    def send(self, frame: Frame, now: float) -> list[LinkEvent]:
        """Send a frame that needs only a link ACK and is not a request (no reply awaited)."""
        self._outbox.append(_Outgoing(frame, frame.serialize(), now))
        return self.poll(now)

    def send_raw(self, data: bytes) -> list[LinkEvent]:
        """Bytes outside the protocol (fault injection): written as they are, nothing awaited."""
        return [Transmit(data)]

    def receive(self, data: bytes, now: float) -> list[LinkEvent]:
        """Bytes arrived from the port at ``now``."""
        events: list[LinkEvent] = []
        if data:
            self._line_quiet_since = max(self._line_quiet_since, now)
        for item in self._reader.feed(data, now):
            self._on_item(item, now, events)
        events += self.poll(now)
        return events

    def poll(self, now: float) -> list[LinkEvent]:
        """Run every timer due at ``now``; return what must happen."""
        events: list[LinkEvent] = []
        for item in self._reader.poll(now):
            self._on_item(item, now, events)
        # An ACK/NAK never talks over the peer's next frame (module docstring).
        talking = self._peer_talking_until()
        due = (
            [] if talking is not None and now < talking else [a for a in self._acks if a.due <= now]
        )
        if due:
            self._acks = [a for a in self._acks if a.due > now]
            for a in due:
                self._transmit(a.data, now, events)
        self._check_timeouts(now, events)
        self._start_next(now, events)
        return events

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`poll` has work to do, or None when idle."""
        # While the peer is mid-frame, we wait for its next byte or for the end of its burst.
        talking = self._peer_talking_until() or float("-inf")
        times = [max(a.due, talking) for a in self._acks]
        reader_deadline = self._reader.deadline()
        if reader_deadline is not None:
            times.append(reader_deadline)
        if self._inflight is not None and self._inflight.deadline is not None:
            times.append(self._inflight.deadline)
        request = self._request
        if request is not None and request.phase is _Phase.AWAIT_REPLY and request.deadline:
            times.append(request.deadline)
        if self._inflight is None and self._outbox and not self._acks:
            first = min(o.not_before for o in self._outbox)
            times.append(max(first, self._line_quiet_since + self.timers.quiet_time, talking))
        return min(times) if times else None

    def close(self) -> list[LinkEvent]:
        """The port is gone: fail the outstanding request, forget buffers and queued frames."""
        events: list[LinkEvent] = []
        if self._request is not None:
            events.append(self._finish(self._request, failure=Failure.CLOSED))
        self._outbox.clear()
        self._inflight = None
        self._acks.clear()
        self._reader.reset()
        return events

    # --- internals -------------------------------------------------------------------------

    def _peer_talking_until(self) -> float | None:
        """Until when the peer may still be in the middle of a frame: a partial frame is
        buffered and its last byte came less than an idle gap ago (None: not talking)."""
        last = self._reader.last_byte_at
        if not self._reader.buffered or last is None:
            return None
        return last + (self.timers.idle_gap or IDLE_GAP)

    def _transmit(self, data: bytes, now: float, events: list[LinkEvent]) -> None:
        end = now + self.timers.write_latency + len(data) * self.timers.byte_time
        self._line_quiet_since = max(self._line_quiet_since, end)
        events.append(Transmit(data))

    def _queue_link_reply(self, data: bytes, now: float) -> None:
        due = now + self.timers.ack_delay
        self._acks.append(_Pending(due, data))
        self._last_ack_due = due

    def _nak(self, reason: NakReason, now: float) -> None:
        self.counters.naks_sent += 1
        self._queue_link_reply(LinkNak(reason).serialize(), now)

    def _on_item(self, item: object, now: float, events: list[LinkEvent]) -> None:
        if isinstance(item, LinkAck):
            self._on_ack(now, events)
        elif isinstance(item, LinkNak):
            self._on_nak(item.reason, now, events)
        elif isinstance(item, Frame):
            self._on_frame(item, now, events)
        elif isinstance(item, FrameRejected):
            if item.nak is NakReason.CHECKSUM_ERROR:
                self.counters.checksum_errors += 1
                kind = "checksum"
            elif item.nak is NakReason.INVALID_LENGTH:
                kind = "bad_length"
            else:
                kind = "frame_timeout"
            events.append(LinkError(kind, item.detail, item.data))
            self._nak(item.nak, now)
        elif isinstance(item, BytesDiscarded):
            self.counters.garbage_bytes += len(item.data)
            events.append(LinkError("garbage", f"{len(item.data)} byte(s) discarded", item.data))

    def _on_frame(self, frame: Frame, now: float, events: list[LinkEvent]) -> None:
        self.counters.frames_in += 1
        self.last_heard = now
        if frame.msg_type not in self.supported_types:
            events.append(
                LinkError("unsupported_type", f"message type {frame.msg_type:04X} not supported")
            )
            self._nak(NakReason.UNSUPPORTED_MESSAGE_TYPE, now)
            return
        if frame.msg_type in _TWO_BYTE_TYPES and len(frame.payload) not in (0, _TWO_BYTE_PAYLOAD):
            events.append(
                LinkError(
                    "bad_length",
                    f"type {frame.msg_type:04X} payload of {len(frame.payload)} bytes, expected 2",
                )
            )
            self._nak(NakReason.INVALID_LENGTH, now)
            return
        self._queue_link_reply(LinkAck().serialize(), now)
        self._learn_max_payload(frame, ours=False)
        request = self._request
        if (
            request is not None
            and request.matcher is not None
            and request.attempts > 0
            and request.matcher(frame)
        ):
            # A reply before the ACK means the ACK was lost: the request was received (module doc).
            # _finish also takes it off the wire and out of the outbox.
            events.append(self._finish(request, reply=frame))
            return
        events.append(FrameReceived(frame))

    def _on_ack(self, now: float, events: list[LinkEvent]) -> None:
        self.counters.acks_received += 1
        self.last_heard = now
        out = self._inflight
        if out is None:
            events.append(LinkError("stray", "link ACK with nothing awaiting one"))
            return
        self._inflight = None
        if out is not self._request:
            return
        if out.matcher is None:
            events.append(self._finish(out))
        else:
            out.phase = _Phase.AWAIT_REPLY
            out.deadline = now + self.timers.reply_timeout

    def _on_nak(self, reason: int, now: float, events: list[LinkEvent]) -> None:
        self.counters.naks_received += 1
        self.last_heard = now
        out = self._inflight
        if out is None:
            events.append(LinkError("stray", f"link NAK 0x{reason:02X} with nothing awaiting one"))
            return
        self._inflight = None
        out.last_nak = reason
        if reason in _TRANSIENT_NAKS and out.attempts <= self.timers.retries:
            self._requeue(out, now)
        else:
            events.append(self._fail(out, Failure.LINK_NAK))

    def _check_timeouts(self, now: float, events: list[LinkEvent]) -> None:
        out = self._inflight
        if out is not None and out.deadline is not None and now >= out.deadline:
            self._inflight = None
            self.counters.timeouts += 1
            if out.attempts <= self.timers.retries:
                self._requeue(out, now)
            else:
                events.append(self._fail(out, Failure.NO_ACK))
        request = self._request
        if (
            request is not None
            and request.phase is _Phase.AWAIT_REPLY
            and request.deadline is not None
            and now >= request.deadline
        ):
            self.counters.timeouts += 1
            if request.idempotent and request.attempts <= self.timers.retries:
                self._requeue(request, now)
            else:
                events.append(self._finish(request, failure=Failure.REPLY_TIMEOUT))

    def _requeue(self, out: _Outgoing, now: float) -> None:
        out.phase = _Phase.QUEUED
        out.deadline = None
        out.not_before = max(now, out.sent_at + self.timers.retry_interval)
        self._outbox.insert(0, out)

    def _start_next(self, now: float, events: list[LinkEvent]) -> None:
        if self._inflight is not None or self._acks:
            return  # an ACK/NAK we owe goes first (module docstring)
        talking = self._peer_talking_until()
        if now < self._line_quiet_since + self.timers.quiet_time or (
            talking is not None and now < talking
        ):
            return  # never talk over the peer, and keep the quiet time
        ready = [o for o in self._outbox if o.not_before <= now]
        if not ready:
            return
        out = ready[0]
        self._outbox.remove(out)
        if out.attempts:
            self.counters.retries += 1
        out.attempts += 1
        out.sent_at = now
        out.phase = _Phase.AWAIT_ACK
        out.deadline = now + self.timers.ack_timeout
        self._inflight = out
        self._learn_max_payload(out.frame, ours=True)
        self.counters.frames_out += 1
        self._transmit(out.data, now, events)

    def _fail(self, out: _Outgoing, failure: Failure) -> LinkEvent:
        if out is self._request:
            return self._finish(out, failure=failure)
        return SendFailed(out.frame, failure, out.last_nak)

    def _finish(
        self, out: _Outgoing, *, reply: Frame | None = None, failure: Failure | None = None
    ) -> RequestDone:
        self._request = None
        if out in self._outbox:
            self._outbox.remove(out)
        if self._inflight is out:
            self._inflight = None
        return RequestDone(
            out.request_id or 0,
            reply=reply,
            failure=failure,
            nak=out.last_nak if failure is Failure.LINK_NAK else None,
            attempts=out.attempts,
        )
