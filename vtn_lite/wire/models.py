"""OpenADR 3.1.0 wire models (pydantic v2): what vtn_lite validates requests with and writes.

Schema names and fields follow ``oadr3.1.0.yaml`` (components/schemas). Attributes are
snake_case; the wire names (camelCase, ``programID``, ``URL``) are aliases.

Lenient on input (docs/openadr3.md §10.2): JSON ``null`` means "absent", unknown fields are
ignored, server-set fields in request bodies (``id``, ``createdDateTime``, ...) are ignored by the
request models, timestamps are parsed leniently and subscription operations may be spelled as
HTTP verbs. Strict on output: :func:`dump` writes camelCase, RFC 3339 with a zone, canonical
durations and leaves out absent optional fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from ven_edge.oadr3.operations import operation_name
from ven_edge.oadr3.timefmt import (
    IsoDuration,
    format_datetime,
    format_duration,
    parse_datetime,
    parse_duration,
)


def _to_datetime(value: Any) -> Any:
    if isinstance(value, str):
        return parse_datetime(value)
    return value


def _to_duration(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    return value


OadrDateTime: TypeAlias = Annotated[
    datetime,
    BeforeValidator(_to_datetime),
    PlainSerializer(format_datetime, return_type=str),
]
OadrDuration: TypeAlias = Annotated[
    IsoDuration,
    BeforeValidator(_to_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "format": "duration"}),
]

# YAML components/schemas: objectID, target, clientName, ... (1-128 characters).
ObjectID: TypeAlias = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[a-zA-Z0-9_-]*$")
]
Name128: TypeAlias = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Target: TypeAlias = Name128
ClientID: TypeAlias = Name128

ObjectType: TypeAlias = Literal["PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"]
Operation: TypeAlias = Literal["CREATE", "READ", "UPDATE", "DELETE"]


def _drop_nulls(data: Any) -> Any:
    """Definition "General Usage": optional fields default to null, so null means absent."""
    if isinstance(data, dict):
        return {key: value for key, value in data.items() if value is not None}
    return data


class OadrModel(BaseModel):
    """Base of every wire model: aliases on the wire, null as absent, unknown fields ignored."""

    model_config = ConfigDict(
        populate_by_name=True,
        extra="ignore",
        frozen=True,
        str_strip_whitespace=False,
    )

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_absent(cls, data: Any) -> Any:
        return _drop_nulls(data)


def dump(model: BaseModel) -> dict[str, Any]:
    """The wire form: aliases, RFC 3339 and canonical durations, absent fields left out."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


class Point(OadrModel):
    x: float
    y: float


ValueItem: TypeAlias = bool | int | float | str | Point


class ValuesMap(OadrModel):
    """YAML valuesMap: a type name and its values (payloads, attributes, 3.0.1 targets)."""

    type: Name128
    values: list[ValueItem]


class IntervalPeriod(OadrModel):
    """Start, duration and randomizeStart (User Guide §7.3); all optional in 3.1.0."""

    start: OadrDateTime | None = None
    duration: OadrDuration | None = None
    randomize_start: OadrDuration | None = Field(default=None, alias="randomizeStart")


class Interval(OadrModel):
    id: int = Field(ge=-(2**31), lt=2**31)
    interval_period: IntervalPeriod | None = Field(default=None, alias="intervalPeriod")
    payloads: list[ValuesMap]


class EventPayloadDescriptor(OadrModel):
    object_type: Literal["EVENT_PAYLOAD_DESCRIPTOR"] = Field(
        default="EVENT_PAYLOAD_DESCRIPTOR", alias="objectType"
    )
    payload_type: Name128 = Field(alias="payloadType")
    units: Name128 | None = None
    currency: str | None = None


class ReportPayloadDescriptor(OadrModel):
    object_type: Literal["REPORT_PAYLOAD_DESCRIPTOR"] = Field(
        default="REPORT_PAYLOAD_DESCRIPTOR", alias="objectType"
    )
    payload_type: Name128 = Field(alias="payloadType")
    reading_type: Name128 | None = Field(default=None, alias="readingType")
    units: Name128 | None = None
    accuracy: float | None = None
    confidence: int | None = Field(default=None, ge=0, le=100)


