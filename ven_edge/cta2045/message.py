"""A CTA-2045 message: its name in the message table, its frame, and its decoded fields.

A message is its frame: the bytes are encoded once, when the message is built, and never again
(sending it serializes that frame). Its fields are decoded once: when the frame came off the wire
(the codec decodes it whole), or, for a message built here, only if somebody reads them.

Every row of :mod:`ven_edge.cta2045.table` has a subclass with typed attributes, generated into
:mod:`ven_edge.cta2045.typed`; this base class also stands for the messages outside the table
(link ACK, link NAK and the message-type-supported query, docs/cta2045.md §2, §6).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, NoReturn

from ven_edge.cta2045 import table
from ven_edge.cta2045.frames import (
    LINK_ACK_MSB,
    LINK_NAK_MSB,
    Frame,
    LinkAck,
    LinkFrame,
    LinkNak,
)

LINK_ACK = "link_ack"
LINK_NAK = "link_nak"
MTSQ = "message_type_supported_query"

_TYPE_HEX = {t: f"{t:04X}" for t in table.SUPPORTED_TYPES}


def type_hex(msg_type: int) -> str:
    """A message type as four hex digits (``"0801"``)."""
    return _TYPE_HEX.get(msg_type) or f"{msg_type:04X}"


class Message:
    """A decoded (or built) CTA-2045 message; immutable.

    ``msg_type`` is four hex digits (``"0801"``; ``"06"``/``"15"`` for a link ACK/NAK);
    ``opcode1``/``opcode2`` are the first two payload bytes when present (for Basic DR, opcode2
    is the data byte). ``fields`` holds the wire values and derived values with units in their
    names (``duration_s``, ``energy_wh``); the generated subclasses offer them as typed
    attributes. See ``ven-edge cta2045 messages`` for every key.
    """

    __slots__ = ("_fields", "frame", "name")

    #: The table row a generated subclass stands for ("" for the base class).
    NAME: ClassVar[str] = ""

    name: str
    frame: LinkFrame
    _fields: Mapping[str, object] | None

    def __init__(
        self, name: str, frame: LinkFrame, fields: Mapping[str, object] | None = None
    ) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "frame", frame)
        object.__setattr__(self, "_fields", None if fields is None else MappingProxyType(fields))

    def __setattr__(self, key: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, key: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.name == other.name and self.frame == other.frame

    def __hash__(self) -> int:
        return hash((self.name, self.frame))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {dict(self.fields)!r})"

    @property
    def msg_type(self) -> str:
        frame = self.frame
        if isinstance(frame, Frame):
            return type_hex(frame.msg_type)
        return f"{LINK_ACK_MSB if isinstance(frame, LinkAck) else LINK_NAK_MSB:02X}"

    @property
    def opcode1(self) -> int | None:
        frame = self.frame
        return frame.payload[0] if isinstance(frame, Frame) and frame.payload else None

    @property
    def opcode2(self) -> int | None:
        frame = self.frame
        if isinstance(frame, Frame) and len(frame.payload) > 1:
            return frame.payload[1]
        return None

    @property
    def fields(self) -> Mapping[str, object]:
        fields = self._fields
        if fields is None:
            fields = MappingProxyType(self._decode_fields())
            object.__setattr__(self, "_fields", fields)
        return fields

    def _decode_fields(self) -> dict[str, object]:
        frame = self.frame
        if isinstance(frame, LinkNak):
            return {"reason": frame.reason, "reason_name": frame.reason_name}
        spec = table.BY_NAME.get(self.name)
        if spec is None or not isinstance(frame, Frame):
            return {}  # a link ACK
        return spec.layout.decode(frame.payload[len(spec.opcodes) :])

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: name, msg_type, opcode1, opcode2 and fields."""
        return {
            "name": self.name,
            "msg_type": self.msg_type,
            "opcode1": self.opcode1,
            "opcode2": self.opcode2,
            "fields": _plain(self.fields),
        }


def _plain(value: object) -> Any:
    """Fields as JSON values: mappings as dicts, sequences as lists."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
