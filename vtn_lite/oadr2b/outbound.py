"""The messages the VTN sends 2.0b VENs, in oadr_20b.xsd's element order.

oadrDistributeEvent is :func:`ven_edge.oadr2b.distribute.build_distribute` and the eiResponse
:func:`ven_edge.oadr2b.replies.add_response`; these are the rest.
Every builder returns the oadrPayload element; ``requestID`` is echoed from the request (an
empty ``requestID`` element where the schema needs one and there is none).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lxml import etree

from ven_edge.oadr2b.build import sub
from ven_edge.oadr2b.envelope import new_payload
from ven_edge.oadr2b.ns import EI, OADR, PYLD, XCAL, q
from ven_edge.oadr2b.replies import add_response, build_response
from ven_edge.oadr2b.timevalues import format_span

PROFILE = "2.0b"
TRANSPORT = "simpleHttp"


@dataclass(frozen=True, slots=True)
class Reply:
    """The eiResponse of an answer: code, description, echoed requestID."""

    code: int = 200
    description: str = "OK"
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """One oadrReportRequest: the VTN asks for ``r_ids`` of a registered report."""

    request_id: str
    specifier_id: str
    granularity: timedelta
    report_back: timedelta
    r_ids: tuple[tuple[str, str], ...]  # (rID, readingType)


def _ei_response(parent: etree._Element, reply: Reply) -> None:
    add_response(parent, reply.code, reply.description[:200], reply.request_id)


def response(reply: Reply, ven_id: str | None) -> etree._Element:
    return build_response(ven_id, reply.request_id, reply.code, reply.description[:200])


def created_party_registration(
    reply: Reply,
    *,
    vtn_id: str,
    poll_interval: timedelta,
    ven_id: str | None = None,
    registration_id: str | None = None,
) -> etree._Element:
    payload, body = new_payload("oadrCreatedPartyRegistration")
    _ei_response(body, reply)
    if registration_id:
        sub(body, q(EI, "registrationID"), registration_id)
    if ven_id:
        sub(body, q(EI, "venID"), ven_id)
    sub(body, q(EI, "vtnID"), vtn_id)
    profile = sub(sub(body, q(OADR, "oadrProfiles")), q(OADR, "oadrProfile"))
    sub(profile, q(OADR, "oadrProfileName"), PROFILE)
    transport = sub(sub(profile, q(OADR, "oadrTransports")), q(OADR, "oadrTransport"))
    sub(transport, q(OADR, "oadrTransportName"), TRANSPORT)
    freq = sub(body, q(OADR, "oadrRequestedOadrPollFreq"))
    sub(freq, q(XCAL, "duration"), format_span(poll_interval))
    return payload


def canceled_party_registration(
    reply: Reply, *, registration_id: str | None, ven_id: str | None
) -> etree._Element:
    payload, body = new_payload("oadrCanceledPartyRegistration")
    _ei_response(body, reply)
    if registration_id:
        sub(body, q(EI, "registrationID"), registration_id)
    if ven_id:
        sub(body, q(EI, "venID"), ven_id)
    return payload


def cancel_party_registration(
    request_id: str, *, registration_id: str, ven_id: str
) -> etree._Element:
    payload, body = new_payload("oadrCancelPartyRegistration")
    sub(body, q(PYLD, "requestID"), request_id)
    sub(body, q(EI, "registrationID"), registration_id)
    sub(body, q(EI, "venID"), ven_id)
    return payload


def request_reregistration(ven_id: str) -> etree._Element:
    payload, body = new_payload("oadrRequestReregistration")
    sub(body, q(EI, "venID"), ven_id)
    return payload


def registered_report(
    reply: Reply, *, ven_id: str, requests: tuple[ReportRequest, ...] = ()
) -> etree._Element:
    payload, body = new_payload("oadrRegisteredReport")
    _ei_response(body, reply)
    for request in requests:
        _report_request(body, request)
    sub(body, q(EI, "venID"), ven_id)
    return payload


def _report_request(parent: etree._Element, request: ReportRequest) -> None:
    node = sub(parent, q(OADR, "oadrReportRequest"))
    sub(node, q(EI, "reportRequestID"), request.request_id)
    specifier = sub(node, q(EI, "reportSpecifier"))
    sub(specifier, q(EI, "reportSpecifierID"), request.specifier_id)
    sub(
        sub(specifier, q(XCAL, "granularity")),
        q(XCAL, "duration"),
        format_span(request.granularity),
    )
    back = sub(specifier, q(EI, "reportBackDuration"))
    sub(back, q(XCAL, "duration"), format_span(request.report_back))
    for r_id, reading_type in request.r_ids:
        item = sub(specifier, q(EI, "specifierPayload"))
        sub(item, q(EI, "rID"), r_id)
        sub(item, q(EI, "readingType"), reading_type)


def updated_report(reply: Reply, *, ven_id: str) -> etree._Element:
    payload, body = new_payload("oadrUpdatedReport")
    _ei_response(body, reply)
    sub(body, q(EI, "venID"), ven_id)
    return payload


def opt_answer(name: str, reply: Reply, *, opt_id: str) -> etree._Element:
    """oadrCreatedOpt or oadrCanceledOpt."""
    payload, body = new_payload(name)
    _ei_response(body, reply)
    sub(body, q(EI, "optID"), opt_id)
    return payload