class ReportDescriptor(OadrModel):
    """A report request inside an event (User Guide §7.5); defaults from the YAML."""

    payload_type: Name128 = Field(alias="payloadType")
    reading_type: Name128 | None = Field(default=None, alias="readingType")
    units: Name128 | None = None
    targets: list[Target] | None = None
    aggregate: bool = False
    start_interval: int = Field(default=-1, alias="startInterval")
    num_intervals: int = Field(default=-1, alias="numIntervals")
    historical: bool = True
    frequency: int = -1
    repeat: int = 1
    report_intervals: Literal["INTERVALS", "SUB_INTERVALS", "OPEN_INTERVALS"] = Field(
        default="INTERVALS", alias="reportIntervals"
    )


class ProgramDescription(OadrModel):
    url: Annotated[str, StringConstraints(min_length=2, max_length=8000)] = Field(alias="URL")


class ObjectMetadata(OadrModel):
    """VTN-provisioned fields of every stored object."""

    id: ObjectID
    created_date_time: OadrDateTime = Field(alias="createdDateTime")
    modification_date_time: OadrDateTime = Field(alias="modificationDateTime")
    object_type: ObjectType = Field(alias="objectType")


class ProgramRequest(OadrModel):
    program_name: Name128 = Field(alias="programName")
    interval_period: IntervalPeriod | None = Field(default=None, alias="intervalPeriod")
    program_descriptions: list[ProgramDescription] | None = Field(
        default=None, alias="programDescriptions"
    )
    payload_descriptors: list[EventPayloadDescriptor | ReportPayloadDescriptor] | None = Field(
        default=None, alias="payloadDescriptors"
    )
    attributes: list[ValuesMap] | None = None
    targets: list[Target] | None = None

    @model_validator(mode="before")
    @classmethod
    def _descriptor_kinds(cls, data: Any) -> Any:
        # The YAML discriminates program payloadDescriptors by objectType; tolerate a missing
        # objectType by treating the descriptor as an event payload descriptor.
        if isinstance(data, dict) and isinstance(data.get("payloadDescriptors"), list):
            fixed = []
            for item in data["payloadDescriptors"]:
                if isinstance(item, dict) and item.get("objectType") is None:
                    item = {**item, "objectType": "EVENT_PAYLOAD_DESCRIPTOR"}
                fixed.append(item)
            data = {**data, "payloadDescriptors": fixed}
        return data


class Program(ObjectMetadata, ProgramRequest):
    object_type: Literal["PROGRAM"] = Field(default="PROGRAM", alias="objectType")


class EventRequest(OadrModel):
    program_id: ObjectID = Field(alias="programID")
    event_name: str | None = Field(default=None, alias="eventName")
    duration: OadrDuration | None = None
    priority: int | None = Field(default=None, ge=0)
    targets: list[Target] | None = None
    report_descriptors: list[ReportDescriptor] | None = Field(
        default=None, alias="reportDescriptors"
    )
    payload_descriptors: list[EventPayloadDescriptor] | None = Field(
        default=None, alias="payloadDescriptors"
    )
    interval_period: IntervalPeriod | None = Field(default=None, alias="intervalPeriod")
    intervals: list[Interval] | None = None


class Event(ObjectMetadata, EventRequest):
    object_type: Literal["EVENT"] = Field(default="EVENT", alias="objectType")


class ReportResource(OadrModel):
    resource_name: Name128 = Field(alias="resourceName")
    interval_period: IntervalPeriod | None = Field(default=None, alias="intervalPeriod")
    intervals: list[Interval]


class ReportRequest(OadrModel):
    event_id: ObjectID = Field(alias="eventID")
    client_name: Name128 = Field(alias="clientName")
    report_name: str | None = Field(default=None, alias="reportName")
    payload_descriptors: list[ReportPayloadDescriptor] | None = Field(
        default=None, alias="payloadDescriptors"
    )
    resources: list[ReportResource]


class Report(ObjectMetadata, ReportRequest):
    object_type: Literal["REPORT"] = Field(default="REPORT", alias="objectType")
    client_id: ClientID = Field(alias="clientID")


def _operation_name(value: Any) -> Any:
    # 3.0.1 (Alliance file) spells subscription operations as HTTP verbs; 3.1.0 uses CRUD names.
    return operation_name(value) if isinstance(value, str) else value


LenientOperation: TypeAlias = Annotated[Operation, BeforeValidator(_operation_name)]


