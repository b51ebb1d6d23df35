"""Registration messages: oadrQueryRegistration, oadrCreatePartyRegistration and the VTN's
oadrCreatedPartyRegistration (digest §1.1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lxml import etree

from ven_edge.oadr2b.build import sub, text
from ven_edge.oadr2b.codes import ResponseCode
from ven_edge.oadr2b.envelope import new_payload
from ven_edge.oadr2b.errors import MessageError
from ven_edge.oadr2b.ns import EI, OADR, PYLD, XCAL, q
from ven_edge.oadr2b.replies import read_response
from ven_edge.oadr2b.timevalues import TimeFormatError, read_span


@dataclass(frozen=True, slots=True)
class Registration:
    """What oadrCreatedPartyRegistration told: ids (None: not registered) and the poll period."""

    vtn_id: str
    ven_id: str | None
    registration_id: str | None
    poll_freq: timedelta | None


def build_query_registration(request_id: str) -> etree._Element:
    payload, body = new_payload("oadrQueryRegistration")
    sub(body, q(PYLD, "requestID"), request_id)
    return payload


def build_create_party_registration(
    request_id: str,
    ven_name: str,
    *,
    signed: bool,
    ven_id: str | None = None,
    registration_id: str | None = None,
) -> etree._Element:
    """A pull-mode simpleHttp 2.0b registration (rule 37)."""
    payload, body = new_payload("oadrCreatePartyRegistration")
    sub(body, q(PYLD, "requestID"), request_id)
    if registration_id is not None:
        sub(body, q(EI, "registrationID"), registration_id)
    if ven_id is not None:
        sub(body, q(EI, "venID"), ven_id)
    sub(body, q(OADR, "oadrProfileName"), "2.0b")
    sub(body, q(OADR, "oadrTransportName"), "simpleHttp")
    sub(body, q(OADR, "oadrTransportAddress"), "")
    sub(body, q(OADR, "oadrReportOnly"), "false")
    sub(body, q(OADR, "oadrXmlSignature"), "true" if signed else "false")
    sub(body, q(OADR, "oadrVenName"), ven_name)
    sub(body, q(OADR, "oadrHttpPullModel"), "true")
    return payload


def parse_created_party_registration(message: etree._Element) -> Registration:
    """The registration in an oadrCreatedPartyRegistration; a refusal has no registrationID."""
    if message.tag != q(OADR, "oadrCreatedPartyRegistration"):
        raise MessageError(ResponseCode.BAD_REQUEST, f"{message.tag} is not a registration answer")
    code, description = read_response(message)
    if code >= 300:
        raise MessageError(ResponseCode.NOT_REGISTERED_OR_AUTHORIZED, f"{code} {description}")
    freq_text = text(message, q(OADR, "oadrRequestedOadrPollFreq"), q(XCAL, "duration"))
    poll: timedelta | None = None
    if freq_text is not None:
        try:
            poll = read_span(freq_text)
        except TimeFormatError as exc:
            raise MessageError(ResponseCode.INVALID_DATA, f"poll frequency: {exc}") from None
    return Registration(
        vtn_id=(text(message, q(EI, "vtnID")) or "")[:256],
        ven_id=_short(text(message, q(EI, "venID"))),
        registration_id=_short(text(message, q(EI, "registrationID"))),
        poll_freq=poll,
    )


def _short(value: str | None) -> str | None:
    return value[:256] if value is not None else None
