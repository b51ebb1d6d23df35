"""Small VEN messages: oadrPoll, oadrRequestEvent, oadrResponse, oadrCreatedEvent,
oadrCanceledPartyRegistration, and reading the eiResponse any VTN answer carries."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from ven_edge.oadr2b.build import sub, text
from ven_edge.oadr2b.envelope import new_payload
from ven_edge.oadr2b.events import Opt
from ven_edge.oadr2b.ns import EI, PYLD, q


@dataclass(frozen=True, slots=True)
class EventReply:
    """One ei:eventResponse: the opt for one event at one modification (rule 36, 42)."""

    event_id: str
    modification_number: int
    opt: Opt
    code: int = 200
    description: str = "OK"
    request_id: str = ""


def add_response(
    parent: etree._Element, code: int, description: str, request_id: str | None
) -> None:
    """An ei:eiResponse (requestID empty when none applies, rule 42)."""
    response = sub(parent, q(EI, "eiResponse"))
    sub(response, q(EI, "responseCode"), str(code))
    sub(response, q(EI, "responseDescription"), description)
    sub(response, q(PYLD, "requestID"), request_id or "")


def read_response(message: etree._Element) -> tuple[int, str]:
    """``(code, description)`` of the eiResponse of ``message`` (200 when it has none)."""
    node = message.find(f".//{q(EI, 'eiResponse')}")
    if node is None:
        return 200, ""
    code_text = text(node, q(EI, "responseCode")) or "200"
    code = int(code_text) if code_text.isdigit() and len(code_text) <= 3 else 400
    return code, (text(node, q(EI, "responseDescription")) or "")[:200]


def build_poll(ven_id: str) -> etree._Element:
    payload, body = new_payload("oadrPoll")
    sub(body, q(EI, "venID"), ven_id)
    return payload


def build_request_event(ven_id: str, request_id: str) -> etree._Element:
    payload, body = new_payload("oadrRequestEvent")
    request = sub(body, q(PYLD, "eiRequestEvent"))
    sub(request, q(PYLD, "requestID"), request_id)
    sub(request, q(EI, "venID"), ven_id)
    return payload


def build_response(
    ven_id: str | None, request_id: str | None, code: int = 200, description: str = "OK"
) -> etree._Element:
    payload, body = new_payload("oadrResponse")
    add_response(body, code, description, request_id)
    if ven_id:
        sub(body, q(EI, "venID"), ven_id)
    return payload


def build_created_event(ven_id: str, replies: tuple[EventReply, ...]) -> etree._Element:
    """oadrCreatedEvent answering one or more events (rule 62: only those that need one)."""
    payload, body = new_payload("oadrCreatedEvent")
    created = sub(body, q(PYLD, "eiCreatedEvent"))
    add_response(created, 200, "OK", None)
    responses = sub(created, q(EI, "eventResponses"))
    for reply in replies:
        node = sub(responses, q(EI, "eventResponse"))
        sub(node, q(EI, "responseCode"), str(reply.code))
        sub(node, q(EI, "responseDescription"), reply.description[:200])
        sub(node, q(PYLD, "requestID"), reply.request_id)
        qualified = sub(node, q(EI, "qualifiedEventID"))
        sub(qualified, q(EI, "eventID"), reply.event_id)
        sub(qualified, q(EI, "modificationNumber"), str(reply.modification_number))
        sub(node, q(EI, "optType"), reply.opt.value)
    sub(created, q(EI, "venID"), ven_id)
    return payload


def build_canceled_party_registration(
    ven_id: str, registration_id: str, request_id: str | None
) -> etree._Element:
    payload, body = new_payload("oadrCanceledPartyRegistration")
    add_response(body, 200, "OK", request_id)
    sub(body, q(EI, "registrationID"), registration_id)
    sub(body, q(EI, "venID"), ven_id)
    return payload
