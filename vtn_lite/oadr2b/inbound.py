"""What 2.0b VENs send the VTN, read into typed requests (docs/vtn-lite-2.0b.md "Messages").

:func:`read_request` takes the body bytes (hardened parser of :mod:`ven_edge.oadr2b.xmlsafe`)
and returns one request dataclass, or raises :class:`~ven_edge.oadr2b.errors.MessageError` with
the profile's response code and the reason. Identifiers and texts are bounded; counts of
repeated elements are bounded too, so no message makes the VTN keep much.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from lxml import etree

from ven_edge.oadr2b.build import child, children, local_name, text
from ven_edge.oadr2b.codes import ResponseCode
from ven_edge.oadr2b.envelope import Envelope, open_payload
from ven_edge.oadr2b.errors import MessageError
from ven_edge.oadr2b.ns import EI, EMIX, OADR, PYLD, STRM, XCAL, q
from ven_edge.oadr2b.timevalues import TimeFormatError, read_dt
from ven_edge.oadr2b.xmlsafe import XmlRejected, parse_xml

MAX_ID: Final = 256
MAX_ITEMS: Final = 1000  # event responses, report descriptions or report intervals per message
#: The flags of oadrPayloadResourceStatus kept from a TELEMETRY_STATUS report
#: (docs/vtn-lite-2.0b.md "Messages").
_STATUS_FLAGS: Final = ("oadrOnline", "oadrManualOverride")


@dataclass(frozen=True, slots=True)
class QueryRegistration:
    request_id: str


@dataclass(frozen=True, slots=True)
class CreatePartyRegistration:
    request_id: str
    ven_name: str
    ven_id: str | None
    registration_id: str | None
    profile: str
    transport: str
    pull: bool
    signature: bool
    report_only: bool


@dataclass(frozen=True, slots=True)
class CancelPartyRegistration:
    request_id: str
    ven_id: str
    registration_id: str


@dataclass(frozen=True, slots=True)
class VenMessage:
    """A message that only names its VEN: oadrPoll, oadrResponse, oadrCanceledPartyRegistration,
    oadrCreatedReport (``kind`` is the message name)."""

    kind: str
    ven_id: str
    request_id: str | None = None
    code: int = 200


@dataclass(frozen=True, slots=True)
class RequestEvent:
    request_id: str
    ven_id: str


@dataclass(frozen=True, slots=True)
class EventResponse:
    event_id: str
    modification_number: int
    opt: str
    code: int
    request_id: str


@dataclass(frozen=True, slots=True)
class CreatedEvent:
    ven_id: str
    code: int
    responses: tuple[EventResponse, ...]


@dataclass(frozen=True, slots=True)
class ReportDescription:
    r_id: str
    report_type: str
    reading_type: str
    units: str | None
    resource_id: str | None


@dataclass(frozen=True, slots=True)
class RegisteredMetadata:
    specifier_id: str
    name: str
    descriptions: tuple[ReportDescription, ...]


@dataclass(frozen=True, slots=True)
class RegisterReport:
    request_id: str
    ven_id: str
    reports: tuple[RegisteredMetadata, ...]


@dataclass(frozen=True, slots=True)
class ReportPoint:
    """One value of a report: a number (TELEMETRY_USAGE), or one flag of a resource status
    (TELEMETRY_STATUS: ``r_id`` is then ``<rID>/oadrOnline`` or ``<rID>/oadrManualOverride``)."""

    at: datetime
    r_id: str
    value: float | bool


@dataclass(frozen=True, slots=True)
class ReportData:
    report_request_id: str
    specifier_id: str
    name: str
    points: tuple[ReportPoint, ...]


@dataclass(frozen=True, slots=True)
class UpdateReport:
    request_id: str
    ven_id: str
    reports: tuple[ReportData, ...]


@dataclass(frozen=True, slots=True)
class CreateOpt:
    request_id: str
    ven_id: str
    opt_id: str
    opt: str
    reason: str
    event_id: str | None
    modification_number: int | None


@dataclass(frozen=True, slots=True)
class CancelOpt:
    request_id: str
    ven_id: str
    opt_id: str


Request = (
    QueryRegistration
    | CreatePartyRegistration
    | CancelPartyRegistration
    | VenMessage
    | RequestEvent
    | CreatedEvent
    | RegisterReport
    | UpdateReport
    | CreateOpt
    | CancelOpt
)


def open_body(body: bytes, *, max_bytes: int) -> Envelope:
    """The envelope of ``body``; :class:`MessageError` 400 for XML that cannot be used."""
    try:
        root = parse_xml(body, max_bytes=max_bytes)
    except XmlRejected as exc:
        raise MessageError(ResponseCode.BAD_REQUEST, str(exc)) from None
    return open_payload(root)


def read_request(envelope: Envelope) -> Request:
    reader = _READERS.get(envelope.name)
    if reader is None:
        raise MessageError(
            ResponseCode.NOT_RECOGNIZED, f"{envelope.name[:64]} is not a message a VTN serves"
        )
    return reader(envelope.message)


# --- readers --------------------------------------------------------------------------------


def _query_registration(m: etree._Element) -> QueryRegistration:
    return QueryRegistration(_ident(m, "request ID", q(PYLD, "requestID"), required=False))


def _create_party(m: etree._Element) -> CreatePartyRegistration:
    return CreatePartyRegistration(
        request_id=_ident(m, "requestID", q(PYLD, "requestID"), required=False),
        ven_name=_ident(m, "oadrVenName", q(OADR, "oadrVenName")),
        ven_id=_ident(m, "venID", q(EI, "venID"), required=False) or None,
        registration_id=_ident(m, "registrationID", q(EI, "registrationID"), required=False)
        or None,
        profile=_ident(m, "oadrProfileName", q(OADR, "oadrProfileName")),
        transport=_ident(m, "oadrTransportName", q(OADR, "oadrTransportName")),
        pull=_flag(m, q(OADR, "oadrHttpPullModel"), default=True),
        signature=_flag(m, q(OADR, "oadrXmlSignature"), default=False),
        report_only=_flag(m, q(OADR, "oadrReportOnly"), default=False),
    )


def _cancel_party(m: etree._Element) -> CancelPartyRegistration:
    return CancelPartyRegistration(
        request_id=_ident(m, "requestID", q(PYLD, "requestID"), required=False),
        ven_id=_ident(m, "venID", q(EI, "venID")),
        registration_id=_ident(m, "registrationID", q(EI, "registrationID")),
    )


def _ven_message(m: etree._Element) -> VenMessage:
    code = _code(text(m, q(EI, "eiResponse"), q(EI, "responseCode")) or "200")
    request_id = text(m, q(EI, "eiResponse"), q(PYLD, "requestID"))
    return VenMessage(local_name(m), _ident(m, "venID", q(EI, "venID")), _bound(request_id), code)


def _request_event(m: etree._Element) -> RequestEvent:
    inner = _need(m, q(PYLD, "eiRequestEvent"))
    return RequestEvent(
        _ident(inner, "requestID", q(PYLD, "requestID"), required=False),
        _ident(inner, "venID", q(EI, "venID")),
    )


def _created_event(m: etree._Element) -> CreatedEvent:
    inner = _need(m, q(PYLD, "eiCreatedEvent"))
    responses = []
    holder = child(inner, q(EI, "eventResponses"))
    nodes = list(children(holder, q(EI, "eventResponse"))) if holder is not None else []
    _bounded(nodes, "event responses")
    for node in nodes:
        opt = _ident(node, "optType", q(EI, "optType"))
        if opt not in ("optIn", "optOut"):
            raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"optType {opt[:20]!r}")
        responses.append(
            EventResponse(
                event_id=_ident(node, "eventID", q(EI, "qualifiedEventID"), q(EI, "eventID")),
                modification_number=_count(
                    _ident(
                        node,
                        "modificationNumber",
                        q(EI, "qualifiedEventID"),
                        q(EI, "modificationNumber"),
                    )
                ),
                opt=opt,
                code=_code(text(node, q(EI, "responseCode")) or "200"),
                request_id=_ident(node, "requestID", q(PYLD, "requestID"), required=False),
            )
        )
    code = _code(text(inner, q(EI, "eiResponse"), q(EI, "responseCode")) or "200")
    return CreatedEvent(_ident(inner, "venID", q(EI, "venID")), code, tuple(responses))


def _register_report(m: etree._Element) -> RegisterReport:
    reports = []
    nodes = list(children(m, q(OADR, "oadrReport")))
    _bounded(nodes, "reports")
    for node in nodes:
        descriptions = []
        items = list(children(node, q(OADR, "oadrReportDescription")))
        _bounded(items, "report descriptions")
        for item in items:
            source = child(item, q(EI, "reportDataSource"))
            descriptions.append(
                ReportDescription(
                    r_id=_ident(item, "rID", q(EI, "rID")),
                    report_type=_ident(item, "reportType", q(EI, "reportType")),
                    reading_type=_ident(item, "readingType", q(EI, "readingType"), required=False),
                    units=_units(item),
                    resource_id=_bound(text(source, q(EI, "resourceID")))
                    if source is not None
                    else None,
                )
            )
        reports.append(
            RegisteredMetadata(
                specifier_id=_ident(node, "reportSpecifierID", q(EI, "reportSpecifierID")),
                name=_ident(node, "reportName", q(EI, "reportName"), required=False),
                descriptions=tuple(descriptions),
            )
        )
    return RegisterReport(
        _ident(m, "requestID", q(PYLD, "requestID"), required=False),
        _ident(m, "venID", q(EI, "venID")),
        tuple(reports),
    )


def _update_report(m: etree._Element) -> UpdateReport:
    reports = []
    nodes = list(children(m, q(OADR, "oadrReport")))
    _bounded(nodes, "reports")
    for node in nodes:
        points = []
        holder = child(node, q(STRM, "intervals"))
        intervals = list(children(holder, q(EI, "interval"))) if holder is not None else []
        _bounded(intervals, "report intervals")
        report_start = text(node, q(XCAL, "dtstart"), q(XCAL, "date-time"))
        for interval in intervals:
            start = text(interval, q(XCAL, "dtstart"), q(XCAL, "date-time")) or report_start
            if start is None:
                raise MessageError(ResponseCode.COMPLIANCE_ERROR, "report interval without dtstart")
            for payload in children(interval, q(OADR, "oadrReportPayload")):
                r_id = _ident(payload, "rID", q(EI, "rID"))
                value = text(payload, q(EI, "payloadFloat"), q(EI, "value"))
                if value is not None:
                    points.append(ReportPoint(_dt(start), r_id, _float(value)))
                status = child(payload, q(OADR, "oadrPayloadResourceStatus"))
                if status is not None:
                    for flag in _STATUS_FLAGS:
                        if status.find(q(OADR, flag)) is not None:
                            on = _flag(status, q(OADR, flag), default=False)
                            points.append(ReportPoint(_dt(start), f"{r_id}/{flag}", on))
                _bounded_points(points)
        reports.append(
            ReportData(
                report_request_id=_ident(node, "reportRequestID", q(EI, "reportRequestID")),
                specifier_id=_ident(node, "reportSpecifierID", q(EI, "reportSpecifierID")),
                name=_ident(node, "reportName", q(EI, "reportName"), required=False),
                points=tuple(points),
            )
        )
    return UpdateReport(
        _ident(m, "requestID", q(PYLD, "requestID"), required=False),
        _ident(m, "venID", q(EI, "venID")),
        tuple(reports),
    )


def _create_opt(m: etree._Element) -> CreateOpt:
    opt = _ident(m, "optType", q(EI, "optType"))
    if opt not in ("optIn", "optOut"):
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"optType {opt[:20]!r}")
    event_id = _ident(m, "eventID", q(EI, "qualifiedEventID"), q(EI, "eventID"), required=False)
    number = text(m, q(EI, "qualifiedEventID"), q(EI, "modificationNumber"))
    return CreateOpt(
        request_id=_ident(m, "requestID", q(PYLD, "requestID"), required=False),
        ven_id=_ident(m, "venID", q(EI, "venID")),
        opt_id=_ident(m, "optID", q(EI, "optID")),
        opt=opt,
        reason=_ident(m, "optReason", q(EI, "optReason"), required=False),
        event_id=event_id or None,
        modification_number=_count(number) if number is not None else None,
    )


def _cancel_opt(m: etree._Element) -> CancelOpt:
    return CancelOpt(
        _ident(m, "requestID", q(PYLD, "requestID"), required=False),
        _ident(m, "venID", q(EI, "venID")),
        _ident(m, "optID", q(EI, "optID")),
    )


_READERS: Final[dict[str, Callable[[etree._Element], Request]]] = {
    "oadrQueryRegistration": _query_registration,
    "oadrCreatePartyRegistration": _create_party,
    "oadrCancelPartyRegistration": _cancel_party,
    "oadrCanceledPartyRegistration": _ven_message,
    "oadrPoll": _ven_message,
    "oadrResponse": _ven_message,
    "oadrCreatedReport": _ven_message,
    "oadrRequestEvent": _request_event,
    "oadrCreatedEvent": _created_event,
    "oadrRegisterReport": _register_report,
    "oadrUpdateReport": _update_report,
    "oadrCreateOpt": _create_opt,
    "oadrCancelOpt": _cancel_opt,
}


# --- values -----------------------------------------------------------------------------------


def _need(parent: etree._Element, tag: str) -> etree._Element:
    node = parent.find(tag)
    if node is None:
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"missing {etree.QName(tag).localname}")
    return node


def _ident(parent: etree._Element, what: str, *path: str, required: bool = True) -> str:
    value = text(parent, *path)
    if value is None:
        if required:
            raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"missing {what}")
        return ""
    if len(value) > MAX_ID:
        raise MessageError(ResponseCode.INVALID_DATA, f"{what} longer than {MAX_ID} characters")
    return value


def _bound(value: str | None) -> str | None:
    return value[:MAX_ID] if value is not None else None


def _bounded_points(points: list[ReportPoint]) -> None:
    if len(points) > MAX_ITEMS:
        raise MessageError(ResponseCode.INVALID_DATA, f"more than {MAX_ITEMS} report values")


def _bounded(items: list[etree._Element], what: str) -> None:
    if len(items) > MAX_ITEMS:
        raise MessageError(ResponseCode.INVALID_DATA, f"more than {MAX_ITEMS} {what}")


def _flag(parent: etree._Element, tag: str, *, default: bool) -> bool:
    value = text(parent, tag)
    if value is None:
        return default
    if value not in ("true", "false", "1", "0"):
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"{value[:20]!r} is not a boolean")
    return value in ("true", "1")


def _count(value: str) -> int:
    if not value.isdigit() or len(value) > 9:
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"{value[:20]!r} is not a count")
    return int(value)


def _code(value: str) -> int:
    if not value.isdigit() or len(value) != 3:
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"responseCode {value[:20]!r}")
    return int(value)


def _float(value: str) -> float:
    try:
        number = float(value) if len(value) <= 64 else math.nan
    except ValueError:
        raise MessageError(ResponseCode.COMPLIANCE_ERROR, f"{value[:20]!r} not a number") from None
    if not math.isfinite(number):
        raise MessageError(ResponseCode.INVALID_DATA, f"{value[:20]!r} not finite")
    return number


def _dt(value: str) -> datetime:
    try:
        return read_dt(value)
    except TimeFormatError as exc:
        raise MessageError(ResponseCode.INVALID_DATA, f"dtstart: {exc}") from None


def _units(description: etree._Element) -> str | None:
    """itemUnits of the description's unit element (any emix itemBase), if any."""
    for node in description:
        if not isinstance(node.tag, str) or node.tag.startswith(f"{{{EI}}}"):
            continue
        if node.tag == q(EMIX, "marketContext"):
            continue
        for part in node:
            if isinstance(part.tag, str) and local_name(part) == "itemUnits":
                return _bound((part.text or "").strip()) or None
    return None
