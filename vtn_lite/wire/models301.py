"""OpenADR 3.0.1 wire models: only what differs from 3.1.0 (docs/openadr3.md §9).

3.0.1 has one schema per object for requests and responses (metadata optional), typed targets
(valuesMaps, not strings), the long program fields that 3.1.0 moved into ``attributes``,
``intervals`` required on events, ``programID`` required on reports and subscriptions, vens that
embed their resources, ``intervalPeriod.start`` required, and subscription operations spelled as
HTTP verbs in the Alliance file (both spellings accepted; see :mod:`ven_edge.oadr3.operations`).
Shared pieces (intervals, valuesMaps, descriptors, time values) come from :mod:`models`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vtn_lite.wire.models import (
    EventPayloadDescriptor,
    Interval,
    LenientOperation,
    Name128,
    OadrDateTime,
    OadrDuration,
    OadrModel,
    ObjectID,
    ObjectOperation,
    ObjectType,
    ProgramDescription,
    ReportDescriptor,
    ReportPayloadDescriptor,
    ReportResource,
    ValuesMap,
)

# 3.0.1 targets: a list of valuesMaps, e.g. [{"type": "GROUP", "values": ["g1"]}].
Targets301 = list[ValuesMap]


class ReportDescriptor301(ReportDescriptor):
    """3.0.1 report descriptors name their targets as valuesMaps, like every 3.0.1 object."""

    targets: Targets301 | None = None  # type: ignore[assignment]


class IntervalPeriod301(OadrModel):
    start: OadrDateTime
    duration: OadrDuration | None = None
    randomize_start: OadrDuration | None = Field(default=None, alias="randomizeStart")


class Metadata301(OadrModel):
    """VTN-set fields; optional in 3.0.1 schemas (requests omit them)."""

    id: ObjectID | None = None
    created_date_time: OadrDateTime | None = Field(default=None, alias="createdDateTime")
    modification_date_time: OadrDateTime | None = Field(default=None, alias="modificationDateTime")


class Program301(Metadata301):
    object_type: Literal["PROGRAM"] = Field(default="PROGRAM", alias="objectType")
    program_name: Name128 = Field(alias="programName")
    program_long_name: str | None = Field(default=None, alias="programLongName")
    retailer_name: str | None = Field(default=None, alias="retailerName")
    retailer_long_name: str | None = Field(default=None, alias="retailerLongName")
    program_type: str | None = Field(default=None, alias="programType")
    country: str | None = None
    principal_subdivision: str | None = Field(default=None, alias="principalSubdivision")
    time_zone_offset: OadrDuration | None = Field(default=None, alias="timeZoneOffset")
    interval_period: IntervalPeriod301 | None = Field(default=None, alias="intervalPeriod")
    program_descriptions: list[ProgramDescription] | None = Field(
        default=None, alias="programDescriptions"
    )
    binding_events: bool | None = Field(default=None, alias="bindingEvents")
    local_price: bool | None = Field(default=None, alias="localPrice")
    payload_descriptors: list[EventPayloadDescriptor | ReportPayloadDescriptor] | None = Field(
        default=None, alias="payloadDescriptors"
    )
    targets: Targets301 | None = None


class Interval301(Interval):
    interval_period: IntervalPeriod301 | None = Field(  # type: ignore[assignment]
        default=None, alias="intervalPeriod"
    )


class Event301(Metadata301):
    object_type: Literal["EVENT"] = Field(default="EVENT", alias="objectType")
    program_id: ObjectID = Field(alias="programID")
    event_name: str | None = Field(default=None, alias="eventName")
    priority: int | None = Field(default=None, ge=0)
    targets: Targets301 | None = None
    report_descriptors: list[ReportDescriptor301] | None = Field(
        default=None, alias="reportDescriptors"
    )
    payload_descriptors: list[EventPayloadDescriptor] | None = Field(
        default=None, alias="payloadDescriptors"
    )
    interval_period: IntervalPeriod301 | None = Field(default=None, alias="intervalPeriod")
    intervals: list[Interval301]


class Report301(Metadata301):
    object_type: Literal["REPORT"] = Field(default="REPORT", alias="objectType")
    program_id: ObjectID = Field(alias="programID")
    event_id: ObjectID = Field(alias="eventID")
    client_name: Name128 = Field(alias="clientName")
    report_name: str | None = Field(default=None, alias="reportName")
    payload_descriptors: list[ReportPayloadDescriptor] | None = Field(
        default=None, alias="payloadDescriptors"
    )
    resources: list[ReportResource]


class Subscription301(Metadata301):
    object_type: Literal["SUBSCRIPTION"] = Field(default="SUBSCRIPTION", alias="objectType")
    client_name: Name128 = Field(alias="clientName")
    program_id: ObjectID = Field(alias="programID")
    object_operations: list[ObjectOperation] = Field(alias="objectOperations")
    targets: Targets301 | None = None


class Resource301(Metadata301):
    object_type: Literal["RESOURCE"] = Field(default="RESOURCE", alias="objectType")
    resource_name: Name128 = Field(alias="resourceName")
    ven_id: ObjectID | None = Field(default=None, alias="venID")
    attributes: list[ValuesMap] | None = None
    targets: Targets301 | None = None


class Ven301(Metadata301):
    object_type: Literal["VEN"] = Field(default="VEN", alias="objectType")
    ven_name: Name128 = Field(alias="venName")
    attributes: list[ValuesMap] | None = None
    targets: Targets301 | None = None
    resources: list[Resource301] | None = None


class Notification301(OadrModel):
    object_type: ObjectType = Field(alias="objectType")
    operation: LenientOperation
    object: dict[str, object]
    targets: Targets301 | None = None
