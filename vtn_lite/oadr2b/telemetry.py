"""Telemetry from 2.0b VENs (docs/vtn-lite-2.0b.md "Messages"): the METADATA reports a VEN
registers, the TELEMETRY_USAGE / TELEMETRY_STATUS reports the VTN asks for in return, and the
points of each oadrUpdateReport, stored with the units of their registered descriptions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Final

from lxml import etree

from vtn_lite.oadr2b import inbound, outbound
from vtn_lite.oadr2b.registry import client_id_of
from vtn_lite.storage import Oadr2bRegistration, Storage

#: Telemetry reports the VTN asks for when a VEN registers them.
WANTED_REPORTS: Final = ("METADATA_TELEMETRY_USAGE", "METADATA_TELEMETRY_STATUS")

ReportSink = Callable[[str, list[dict[str, Any]]], None]


class Telemetry:
    def __init__(
        self,
        store: Storage,
        *,
        period: timedelta,
        clock: Callable[[], float],
        sink: ReportSink | None,
    ) -> None:
        self.store = store
        self._period = period
        self._clock = clock
        self._reports = sink

    async def register_report(
        self, request: inbound.RegisterReport, registration: Oadr2bRegistration
    ) -> etree._Element:
        ven_id = registration.ven_id or ""
        period = self._period
        requests = tuple(
            outbound.ReportRequest(
                request_id=uuid.uuid4().hex,
                specifier_id=report.specifier_id,
                granularity=period,
                report_back=period,
                r_ids=tuple((d.r_id, d.reading_type or "Direct Read") for d in report.descriptions),
            )
            for report in request.reports
            if report.name in WANTED_REPORTS and report.descriptions
        )
        # A new METADATA report replaces the previous one: the newest is the one read.
        await self.store.add_oadr2b_record(
            ven_id,
            "metadata",
            self._clock(),
            {
                "reports": [
                    {
                        "reportSpecifierID": report.specifier_id,
                        "reportName": report.name,
                        "descriptions": [
                            {
                                "rID": d.r_id,
                                "reportType": d.report_type,
                                "readingType": d.reading_type,
                                "units": d.units,
                                "resourceID": d.resource_id,
                            }
                            for d in report.descriptions
                        ],
                    }
                    for report in request.reports
                ],
                "requested": [r.specifier_id for r in requests],
            },
        )
        reply = outbound.Reply(request_id=request.request_id)
        return outbound.registered_report(reply, ven_id=ven_id, requests=requests)

    async def update_report(
        self, request: inbound.UpdateReport, registration: Oadr2bRegistration
    ) -> etree._Element:
        ven_id = registration.ven_id or ""
        units = await self._units(ven_id)
        values: list[dict[str, Any]] = []
        for report in request.reports:
            points = [
                {
                    "at": point.at.isoformat().replace("+00:00", "Z"),
                    "rID": point.r_id,
                    "value": point.value,
                    "units": units.get((report.specifier_id, point.r_id)),
                }
                for point in report.points
            ]
            await self.store.add_oadr2b_record(
                ven_id,
                "report",
                self._clock(),
                {
                    "reportName": report.name,
                    "reportSpecifierID": report.specifier_id,
                    "reportRequestID": report.report_request_id,
                    "points": points,
                },
            )
            values.extend(points)
        if self._reports is not None and values:
            self._reports(client_id_of(registration.ven_name), values)
        reply = outbound.Reply(request_id=request.request_id)
        return outbound.updated_report(reply, ven_id=ven_id)

    async def _units(self, ven_id: str) -> dict[tuple[str, str], str | None]:
        found: dict[tuple[str, str], str | None] = {}
        for record in await self.store.oadr2b_records("metadata", ven_id=ven_id, limit=1):
            for report in record.body.get("reports", []):
                for description in report.get("descriptions", []):
                    key = (str(report.get("reportSpecifierID")), str(description.get("rID")))
                    found[key] = description.get("units")
        return found
