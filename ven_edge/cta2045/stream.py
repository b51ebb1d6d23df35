"""Sans-I/O stream parser: bytes in (with their arrival time), link frames and errors out.

A serial port delivers bytes in arbitrary chunks: a link ACK and the following reply can arrive in
one read, a frame can be split over many (the failure mode of EPRI-lib's ``waitForAck``,
docs/cta2045.md §11.2). :class:`FrameReader` buffers bytes and yields every complete frame, whatever
the read boundaries.

Recovery rules (docs/cta2045.md §5, §13 rows 8 and 14, §16):

* Bytes that cannot start a frame are discarded as garbage.
* A frame whose check bytes are wrong is reported once (link NAK 0x03 by the caller) and the
  parser then *hunts*: it drops one byte and rescans the rest of the claimed frame, because the
  header itself may have been garbage that swallowed a real frame. While hunting it accepts only
  checksum-valid data frames, so bytes inside a corrupted frame that happen to read ``06 00`` are
  not mistaken for a link ACK, and it reports no further checksum errors for the same burst.
* A frame not completed within :data:`FRAME_TIMEOUT` of its first byte is abandoned and reported
  once (link NAK 0x05), then the parser hunts through the bytes it had buffered.
* An idle gap of :data:`IDLE_GAP` after the last byte also ends whatever is buffered (Intwine: a
  20 ms gap delimits a message; §13 row 8: "also resynchronise on a >= 20 ms gap"). Nothing more
  can complete the partial frame, so every complete, checksum-valid frame inside the buffered
  bytes is delivered, a link ACK/NAK that ends the burst is accepted, and the rest is discarded.
  Only when nothing was recovered is the burst reported as an incomplete frame (link NAK 0x05):
  a stray byte in front of a real frame must not draw a NAK that the sender would take for the
  answer to its frame.

Time: :meth:`FrameReader.feed` takes the bytes as read at ``now``; the gap is observed only by
:meth:`FrameReader.poll`, i.e. when the caller looked at the line at :meth:`FrameReader.deadline`
and found nothing new. A late read (a busy event loop handles the port before its timers) thus
never splits bytes that were on the line together; the worst a real gap missed this way costs is
the slower checksum/timeout recovery above.
"""

from __future__ import annotations

from dataclasses import dataclass

from ven_edge.cta2045.frames import (
    CHECK_SIZE,
    HEADER_SIZE,
    LINK_ACK_MSB,
    LINK_FRAME_SIZE,
    LINK_NAK_MSB,
    MAX_PAYLOAD_LENGTH,
    ChecksumError,
    Frame,
    LinkAck,
    LinkFrame,
    LinkNak,
    NakReason,
    checksum,
)

#: A partial frame is abandoned this long after its first byte, with link NAK 0x05
#: (EPRI-lib and EPRI-sim: 500 ms, docs/cta2045.md §5 "tML / frame timeout").
FRAME_TIMEOUT = 0.5

#: The line idle this long after the last byte ends the burst (Intwine delimits messages with a
#: 20 ms gap; docs/cta2045.md §5 "tML", §13 row 8). At 19200 baud a byte takes 0.52 ms, so a sender
#: that writes a frame in one go never leaves such a gap inside it.
IDLE_GAP = 0.020

#: Largest NAK reason code defined (docs/cta2045.md §4); ``15 rr`` with a larger rr is not a NAK.
_MAX_NAK_REASON = max(NakReason)

#: Basic DR (08 01) and data-link (08 03) payloads are 0 (type query) or 2 bytes (docs/cta2045.md §6
#: §8); a header claiming much more is garbage rather than a frame worth waiting for. A small margin
#: lets a slightly wrong length through to the checksum and to the link layer's NAK 0x02.
_SHORT_TYPES_MAX_LENGTH = 16
_SHORT_TYPES = frozenset({0x0801, 0x0803})


@dataclass(frozen=True, slots=True)
class FrameRejected:
    """A frame-shaped run of bytes that cannot be accepted; ``nak`` is the reason to send."""

    nak: NakReason
    detail: str
    data: bytes


