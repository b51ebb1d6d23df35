"""Errors of the CTA-2045 message codec.

Decoding errors derive from :class:`~ven_edge.cta2045.frames.FrameError`, so one ``except`` catches
every way a received frame can be unusable. Each carries the link NAK reason a receiver should send
(docs/cta2045.md §4: EPRI-lib NAKs unknown Basic opcodes with 0x06, unknown Intermediate/data-link
opcodes with 0x07).
"""

from __future__ import annotations

from ven_edge.cta2045.frames import FrameError, NakReason


class MessageDecodeError(FrameError):
    """A checksum-valid frame whose payload is not a message we can decode."""

    def __init__(self, detail: str, nak: NakReason) -> None:
        super().__init__(detail)
        self.nak = nak


class UnknownMessageError(MessageDecodeError):
    """No message in the table has this message type and these opcodes."""


class PayloadLengthError(MessageDecodeError):
    """The opcodes are known but the payload length fits none of their layouts."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, NakReason.INVALID_LENGTH)


class FieldValueError(MessageDecodeError):
    """A field holds a value its encoding does not allow (e.g. hour 25 in a time sync)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, NakReason.INVALID_BYTE)


class MessageEncodeError(ValueError):
    """A message cannot be encoded: unknown name, missing, unknown or out-of-range fields."""
