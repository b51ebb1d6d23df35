"""OpenADR 3.1.0 wire models: lenient on input, strict on output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from ven_edge.oadr3.timefmt import NOW_SENTINEL
from vtn_lite.wire import models

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


def test_null_means_absent_and_unknown_fields_are_ignored() -> None:
    body = {
        "programID": "p1",
        "eventName": None,
        "intervalPeriod": {
            "start": "2026-01-01 00:00:00",
            "duration": "PT1H",
            "randomizeStart": None,
        },
        "intervals": [
            {"id": 0, "intervalPeriod": None, "payloads": [{"type": "PRICE", "values": [0.1]}]}
        ],
        "id": "ignored-by-request-models",
        "createdDateTime": "garbage",
        "somethingNew": {"x": 1},
    }
    event = models.EventRequest.model_validate(body)
    assert event.event_name is None
    assert event.interval_period is not None
    assert event.interval_period.start == datetime(2026, 1, 1, tzinfo=UTC)
    out = models.dump(event)
    assert out == {
        "programID": "p1",
        "intervalPeriod": {"start": "2026-01-01T00:00:00Z", "duration": "PT1H"},
        "intervals": [{"id": 0, "payloads": [{"type": "PRICE", "values": [0.1]}]}],
    }


def test_required_field_missing_is_an_error() -> None:
    with pytest.raises(ValidationError):
        models.ProgramRequest.model_validate({"programName": None})
    with pytest.raises(ValidationError):
        models.EventRequest.model_validate({"intervals": []})
    with pytest.raises(ValidationError):
        models.ProgramRequest.model_validate({"programName": ""})


def test_values_keep_their_json_types() -> None:
    vm = models.ValuesMap.model_validate(
        {"type": "X", "values": [True, 3, 2.5, "s", {"x": 1.0, "y": 2.0}]}
    )
    assert models.dump(vm)["values"] == [True, 3, 2.5, "s", {"x": 1.0, "y": 2.0}]


def test_subscription_operations_accept_http_verbs() -> None:
    sub = models.SubscriptionRequest.model_validate(
        {
            "clientName": "c",
            "objectOperations": [
                {
                    "objects": ["EVENT"],
                    "operations": ["POST", "put", "DELETE"],
                    "callbackUrl": "https://x/cb",
                }
            ],
        }
    )
    assert sub.object_operations[0].operations == ["CREATE", "UPDATE", "DELETE"]


def test_ven_request_discriminator() -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(models.VenRequest)
    ven = adapter.validate_python({"objectType": "VEN_VEN_REQUEST", "venName": "v"})
    assert isinstance(ven, models.VenVenRequest)
    bl = adapter.validate_python(
        {"objectType": "BL_VEN_REQUEST", "venName": "v", "clientID": "c", "targets": ["t"]}
    )
    assert isinstance(bl, models.BlVenRequest)
    with pytest.raises(ValidationError):
        adapter.validate_python({"venName": "v"})


def test_program_payload_descriptors_of_both_kinds() -> None:
    program = models.ProgramRequest.model_validate(
        {
            "programName": "p",
            "payloadDescriptors": [
                {"payloadType": "PRICE", "units": "KWH", "currency": "USD"},
                {"objectType": "REPORT_PAYLOAD_DESCRIPTOR", "payloadType": "USAGE"},
            ],
        }
    )
    assert program.payload_descriptors is not None
    kinds = [type(d) for d in program.payload_descriptors]
    assert kinds == [models.EventPayloadDescriptor, models.ReportPayloadDescriptor]
    assert models.dump(program)["payloadDescriptors"][0]["objectType"] == "EVENT_PAYLOAD_DESCRIPTOR"


def test_stored_objects_and_notification() -> None:
    meta = {
        "id": "e1",
        "createdDateTime": "2026-01-01T00:00:00Z",
        "modificationDateTime": "2026-01-01T00:00:00+00:00",
    }
    event = models.Event.model_validate(
        {**meta, "programID": "p1", "intervalPeriod": {"start": "0001-01-01"}}
    )
    assert event.object_type == "EVENT"
    assert event.interval_period is not None
    assert event.interval_period.start == NOW_SENTINEL
    note = models.Notification.model_validate(
        {"objectType": "EVENT", "operation": "POST", "object": models.dump(event)}
    )
    assert isinstance(note.object, models.Event)
    assert note.operation == "CREATE"
    assert models.dump(note)["object"]["createdDateTime"] == "2026-01-01T00:00:00Z"


def test_sample_event_loads() -> None:
    body = json.loads((SAMPLES / "event_pricing.json").read_text())
    event = models.EventRequest.model_validate(body)
    assert event.intervals is not None
    assert len(event.intervals) == 13


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_keys = st.sampled_from(
    ["programID", "eventName", "intervals", "intervalPeriod", "targets", "priority", "duration"]
)


@given(st.dictionaries(_keys, _json, max_size=6))
def test_event_request_fuzz(body: dict[str, Any]) -> None:
    try:
        event = models.EventRequest.model_validate(body)
    except ValidationError:
        return
    again = models.EventRequest.model_validate(models.dump(event))
    assert models.dump(again) == models.dump(event)
