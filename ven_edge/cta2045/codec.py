"""The CTA-2045 message codec: frames to typed messages and back, and how replies pair up.

Every message is a row of :mod:`ven_edge.cta2045.table`, decoded into the row's class of
:mod:`ven_edge.cta2045.typed` (a :class:`~ven_edge.cta2045.message.Message`):

* :func:`decode` — a frame (or its bytes, check bytes included) to a message, decoded once.
* :func:`build` — a message from a row's class (or name) and fields, encoded once; its frame is
  what goes on the wire.
* :func:`encode` / :func:`to_frame` — a message, or a name and fields, to frame bytes / a frame.
* :func:`expected_reply` / :func:`is_reply_to` — how requests and replies pair up.

Link ACK and NAK decode to messages named ``link_ack`` / ``link_nak`` whose ``msg_type`` is the
single reserved type byte (``"06"`` / ``"15"``); they are two bytes with neither length nor
check bytes (docs/cta2045.md §2). The constructors for each command are
:mod:`ven_edge.cta2045.messages`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar, overload

from ven_edge.cta2045 import table, typed
from ven_edge.cta2045.errors import (
    MessageEncodeError,
    PayloadLengthError,
    UnknownMessageError,
)
from ven_edge.cta2045.frames import (
    Frame,
    IncompleteFrame,
    LengthError,
    LinkAck,
    LinkFrame,
    LinkNak,
    MessageType,
    NakReason,
    parse_frame,
)
from ven_edge.cta2045.message import LINK_ACK, LINK_NAK, MTSQ, Message, type_hex

M = TypeVar("M", bound=Message)


def _message(name: str, frame: LinkFrame, fields: Mapping[str, object] | None) -> Message:
    """The message of a table row as its typed class (``fields`` None: decoded when read)."""
    return typed.CLASSES.get(name, Message)(name, frame, fields)


# --- Decoding --------------------------------------------------------------------------------


def _type_label(msg_type: int) -> str:
    try:
        return f"{MessageType(msg_type).name} ({msg_type:04X})"
    except ValueError:
        return f"message type {msg_type:04X}"


def decode(data: LinkFrame | bytes | bytearray) -> Message:
    """Decode one complete frame (check bytes included) or a parsed link frame.

    Raises :class:`~ven_edge.cta2045.frames.ChecksumError` (expected vs received check bytes),
    :class:`~ven_edge.cta2045.frames.LengthError` (the length field disagrees with the bytes
    given), :class:`UnknownMessageError` (type or opcodes not in the table),
    :class:`PayloadLengthError` and :class:`~ven_edge.cta2045.errors.FieldValueError`.
    """
    if isinstance(data, bytes | bytearray):
        data = _parse_exactly_one(bytes(data))
    if isinstance(data, LinkAck):
        return Message(LINK_ACK, data, {})
    if isinstance(data, LinkNak):
        return Message(LINK_NAK, data)  # its fields are the reason byte and its name
    return _decode_frame(data)


def _parse_exactly_one(data: bytes) -> LinkFrame:
    try:
        frame, rest = parse_frame(data)
    except IncompleteFrame as exc:
        if len(data) < 4:
            raise LengthError(f"length mismatch: {len(data)} byte(s) is not a frame") from None
        declared = int.from_bytes(data[2:4], "big")
        raise LengthError(
            f"length mismatch: length field 0x{declared:04X} declares {declared} payload "
            f"byte(s), a frame of {declared + 6} bytes; got {len(data)} bytes "
            f"({exc.needed} missing)"
        ) from None
    if rest:
        if isinstance(frame, Frame):
            detail = (
                f"length field 0x{len(frame.payload):04X} declares {len(frame.payload)} payload "
                f"byte(s), a frame of {len(frame.payload) + 6} bytes"
            )
        else:
            detail = "a link ACK/NAK is 2 bytes"
        raise LengthError(f"length mismatch: {detail}; got {len(data)} bytes ({len(rest)} extra)")
    return frame


def _decode_frame(frame: Frame) -> Message:
    payload = frame.payload
    msg_type = frame.msg_type
    if not payload:
        return _message(MTSQ, frame, {})
    if msg_type not in table.SUPPORTED_TYPES:
        raise UnknownMessageError(
            f"unsupported {_type_label(msg_type)}", NakReason.UNSUPPORTED_MESSAGE_TYPE
        )
    specs = list(table.candidates(msg_type, payload))
    if not specs:
        raise _unknown_opcodes(msg_type, payload)
    for spec in specs:
        data = payload[len(spec.opcodes) :]
        if spec.layout.fits(len(data)):
            return _message(spec.name, frame, spec.layout.decode(data))
    expected = " or ".join(dict.fromkeys(spec.describe_lengths() for spec in specs))
    names = "/".join(dict.fromkeys(spec.name for spec in specs))
    raise PayloadLengthError(
        f"length mismatch: {names} ({_type_label(msg_type)}) needs a payload of {expected} "
        f"byte(s), length field says {len(payload)}"
    )


def _unknown_opcodes(msg_type: int, payload: bytes) -> UnknownMessageError:
    if msg_type == table.INTERMEDIATE:
        opcodes = " ".join(f"0x{b:02X}" for b in payload[:2])
        # EPRI-lib answers unknown Intermediate/data-link opcodes with link NAK 0x07 (§4).
        return UnknownMessageError(
            f"unknown opcodes {opcodes} for {_type_label(msg_type)}",
            NakReason.REQUEST_NOT_SUPPORTED,
        )
    # EPRI-lib answers unknown Basic opcodes with link NAK 0x06 (§4).
    nak = (
        NakReason.UNSUPPORTED_MESSAGE_TYPE
        if msg_type == table.BASIC
        else (NakReason.REQUEST_NOT_SUPPORTED)
    )
    return UnknownMessageError(
        f"unknown opcode1 0x{payload[0]:02X} for {_type_label(msg_type)}", nak
    )


# --- Encoding --------------------------------------------------------------------------------


def spec_named(name: str) -> table.MessageSpec:
    try:
        return table.BY_NAME[name]
    except KeyError:
        raise MessageEncodeError(f"unknown message name {name!r}") from None


def parse_type(msg_type: str | int) -> int:
    if isinstance(msg_type, int):
        value = msg_type
    else:
        try:
            value = int(msg_type, 16)
        except ValueError:
            raise MessageEncodeError(f"message type {msg_type!r} is not hex") from None
    if not 0 <= value <= 0xFFFF:
        raise MessageEncodeError(f"message type {msg_type!r} does not fit two bytes")
    return value


def to_frame(message: Message | str, /, **fields: object) -> LinkFrame:
    """The frame of ``message`` (built once), or of a row name and its fields."""
    if isinstance(message, Message):
        if fields:
            raise MessageEncodeError("give fields either in the Message or as keywords")
        return message.frame
    return _encode(message, fields)


def _encode(name: str, values: Mapping[str, object]) -> LinkFrame:
    if name == LINK_ACK:
        return LinkAck()
    if name == LINK_NAK:
        reason = values.get("reason", NakReason.NO_REASON)
        if isinstance(reason, bool) or not isinstance(reason, int) or not 0 <= reason <= 255:
            raise MessageEncodeError(f"field reason must be a byte, got {reason!r}")
        return LinkNak(reason)
    spec = spec_named(name)
    unknown = values.keys() - spec.layout.key_set
    if spec.msg_type is None:  # the type query: any type, no payload
        unknown.discard("msg_type")
        raw_type = values.get("msg_type")
        if raw_type is None or not isinstance(raw_type, str | int):
            raise MessageEncodeError(f"{name} needs msg_type, e.g. '0801'")
        type_value = parse_type(raw_type)
    else:
        type_value = spec.msg_type
    if unknown:
        raise MessageEncodeError(
            f"unknown field(s) {', '.join(sorted(unknown))} for {name}; "
            f"known: {', '.join(spec.keys) or 'none'}"
        )
    try:
        payload = spec.opcodes + spec.layout.encode(values)
    except MessageEncodeError as exc:
        raise MessageEncodeError(f"{name}: {exc}") from None
    except KeyError as exc:  # pragma: no cover - fields check presence before reading
        raise MessageEncodeError(f"{name}: missing field {exc}") from None
    return Frame(type_value, payload)


def to_data_frame(message: Message) -> Frame:
    """The data frame of ``message`` (an application message; never a link ACK/NAK)."""
    frame = message.frame
    if not isinstance(frame, Frame):
        raise TypeError(f"{message.name} is not a data frame")
    return frame


def encode(message: Message | str, /, **fields: object) -> bytes:
    """Complete frame bytes (check bytes included) for a Message or a name and fields.

    Wire keys win over derived ones (``duration_code`` over ``duration_s``), so a decoded
    message's fields encode to the same bytes.
    """
    return to_frame(message, **fields).serialize()


@overload
def build(kind: type[M], /, **fields: object) -> M: ...
@overload
def build(kind: str, /, **fields: object) -> Message: ...
def build(kind: type[Message] | str, /, **fields: object) -> Message:
    """A message of a row's class (or name) from its fields, encoded once; its fields are
    decoded from that frame only when read."""
    name = kind if isinstance(kind, str) else kind.NAME
    return _message(name, _encode(name, fields), None)


# --- Requests and replies --------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedReply:
    """The application reply a request waits for after its link ACK.

    Basic DR: App ACK whose ``opcode`` is the request's opcode1 (or an App NAK); the operational
    state query is answered by 0x13. Intermediate DR: the same opcode1 and ``opcode2 | 0x80``.
    ``names[0]`` is the reply the request's table row names; the other names share its opcodes
    (a Get's error reply decodes like the Set reply), and ``app_nak`` comes last.
    """

    msg_type: str
    opcode1: int
    opcode2: int | None
    names: tuple[str, ...]


def expected_reply(request: Message) -> ExpectedReply | None:
    """What answers ``request``, or ``None`` when only a link ACK/NAK does (§6, §8, §9)."""
    spec = table.BY_NAME.get(request.name)
    if spec is None or spec.reply is None or request.opcode1 is None:
        return None
    if spec.reply == table.APP_ACK:
        return ExpectedReply(
            type_hex(table.BASIC), 0x03, request.opcode1, (table.APP_ACK, "app_nak")
        )
    reply = table.BY_NAME[spec.reply]
    assert reply.msg_type is not None  # replies have a fixed type; only the type query has none
    siblings = [s.name for s in table.BY_OPCODES[(reply.msg_type, reply.opcodes)]]
    siblings.remove(reply.name)
    return ExpectedReply(
        type_hex(reply.msg_type),
        reply.opcodes[0],
        reply.opcodes[1] if len(reply.opcodes) > 1 else None,
        (reply.name, *siblings, "app_nak"),
    )


def is_reply_to(reply: Message, request: Message) -> bool:
    """Does ``reply`` answer ``request``?

    An App NAK answers any request that expects an application reply: it carries no opcode
    (§8.4), and pycta2045 even App-NAKs unsupported Intermediate requests with it (§12.4).
    An Intermediate reply matches on opcodes, not name, because a Get answered with an error
    code is only three bytes long and then decodes like the Set reply (§9.1).
    """
    expected = expected_reply(request)
    if expected is None:
        return False
    if reply.name == "app_nak":
        return True
    if reply.msg_type != expected.msg_type or reply.opcode1 != expected.opcode1:
        return False
    if expected.names[0] == table.APP_ACK:
        return isinstance(reply, typed.AppAck) and reply.opcode == request.opcode1
    return expected.opcode2 is None or reply.opcode2 == expected.opcode2


def is_supported(msg_type: str | int) -> bool:
    """Whether this codec implements a message type (answer a type query with link ACK)."""
    try:
        return parse_type(msg_type) in table.SUPPORTED_TYPES
    except MessageEncodeError:
        return False
