"""Report messages (digest §1.6): the VEN's METADATA register report, the VTN's report requests,
oadrCreatedReport, oadrUpdateReport for TELEMETRY_USAGE and TELEMETRY_STATUS, and
oadrRegisteredReport answering a register report from the VTN."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from lxml import etree

from ven_edge.oadr2b.build import children, sub, text
from ven_edge.oadr2b.envelope import new_payload
from ven_edge.oadr2b.ns import EI, OADR, POWER, PYLD, SCALE, STRM, XCAL, q
from ven_edge.oadr2b.replies import add_response
from ven_edge.oadr2b.timevalues import TimeFormatError, format_dt, format_span, read_span

USAGE_SPECIFIER: Final = "ven-edge-usage"
STATUS_SPECIFIER: Final = "ven-edge-status"
USAGE_RID: Final = "real-power"
STATUS_RID: Final = "status"
#: Fastest report cadence the gateway offers: the heater's power is read once a minute or so.
MIN_SAMPLING: Final = timedelta(seconds=10)
MAX_SAMPLING: Final = timedelta(hours=1)
#: Most report requests kept (the VEN offers two reports).
MAX_REQUESTS: Final = 8


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """oadr:oadrReportRequest for one of the VEN's reports."""

    request_id: str
    specifier_id: str
    granularity: timedelta
    back_duration: timedelta


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading: power in W (usage) or online/override (status)."""

    at: datetime
    power_w: float | None
    online: bool
    manual_override: bool


def build_register_report(
    ven_id: str, request_id: str, now: datetime, resource: str
) -> etree._Element:
    """The METADATA report of what the gateway can send (rule: one replaces the previous)."""
    payload, body = new_payload("oadrRegisterReport")
    sub(body, q(PYLD, "requestID"), request_id)
    for specifier, name, rid in (
        (USAGE_SPECIFIER, "METADATA_TELEMETRY_USAGE", USAGE_RID),
        (STATUS_SPECIFIER, "METADATA_TELEMETRY_STATUS", STATUS_RID),
    ):
        report = sub(body, q(OADR, "oadrReport"))
        sub(sub(report, q(XCAL, "duration")), q(XCAL, "duration"), format_span(MAX_SAMPLING))
        desc = sub(report, q(OADR, "oadrReportDescription"))
        sub(desc, q(EI, "rID"), rid)
        sub(sub(desc, q(EI, "reportDataSource")), q(EI, "resourceID"), resource)
        if specifier == USAGE_SPECIFIER:
            sub(desc, q(EI, "reportType"), "usage")
            _power_item(desc)
            sub(desc, q(EI, "readingType"), "Direct Read")
        else:
            sub(desc, q(EI, "reportType"), "x-resourceStatus")
            sub(desc, q(EI, "readingType"), "x-notApplicable")
        rate = sub(desc, q(OADR, "oadrSamplingRate"))
        sub(rate, q(OADR, "oadrMinPeriod"), format_span(MIN_SAMPLING))
        sub(rate, q(OADR, "oadrMaxPeriod"), format_span(MAX_SAMPLING))
        sub(rate, q(OADR, "oadrOnChange"), "false")
        sub(report, q(EI, "reportRequestID"), "0")
        sub(report, q(EI, "reportSpecifierID"), specifier)
        sub(report, q(EI, "reportName"), name)
        sub(report, q(EI, "createdDateTime"), format_dt(now))
    sub(body, q(EI, "venID"), ven_id)
    return payload


def _power_item(parent: etree._Element) -> None:
    item = sub(parent, q(POWER, "powerReal"))
    sub(item, q(POWER, "itemDescription"), "RealPower")
    sub(item, q(POWER, "itemUnits"), "W")
    sub(item, q(SCALE, "siScaleCode"), "none")
    attrs = sub(item, q(POWER, "powerAttributes"))
    sub(attrs, q(POWER, "hertz"), "60")
    sub(attrs, q(POWER, "voltage"), "240")
    sub(attrs, q(POWER, "ac"), "true")


def parse_report_requests(message: etree._Element) -> tuple[list[ReportRequest], list[str]]:
    """The report requests in an oadrRegisteredReport or oadrCreateReport, and the reasons for
    those that cannot be used (unknown specifier, bad durations)."""
    requests: list[ReportRequest] = []
    problems: list[str] = []
    for node in children(message, q(OADR, "oadrReportRequest")):
        request_id = (text(node, q(EI, "reportRequestID")) or "")[:256]
        spec = node.find(q(EI, "reportSpecifier"))
        specifier = (text(spec, q(EI, "reportSpecifierID")) or "") if spec is not None else ""
        if specifier not in (USAGE_SPECIFIER, STATUS_SPECIFIER):
            problems.append(f"report request {request_id!r}: unknown specifier {specifier[:40]!r}")
            continue
        assert spec is not None
        try:
            granularity = read_span(
                text(spec, q(XCAL, "granularity"), q(XCAL, "duration")) or "PT0S"
            )
            back = read_span(text(spec, q(EI, "reportBackDuration"), q(XCAL, "duration")) or "PT0S")
        except TimeFormatError as exc:
            problems.append(f"report request {request_id!r}: {exc}")
            continue
        granularity = min(max(granularity, MIN_SAMPLING), MAX_SAMPLING)
        back = min(max(back, granularity), MAX_SAMPLING)
        if len(requests) < MAX_REQUESTS:
            requests.append(ReportRequest(request_id, specifier, granularity, back))
    return requests, problems


def build_pending_reports(
    message: str, ven_id: str, request_id: str | None, pending: tuple[str, ...]
) -> etree._Element:
    """oadrCreatedReport or oadrCanceledReport (``message``): the answer to a report request
    or a cancel, listing the report requests still pending."""
    payload, body = new_payload(message)
    add_response(body, 200, "OK", request_id)
    pending_node = sub(body, q(OADR, "oadrPendingReports"))
    for report_request_id in pending:
        sub(pending_node, q(EI, "reportRequestID"), report_request_id)
    sub(body, q(EI, "venID"), ven_id)
    return payload


def build_registered_report(ven_id: str, request_id: str | None) -> etree._Element:
    """Answer to a register report from the VTN; the gateway requests nothing (digest §1.6)."""
    payload, body = new_payload("oadrRegisteredReport")
    add_response(body, 200, "OK", request_id)
    sub(body, q(EI, "venID"), ven_id)
    return payload


def build_update_report(
    ven_id: str,
    request_id: str,
    request: ReportRequest,
    samples: tuple[Sample, ...],
    report_id: str,
    now: datetime,
) -> etree._Element:
    """oadrUpdateReport with one interval per sample (granularity long each)."""
    payload, body = new_payload("oadrUpdateReport")
    sub(body, q(PYLD, "requestID"), request_id)
    report = sub(body, q(OADR, "oadrReport"))
    if samples:
        sub(sub(report, q(XCAL, "dtstart")), q(XCAL, "date-time"), format_dt(samples[0].at))
    intervals = sub(report, q(STRM, "intervals"))
    usage = request.specifier_id == USAGE_SPECIFIER
    for sample in samples:
        if usage and sample.power_w is None:
            continue
        interval = sub(intervals, q(EI, "interval"))
        sub(sub(interval, q(XCAL, "dtstart")), q(XCAL, "date-time"), format_dt(sample.at))
        sub(
            sub(interval, q(XCAL, "duration")),
            q(XCAL, "duration"),
            format_span(request.granularity),
        )
        item = sub(interval, q(OADR, "oadrReportPayload"))
        sub(item, q(EI, "rID"), USAGE_RID if usage else STATUS_RID)
        if usage:
            sub(
                sub(item, q(EI, "payloadFloat")), q(EI, "value"), repr(float(sample.power_w or 0.0))
            )
        else:
            status = sub(item, q(OADR, "oadrPayloadResourceStatus"))
            sub(status, q(OADR, "oadrOnline"), "true" if sample.online else "false")
            sub(
                status, q(OADR, "oadrManualOverride"), "true" if sample.manual_override else "false"
            )
    sub(report, q(EI, "eiReportID"), report_id)
    sub(report, q(EI, "reportRequestID"), request.request_id)
    sub(report, q(EI, "reportSpecifierID"), request.specifier_id)
    sub(
        report,
        q(EI, "reportName"),
        "TELEMETRY_USAGE" if usage else "TELEMETRY_STATUS",
    )
    sub(report, q(EI, "createdDateTime"), format_dt(now))
    sub(body, q(EI, "venID"), ven_id)
    return payload