@dataclass(frozen=True, slots=True)
class BytesDiscarded:
    """Bytes skipped while looking for the start of a frame."""

    data: bytes


ReaderEvent = Frame | LinkAck | LinkNak | FrameRejected | BytesDiscarded


def _plausible_type(msb: int, lsb: int | None) -> bool:
    """Could these bytes start a data frame? (message-type ranges, docs/cta2045.md §2)."""
    if msb in (0x08, 0x09):
        return lsb is None or lsb <= 0x0F
    return msb >= 0xF0  # vendor-specific types


class FrameReader:
    """Incremental CTA-2045 frame parser: :meth:`feed` bytes, :meth:`poll` the clock."""

    def __init__(
        self,
        max_payload: int = MAX_PAYLOAD_LENGTH,
        *,
        idle_gap: float | None = IDLE_GAP,
        frame_timeout: float = FRAME_TIMEOUT,
    ) -> None:
        self.max_payload = max_payload
        #: None turns the idle-gap rule off (only the frame timeout ends a partial frame).
        self.idle_gap = idle_gap
        self.frame_timeout = frame_timeout
        self._buf = bytearray()
        self._started_at: float | None = None
        self._last_byte_at: float | None = None
        # Bytes still to be rescanned in hunting mode after a bad frame (see module docstring).
        self._hunt = 0

    @property
    def buffered(self) -> int:
        """Number of bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    def deadline(self) -> float | None:
        """When :meth:`poll` must be called to abandon the pending partial frame, if any."""
        if self._started_at is None:
            return None
        timeout = self._started_at + self.frame_timeout
        gap = self._gap_deadline()
        return timeout if gap is None else min(timeout, gap)

    def _gap_deadline(self) -> float | None:
        if self.idle_gap is None or self._last_byte_at is None or not self._buf:
            return None
        return self._last_byte_at + self.idle_gap

    def feed(self, data: bytes, now: float) -> list[ReaderEvent]:
        """Add bytes read at time ``now``; return the events they complete."""
        events = self._expire(now)
        if data:
            self._buf += data
            self._last_byte_at = now
            if self._started_at is None:
                self._started_at = now
        self._drain(events, now)
        return events

    def poll(self, now: float) -> list[ReaderEvent]:
        """The line was idle until ``now``: end a burst followed by an idle gap and abandon a
        partial frame whose time is up; return the resulting events."""
        gap = self._gap_deadline()
        if gap is not None and now >= gap:
            return self._end_burst(now)
        return self._expire(now)

    def _end_burst(self, now: float) -> list[ReaderEvent]:
        """Nothing can complete the buffered bytes any more (module docstring, idle gap)."""
        burst = bytes(self._buf)
        was_hunting = self._hunt > 0
        events: list[ReaderEvent] = []
        while self._buf:
            if len(self._buf) == LINK_FRAME_SIZE and self._buf[0] in (LINK_ACK_MSB, LINK_NAK_MSB):
                self._hunt = 0  # a link ACK/NAK right before the gap ends the burst (§2, §4)
            if self._step(events) is None:
                # Incomplete and nothing more is coming: drop a byte and look again.
                self._hunt = max(self._hunt, len(self._buf))
                self._discard(1, events)
        self._hunt = 0
        self._started_at = self._last_byte_at = None
        recovered = any(isinstance(e, Frame | LinkAck | LinkNak) for e in events)
        first = events[0] if events else None
        if was_hunting or recovered or not isinstance(first, BytesDiscarded):
            return events
        # Nothing usable: one incomplete frame (NAK 0x05) instead of a run of discards.
        rest = first.data[1:]
        detail = (
            f"frame incomplete when the line went idle ({(self.idle_gap or 0) * 1000:.0f} ms "
            f"gap): {len(burst)} byte(s) buffered"
        )
        return [
            FrameRejected(NakReason.MESSAGE_TIMEOUT, detail, burst),
            *([BytesDiscarded(rest)] if rest else []),
            *events[1:],
        ]

    def _expire(self, now: float) -> list[ReaderEvent]:
        """Abandon a partial frame not completed within the frame timeout of its first byte."""
        events: list[ReaderEvent] = []
        if self._started_at is None or not self._buf:
            return events
        if now < self._started_at + self.frame_timeout:
            return events
        if self._hunt:
            self._discard(1, events)
        else:
            stale = bytes(self._buf)
            events.append(
                FrameRejected(
                    NakReason.MESSAGE_TIMEOUT,
                    f"frame not completed within {self.frame_timeout * 1000:.0f} ms: "
                    f"{len(stale)} byte(s) buffered",
                    stale,
                )
            )
            del self._buf[:1]
            self._hunt = len(self._buf)
        self._started_at = now if self._buf else None
        self._drain(events, now)
        return events

    def reset(self) -> None:
        """Forget buffered bytes (after the port was reopened)."""
        self._buf.clear()
        self._started_at = self._last_byte_at = None
        self._hunt = 0

    def _discard(self, count: int, events: list[ReaderEvent]) -> None:
        chunk = bytes(self._buf[:count])
        del self._buf[:count]
        self._hunt = max(0, self._hunt - count)
        if events and isinstance(events[-1], BytesDiscarded):
            events[-1] = BytesDiscarded(events[-1].data + chunk)
        else:
            events.append(BytesDiscarded(chunk))

    def _consume(self, count: int) -> None:
        del self._buf[:count]
        self._hunt = max(0, self._hunt - count)

    def _drain(self, events: list[ReaderEvent], now: float) -> None:
        consumed = False
        while self._buf:
            step = self._step(events)
            if step is None:  # waiting for more bytes
                break
            consumed = True
        if not self._buf:
            self._started_at = self._last_byte_at = None
        elif consumed:
            # The remaining bytes arrived no later than now; time the new frame from here.
            self._started_at = now

    def _step(self, events: list[ReaderEvent]) -> bool | None:
        """Handle the front of the buffer: True after progress, None when more bytes are needed."""
        buf = self._buf
        hunting = self._hunt > 0
        msb = buf[0]
        if msb in (LINK_ACK_MSB, LINK_NAK_MSB):
            if len(buf) < LINK_FRAME_SIZE:
                return None
            second = buf[1]
            if not hunting and msb == LINK_ACK_MSB and second == 0x00:
                self._consume(LINK_FRAME_SIZE)
                events.append(LinkAck())
                return True
            if not hunting and msb == LINK_NAK_MSB and second <= _MAX_NAK_REASON:
                self._consume(LINK_FRAME_SIZE)
                events.append(LinkNak(second))
                return True
            self._discard(1, events)
            return True
        if not _plausible_type(msb, buf[1] if len(buf) > 1 else None):
            self._discard(1, events)
            return True
        if len(buf) < HEADER_SIZE:
            return None
        msg_type = int.from_bytes(buf[0:2], "big")
        length = int.from_bytes(buf[2:4], "big")
        limit = _SHORT_TYPES_MAX_LENGTH if msg_type in _SHORT_TYPES else self.max_payload
        if length > limit:
            self._discard(1, events)
            return True
        total = HEADER_SIZE + length + CHECK_SIZE
        if len(buf) < total:
            return None
        body = bytes(buf[: HEADER_SIZE + length])
        received = bytes(buf[HEADER_SIZE + length : total])
        expected = checksum(body)
        if received == expected:
            self._consume(total)
            self._hunt = 0
            events.append(Frame(msg_type, body[HEADER_SIZE:]))
            return True
        if hunting:
            self._discard(1, events)
            return True
        error = ChecksumError(expected, received)
        events.append(FrameRejected(NakReason.CHECKSUM_ERROR, str(error), bytes(buf[:total])))
        del buf[:1]
        self._hunt = total - 1
        return True


def frames_from_bytes(data: bytes) -> list[LinkFrame]:
    """Every link frame found in ``data`` (a convenience for tools and tests)."""
    reader = FrameReader()
    return [e for e in reader.feed(data, 0.0) if isinstance(e, Frame | LinkAck | LinkNak)]
