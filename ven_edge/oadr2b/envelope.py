"""oadr:oadrPayload / oadr:oadrSignedObject, the envelope of every 2.0b message."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ven_edge.oadr2b.build import local_name, root, sub
from ven_edge.oadr2b.codes import ResponseCode
from ven_edge.oadr2b.errors import MessageError
from ven_edge.oadr2b.ns import DS, EI, OADR, q

#: The Id the XML signature references (openleadr and the profile's examples use this value).
SIGNED_OBJECT_ID = "oadrSignedObject"


@dataclass(frozen=True, slots=True)
class Envelope:
    payload: etree._Element  # oadr:oadrPayload
    message: etree._Element  # the one child of oadr:oadrSignedObject
    signature: etree._Element | None  # ds:Signature, when the sender signed

    @property
    def name(self) -> str:
        """The message's local name, e.g. ``oadrDistributeEvent``."""
        return local_name(self.message)


def open_payload(payload: etree._Element) -> Envelope:
    """The message inside ``payload``; :class:`MessageError` 400 for anything else."""
    if payload.tag != q(OADR, "oadrPayload"):
        raise MessageError(ResponseCode.BAD_REQUEST, f"root is {payload.tag}, not oadrPayload")
    signed = payload.find(q(OADR, "oadrSignedObject"))
    if signed is None:
        raise MessageError(ResponseCode.BAD_REQUEST, "no oadrSignedObject")
    inner = [node for node in signed if isinstance(node.tag, str)]
    if len(inner) != 1:
        raise MessageError(
            ResponseCode.BAD_REQUEST, f"oadrSignedObject holds {len(inner)} messages, not 1"
        )
    return Envelope(payload, inner[0], payload.find(q(DS, "Signature")))


def new_payload(message: str) -> tuple[etree._Element, etree._Element]:
    """A fresh ``(oadrPayload, message element)`` pair for the 2.0b message named ``message``.

    The message carries ``ei:schemaVersion="2.0b"`` as the schema requires.
    """
    payload = root(q(OADR, "oadrPayload"))
    signed = sub(payload, q(OADR, "oadrSignedObject"))
    signed.set(q(OADR, "Id"), SIGNED_OBJECT_ID)
    body = sub(signed, q(OADR, message))
    body.set(q(EI, "schemaVersion"), "2.0b")
    return payload, body