class ObjectOperation(OadrModel):
    objects: list[ObjectType]
    operations: list[LenientOperation]
    callback_url: Annotated[str, StringConstraints(min_length=2, max_length=8000)] = Field(
        alias="callbackUrl"
    )
    bearer_token: str | None = Field(default=None, alias="bearerToken")


class SubscriptionRequest(OadrModel):
    client_name: Name128 = Field(alias="clientName")
    program_id: ObjectID | None = Field(default=None, alias="programID")
    object_operations: list[ObjectOperation] = Field(alias="objectOperations")
    targets: list[Target] | None = None


class Subscription(ObjectMetadata, SubscriptionRequest):
    object_type: Literal["SUBSCRIPTION"] = Field(default="SUBSCRIPTION", alias="objectType")
    client_id: ClientID = Field(alias="clientID")


class VenVenRequest(OadrModel):
    """A VEN registering itself (3.1: objectType VEN_VEN_REQUEST, #306)."""

    object_type: Literal["VEN_VEN_REQUEST"] = Field(alias="objectType")
    ven_name: Name128 = Field(alias="venName")
    attributes: list[ValuesMap] | None = None


class BlVenRequest(OadrModel):
    """Business logic creating a ven object for a client, possibly granting targets."""

    object_type: Literal["BL_VEN_REQUEST"] = Field(alias="objectType")
    client_id: ClientID = Field(alias="clientID")
    ven_name: Name128 = Field(alias="venName")
    targets: list[Target] | None = None
    attributes: list[ValuesMap] | None = None


VenRequest: TypeAlias = Annotated[VenVenRequest | BlVenRequest, Field(discriminator="object_type")]


class Ven(ObjectMetadata):
    object_type: Literal["VEN"] = Field(default="VEN", alias="objectType")
    client_id: ClientID = Field(alias="clientID")
    ven_name: Name128 = Field(alias="venName")
    targets: list[Target] | None = None
    attributes: list[ValuesMap] | None = None


class VenResourceRequest(OadrModel):
    object_type: Literal["VEN_RESOURCE_REQUEST"] = Field(alias="objectType")
    resource_name: Name128 = Field(alias="resourceName")
    ven_id: ObjectID = Field(alias="venID")
    attributes: list[ValuesMap] | None = None


class BlResourceRequest(OadrModel):
    object_type: Literal["BL_RESOURCE_REQUEST"] = Field(alias="objectType")
    client_id: ClientID = Field(alias="clientID")
    resource_name: Name128 = Field(alias="resourceName")
    ven_id: ObjectID = Field(alias="venID")
    targets: list[Target] | None = None
    attributes: list[ValuesMap] | None = None


ResourceRequest: TypeAlias = Annotated[
    VenResourceRequest | BlResourceRequest, Field(discriminator="object_type")
]


class Resource(ObjectMetadata):
    object_type: Literal["RESOURCE"] = Field(default="RESOURCE", alias="objectType")
    client_id: ClientID = Field(alias="clientID")
    resource_name: Name128 = Field(alias="resourceName")
    ven_id: ObjectID = Field(alias="venID")
    targets: list[Target] | None = None
    attributes: list[ValuesMap] | None = None


AnyObject: TypeAlias = Annotated[
    Program | Event | Report | Subscription | Ven | Resource, Field(discriminator="object_type")
]


class Notification(OadrModel):
    """Body a VTN POSTs to a subscription's callbackUrl (Definition "Webhooks")."""

    object_type: ObjectType = Field(alias="objectType")
    operation: LenientOperation
    object: AnyObject
    targets: list[Target] | None = None


class Problem(OadrModel):
    """RFC 7807 problem details (YAML components/schemas/problem)."""

    type: str = "about:blank"
    title: str | None = None
    status: int | None = Field(default=None, ge=100, lt=600)
    detail: str | None = None
    instance: str | None = None


class ClientCredentialResponse(OadrModel):
    """RFC 6749 §5.1 token response (snake_case on the wire)."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int | None = None
    refresh_token: str | None = None
    scope: str | None = None


class AuthServerInfo(OadrModel):
    token_url: str = Field(alias="tokenURL")


class NotifiersResponse(OadrModel):
    webhook: bool = Field(alias="WEBHOOK")
    mqtt: dict[str, Any] | None = Field(default=None, alias="MQTT")
