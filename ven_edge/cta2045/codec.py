"""The CTA-2045 message codec: frames to named fields and back, and how replies pair up.

Every message is a row of :mod:`ven_edge.cta2045.table`:

* :class:`Message` — name, message type (``"0801"``), opcodes and decoded fields.
* :func:`decode` — a frame (or its bytes, check bytes included) to a :class:`Message`.
* :func:`encode` — a :class:`Message`, or a name and fields, to the complete frame bytes.
* :func:`expected_reply` / :func:`is_reply_to` — how requests and replies pair up.

Link ACK and NAK decode to messages named ``link_ack`` / ``link_nak`` whose ``msg_type`` is the
single reserved type byte (``"06"`` / ``"15"``); they are two bytes with neither length nor
check bytes (docs/cta2045.md §2). The constructors for each command are
:mod:`ven_edge.cta2045.messages`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ven_edge.cta2045 import table
from ven_edge.cta2045.errors import (
    MessageEncodeError,
    PayloadLengthError,
    UnknownMessageError,
)
from ven_edge.cta2045.frames import (
    LINK_ACK_MSB,
    LINK_NAK_MSB,
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

LINK_ACK = "link_ack"
LINK_NAK = "link_nak"
MTSQ = "message_type_supported_query"


def _freeze(fields: Mapping[str, object]) -> Mapping[str, object]:
    return MappingProxyType(dict(fields))


@dataclass(frozen=True)
class Message:
    """A decoded (or to-be-encoded) CTA-2045 message.

    ``msg_type`` is four hex digits (``"0801"``); ``opcode1``/``opcode2`` are the first two
    payload bytes when present (for Basic DR, opcode2 is the data byte). ``fields`` holds the
    wire values and derived values with units in their names (``duration_s``, ``duration_min``,
    ``energy_wh``, ``temperature_unit``); see ``ven-edge cta2045 messages`` for every key.
    """

    name: str
    msg_type: str
    opcode1: int | None
    opcode2: int | None
    fields: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", _freeze(self.fields))

    def __hash__(self) -> int:
        return hash((self.name, self.msg_type, self.opcode1, self.opcode2))

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict: name, msg_type, opcode1, opcode2 and fields."""
        return {
            "name": self.name,
            "msg_type": self.msg_type,
            "opcode1": self.opcode1,
            "opcode2": self.opcode2,
            "fields": dict(self.fields),
        }


# --- Decoding --------------------------------------------------------------------------------


_TYPE_HEX = {t: f"{t:04X}" for t in table.SUPPORTED_TYPES}


def type_hex(msg_type: int) -> str:
    return _TYPE_HEX.get(msg_type) or f"{msg_type:04X}"


def _type_label(msg_type: int) -> str:
    try:
        return f"{MessageType(msg_type).name} ({msg_type:04X})"
    except ValueError:
        return f"message type {msg_type:04X}"


def decode(data: Frame | LinkAck | LinkNak | bytes | bytearray) -> Message:
    """Decode one complete frame (check bytes included) or a parsed link frame.

    Raises :class:`~ven_edge.cta2045.frames.ChecksumError` (expected vs received check bytes),
    :class:`~ven_edge.cta2045.frames.LengthError` (the length field disagrees with the bytes
    given), :class:`UnknownMessageError` (type or opcodes not in the table),
    :class:`PayloadLengthError` and :class:`~ven_edge.cta2045.errors.FieldValueError`.
    """
    if isinstance(data, bytes | bytearray):
        data = _parse_exactly_one(bytes(data))
    if isinstance(data, LinkAck):
        return Message(LINK_ACK, f"{LINK_ACK_MSB:02X}", None, None, {})
    if isinstance(data, LinkNak):
        return Message(
            LINK_NAK,
            f"{LINK_NAK_MSB:02X}",
            None,
            None,
            {"reason": data.reason, "reason_name": data.reason_name},
        )
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
        return Message(MTSQ, type_hex(msg_type), None, None, {})
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
            return Message(
                spec.name,
                type_hex(msg_type),
                payload[0],
                payload[1] if len(payload) > 1 else None,
                spec.layout.decode(data),
            )
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


def to_frame(message: Message | str, /, **fields: object) -> Frame | LinkAck | LinkNak:
    """Like :func:`encode`, but return the frame object (for the link engine)."""
    values: Mapping[str, object]
    if isinstance(message, str):
        name, values, msg_type = message, fields, None
    else:
        if fields:
            raise MessageEncodeError("give fields either in the Message or as keywords")
        name, values, msg_type = message.name, message.fields, message.msg_type
    if name == LINK_ACK:
        return LinkAck()
    if name == LINK_NAK:
        reason = values.get("reason", NakReason.NO_REASON)
        if isinstance(reason, bool) or not isinstance(reason, int) or not 0 <= reason <= 255:
            raise MessageEncodeError(f"field reason must be a byte, got {reason!r}")
        return LinkNak(reason)
    spec = spec_named(name)
    unknown = set(values) - set(spec.keys)
    if spec.msg_type is None:  # the type query: any type, no payload
        unknown.discard("msg_type")
        raw_type = values.get("msg_type", msg_type)
        if raw_type is None or not isinstance(raw_type, str | int):
            raise MessageEncodeError(f"{name} needs msg_type, e.g. '0801'")
        type_value = parse_type(raw_type)
    else:
        type_value = spec.msg_type
        if msg_type is not None and parse_type(msg_type) != type_value:
            raise MessageEncodeError(
                f"{name} has message type {type_value:04X}, the Message says {msg_type}"
            )
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
    frame = Frame(type_value, payload)
    if isinstance(message, Message):
        for label, mine, wire in (
            ("opcode1", message.opcode1, frame.opcode1),
            ("opcode2", message.opcode2, frame.opcode2),
        ):
            if mine is not None and mine != wire:
                raise MessageEncodeError(
                    f"{name}: the Message says {label}={mine:#04x} but its fields encode {wire}"
                )
    return frame


def to_data_frame(message: Message) -> Frame:
    """The data frame of ``message`` (an application message; never a link ACK/NAK)."""
    frame = to_frame(message)
    if not isinstance(frame, Frame):
        raise TypeError(f"{message.name} is not a data frame")
    return frame


def encode(message: Message | str, /, **fields: object) -> bytes:
    """Complete frame bytes (check bytes included) for a Message or a name and fields.

    Wire keys win over derived ones (``duration_code`` over ``duration_s``), so a decoded
    message re-encodes to the same bytes.
    """
    return to_frame(message, **fields).serialize()


def build(name: str, /, **fields: object) -> Message:
    """A :class:`Message` with the fields exactly as decoding its encoding yields them."""
    return decode(encode(name, **fields))


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
        return reply.fields.get("opcode") == request.opcode1
    return expected.opcode2 is None or reply.opcode2 == expected.opcode2


def is_supported(msg_type: str | int) -> bool:
    """Whether this codec implements a message type (answer a type query with link ACK)."""
    try:
        return parse_type(msg_type) in table.SUPPORTED_TYPES
    except MessageEncodeError:
        return False
