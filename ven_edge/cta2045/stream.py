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
* A header of a native CTA-2045 message type (08 01-08 04) whose length exceeds the maximum
  payload the link accepts, but not the largest any link may negotiate, is a real frame we cannot
  take: it is reported once (link NAK 0x02, "larger than the maximum payload": EPRI-sim,
  docs/cta2045.md §4) and the parser hunts through the bytes it claims. Any other over-long
  header (a vendor-type byte >= 0xF0 in front of a real frame, a length no link allows) is garbage
  and dropped at once.
* A frame not completed within :data:`FRAME_TIMEOUT` of its first byte is abandoned and reported
  once (link NAK 0x05), then the parser hunts through the bytes it had buffered.
* An idle gap of :data:`IDLE_GAP` after the last byte also ends whatever is buffered (Intwine: a
  20 ms gap delimits a message; §13 row 8: "also resynchronise on a >= 20 ms gap"). Nothing more
  can complete the partial frame, so every complete, checksum-valid frame inside the buffered
  bytes is delivered, a link ACK/NAK that ends the burst is accepted, and the rest is discarded.
  Only when nothing was recovered is the burst reported as an incomplete frame (link NAK 0x05):
  a stray byte in front of a real frame must not draw a NAK that the sender would take for the
  answer to its frame.

