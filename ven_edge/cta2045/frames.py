"""CTA-2045 link-layer frames: the checksum, data frames and the two-byte link ACK/NAK.

Layout (docs/cta2045.md §2): message type MSB, message type LSB, a 16-bit big-endian payload
length, the payload, then two check bytes. Link ACK and NAK are exactly two bytes, ``06 00`` and
``15 rr``, with neither length nor check bytes (§2, §4). Frames are frozen dataclasses with
``serialize()``; :func:`parse_frame` decodes one frame from the front of a buffer and returns it
with the rest of the buffer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from itertools import accumulate

#: First check-byte accumulator seed and modulus of the Fletcher variant (docs/cta2045.md §3).
CHECKSUM_SEED = 0xAA
CHECKSUM_MODULUS = 255

#: Bytes before the payload: type MSB, type LSB, length MSB, length LSB (docs/cta2045.md §2).
HEADER_SIZE = 4
#: Two check bytes after the payload (docs/cta2045.md §2, §3).
CHECK_SIZE = 2
#: A link ACK or NAK is exactly two bytes (docs/cta2045.md §2).
LINK_FRAME_SIZE = 2

#: Type MSB of a link ACK (``06 00``) and of a link NAK (``15 rr``) (docs/cta2045.md §2, §4).
LINK_ACK_MSB = 0x06
LINK_NAK_MSB = 0x15

#: Largest payload code 13 negotiates (4096 bytes, docs/cta2045.md §6); a header claiming more
#: cannot be a frame.
MAX_PAYLOAD_LENGTH = 4096


class MessageType(enum.IntEnum):
    """Two-byte message types of CTA-2045 native applications (docs/cta2045.md §2)."""

    BASIC_DR = 0x0801
    INTERMEDIATE_DR = 0x0802
    DATA_LINK = 0x0803
    COMMISSIONING = 0x0804


class NakReason(enum.IntEnum):
    """Link NAK reason codes (docs/cta2045.md §4)."""

    NO_REASON = 0x00
    INVALID_BYTE = 0x01
    INVALID_LENGTH = 0x02
    CHECKSUM_ERROR = 0x03
    RESERVED = 0x04
    MESSAGE_TIMEOUT = 0x05
    UNSUPPORTED_MESSAGE_TYPE = 0x06
    REQUEST_NOT_SUPPORTED = 0x07


class FrameError(ValueError):
    """The bytes are not a valid CTA-2045 frame."""


class IncompleteFrame(FrameError):
    """More bytes are needed before the frame can be decoded."""

    def __init__(self, needed: int) -> None:
        super().__init__(f"incomplete frame: {needed} more byte(s) needed")
        self.needed = needed


class ChecksumError(FrameError):
    """The check bytes do not match the frame contents (link NAK 0x03)."""

    def __init__(self, expected: bytes, received: bytes) -> None:
        super().__init__(
            f"checksum error: expected check bytes {expected.hex(' ').upper()}, "
            f"received {received.hex(' ').upper()}"
        )
        self.expected = expected
        self.received = received


class LengthError(FrameError):
    """The length field disagrees with the bytes present or with the protocol."""


#: Up to this many bytes (a Basic DR frame's header and payload are 6) the per-byte loop is the
#: quicker way to the check bytes; above it, the C-level sums of :func:`checksum` are.
_SHORT = 12


def checksum(data: bytes | bytearray | memoryview) -> bytes:
    """Return the two check bytes K1 K2 for ``data`` (header and payload), docs/cta2045.md §3."""
    if len(data) <= _SHORT:
        c0 = CHECKSUM_SEED
        c1 = 0
        for byte in data:
            c0 = (c0 + byte) % CHECKSUM_MODULUS
            c1 = (c1 + c0) % CHECKSUM_MODULUS
    else:
        # The first sum after each byte is the seed plus the running total of the bytes, and the
        # second sum is the total of those: reduced modulo 255 once at the end, the same sums as
        # reducing after every byte, summed in C rather than in a Python loop per byte.
        running = list(accumulate(data, initial=CHECKSUM_SEED))
        c0 = running[-1] % CHECKSUM_MODULUS
        c1 = (sum(running) - CHECKSUM_SEED) % CHECKSUM_MODULUS
    k1 = 255 - ((c0 + c1) % CHECKSUM_MODULUS)
    k2 = 255 - ((c0 + k1) % CHECKSUM_MODULUS)
    return bytes((k1, k2))


@dataclass(frozen=True, slots=True)
class LinkAck:
    """Link-layer acknowledgement ``06 00``."""

    def serialize(self) -> bytes:
        return bytes((LINK_ACK_MSB, 0x00))


@dataclass(frozen=True, slots=True)
class LinkNak:
    """Link-layer negative acknowledgement ``15 rr``."""

    reason: int

    def serialize(self) -> bytes:
        return bytes((LINK_NAK_MSB, self.reason))

    @property
    def reason_name(self) -> str:
        try:
            return NakReason(self.reason).name
        except ValueError:
            return f"UNKNOWN_0x{self.reason:02X}"


@dataclass(frozen=True, slots=True)
class Frame:
    """A data frame: message type and payload (opcodes and data); check bytes are computed."""

    msg_type: int
    payload: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.msg_type <= 0xFFFF:
            raise ValueError(f"message type 0x{self.msg_type:X} does not fit in two bytes")
        if len(self.payload) > 0xFFFF:
            raise ValueError(f"payload of {len(self.payload)} bytes does not fit the length field")

    @property
    def is_type_query(self) -> bool:
        """A header with length 0 is a Message-Type-Supported query (docs/cta2045.md §6)."""
        return not self.payload

    @property
    def opcode1(self) -> int | None:
        return self.payload[0] if self.payload else None

    @property
    def opcode2(self) -> int | None:
        return self.payload[1] if len(self.payload) > 1 else None

    def serialize(self) -> bytes:
        head = self.msg_type.to_bytes(2, "big") + len(self.payload).to_bytes(2, "big")
        body = head + self.payload
        return body + checksum(body)


LinkFrame = Frame | LinkAck | LinkNak


def parse_frame(data: bytes | bytearray) -> tuple[LinkFrame, bytes]:
    """Decode the frame at the start of ``data``; return it and the remaining bytes.

    Raises :class:`IncompleteFrame` when more bytes are needed, :class:`ChecksumError` when the
    check bytes are wrong and :class:`LengthError` when the header claims an impossible length.
    """
    data = bytes(data)
    if len(data) < LINK_FRAME_SIZE:
        raise IncompleteFrame(LINK_FRAME_SIZE - len(data))
    msb = data[0]
    if msb == LINK_ACK_MSB and data[1] == 0x00:
        return LinkAck(), data[LINK_FRAME_SIZE:]
    if msb == LINK_NAK_MSB:
        return LinkNak(data[1]), data[LINK_FRAME_SIZE:]
    if len(data) < HEADER_SIZE:
        raise IncompleteFrame(HEADER_SIZE - len(data))
    length = int.from_bytes(data[2:4], "big")
    if length > MAX_PAYLOAD_LENGTH:
        raise LengthError(
            f"length field {length} exceeds the largest payload of {MAX_PAYLOAD_LENGTH} bytes"
        )
    total = HEADER_SIZE + length + CHECK_SIZE
    if len(data) < total:
        raise IncompleteFrame(total - len(data))
    body = data[: HEADER_SIZE + length]
    received = data[HEADER_SIZE + length : total]
    expected = checksum(body)
    if received != expected:
        raise ChecksumError(expected, received)
    return Frame(int.from_bytes(data[0:2], "big"), body[HEADER_SIZE:]), data[total:]