Work per byte is bounded whatever the stream (hunting included): the check bytes of any candidate
frame come from running prefix sums of the buffered bytes in constant time (the Fletcher sums of
§3 are linear in the bytes, so a range's sums follow from two prefix sums), and discarded bytes
are collected without copying the run again per byte.

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
    CHECKSUM_MODULUS,
    CHECKSUM_SEED,
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
    MessageType,
    NakReason,
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


#: Native CTA-2045 message types (08 01-08 04, docs/cta2045.md §2): an over-long header of one of
#: these is NAKed 0x02; other over-long headers are garbage.
_NATIVE_TYPES = frozenset(MessageType)


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
        # Prefix sums for constant-time check bytes (module docstring). _pos is the stream index
        # of _buf[0]; _p1[k] and _p2[k] are the sums of b and (i mod 255)·b, mod 255, over the
        # stream bytes i in [_base, _base + k).
        self._pos = 0
        self._base = 0
        self._p1 = [0]
        self._p2 = [0]
        # Bytes discarded since the last event, reported as one BytesDiscarded.
        self._junk = bytearray()

    @property
    def buffered(self) -> int:
        """Number of bytes held while waiting for the rest of a frame."""
        return len(self._buf)

    @property
    def last_byte_at(self) -> float | None:
        """When the last buffered byte arrived (None: nothing buffered)."""
        return self._last_byte_at

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
            self._append(data)
            self._last_byte_at = now
            if self._started_at is None:
                self._started_at = now
        self._drain(events, now)
        self._flush(events)
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
                self._discard(1)
        self._flush(events)
        self._hunt = 0
        self._started_at = self._last_byte_at = None
        recovered = any(isinstance(e, Frame | LinkAck | LinkNak | FrameRejected) for e in events)
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
            self._discard(1)
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
            self._consume(1)
            self._hunt = len(self._buf)
        self._started_at = now if self._buf else None
        self._drain(events, now)
        self._flush(events)
        return events

    def reset(self) -> None:
        """Forget buffered bytes (after the port was reopened)."""
        self._consume(len(self._buf))
        self._junk.clear()
        self._started_at = self._last_byte_at = None
        self._hunt = 0

    # --- buffer and prefix sums ------------------------------------------------------------

    def _append(self, data: bytes) -> None:
        self._buf += data
        p1, p2 = self._p1, self._p2
        s1, s2 = p1[-1], p2[-1]
        index = (self._base + len(p1) - 1) % CHECKSUM_MODULUS
        for byte in data:
            s1 = (s1 + byte) % CHECKSUM_MODULUS
            s2 = (s2 + index * byte) % CHECKSUM_MODULUS
            index = index + 1 if index < CHECKSUM_MODULUS - 1 else 0
            p1.append(s1)
            p2.append(s2)

    def _check_bytes(self, count: int) -> bytes:
        """The check bytes of the first ``count`` buffered bytes (docs/cta2045.md §3), in O(1).

        Over stream bytes [a, e): C0 = 0xAA + sum(b), C1 = sum over i of C0 after byte i
        = n·0xAA + sum(b_j·(e − j)) = n·0xAA + e·S1 − S2, all mod 255.
        """
        a = self._pos - self._base
        e = a + count
        s1 = self._p1[e] - self._p1[a]
        s2 = self._p2[e] - self._p2[a]
        c0 = (CHECKSUM_SEED + s1) % CHECKSUM_MODULUS
        c1 = (count * CHECKSUM_SEED + (self._pos + count) * s1 - s2) % CHECKSUM_MODULUS
        k1 = 255 - (c0 + c1) % CHECKSUM_MODULUS
        k2 = 255 - (c0 + k1) % CHECKSUM_MODULUS
        return bytes((k1, k2))

    def _consume(self, count: int) -> None:
        del self._buf[:count]
        self._pos += count
        self._hunt = max(0, self._hunt - count)
        consumed = self._pos - self._base
        if consumed > max(len(self._buf), 1024):
            # Forget the sums of bytes gone; at most as many as remain, so O(1) per byte.
            del self._p1[:consumed]
            del self._p2[:consumed]
            self._base = self._pos

    def _discard(self, count: int) -> None:
        self._junk += self._buf[:count]
        self._consume(count)

    def _flush(self, events: list[ReaderEvent]) -> None:
        """Report the bytes discarded since the last event, as one event."""
        if self._junk:
            events.append(BytesDiscarded(bytes(self._junk)))
            self._junk.clear()

    def _emit(self, events: list[ReaderEvent], event: ReaderEvent) -> None:
        self._flush(events)
        events.append(event)

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
                self._emit(events, LinkAck())
                return True
            if not hunting and msb == LINK_NAK_MSB and second <= _MAX_NAK_REASON:
                self._consume(LINK_FRAME_SIZE)
                self._emit(events, LinkNak(second))
                return True
            self._discard(1)
            return True
        if not _plausible_type(msb, buf[1] if len(buf) > 1 else None):
            self._discard(1)
            return True
        if len(buf) < HEADER_SIZE:
            return None
        msg_type = int.from_bytes(buf[0:2], "big")
        length = int.from_bytes(buf[2:4], "big")
        limit = _SHORT_TYPES_MAX_LENGTH if msg_type in _SHORT_TYPES else self.max_payload
        total = HEADER_SIZE + length + CHECK_SIZE
        if length > limit:
            if hunting or msg_type not in _NATIVE_TYPES or length > MAX_PAYLOAD_LENGTH:
                self._discard(1)
                return True
            detail = (
                f"type {msg_type:04X} claims a payload of {length} bytes, more than the "
                f"{limit} this link accepts"
            )
            self._emit(events, FrameRejected(NakReason.INVALID_LENGTH, detail, bytes(buf[:4])))
            self._consume(1)
            self._hunt = total - 1
            return True
        if len(buf) < total:
            return None
        received = bytes(buf[HEADER_SIZE + length : total])
        expected = self._check_bytes(HEADER_SIZE + length)
        if received == expected:
            payload = bytes(buf[HEADER_SIZE : HEADER_SIZE + length])
            self._consume(total)
            self._hunt = 0
            self._emit(events, Frame(msg_type, payload))
            return True
        if hunting:
            self._discard(1)
            return True
        error = ChecksumError(expected, received)
        self._emit(events, FrameRejected(NakReason.CHECKSUM_ERROR, str(error), bytes(buf[:total])))
        self._consume(1)
        self._hunt = total - 1
        return True


def frames_from_bytes(data: bytes) -> list[LinkFrame]:
    """Every link frame found in ``data`` (a convenience for tools and tests)."""
    reader = FrameReader()
    return [e for e in reader.feed(data, 0.0) if isinstance(e, Frame | LinkAck | LinkNak)]
