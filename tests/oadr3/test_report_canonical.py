"""Report bodies are written by hand (no pydantic in the daemon); the wire model agrees."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ven_edge.oadr3.reportbodies import ReportInterval, build_report
from vtn_lite.wire import models

_names = st.one_of(
    st.text(min_size=0, max_size=130),
    st.from_regex(r"[a-zA-Z0-9_-]{1,128}", fullmatch=True),
)
_values = st.lists(
    st.one_of(
        st.booleans(),
        st.integers(-(2**40), 2**40),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
    ),
    max_size=3,
)
_moments = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
_intervals = st.lists(
    st.builds(
        ReportInterval,
        id=st.integers(-(2**32), 2**32),
        values=_values.map(tuple),
        start=st.none() | _moments,
        duration=st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
        quality=st.none() | st.sampled_from(["OK", "MISSING", "ESTIMATED", "BAD"]),
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=300, deadline=None)
@given(
    event_id=_names,
    client_name=_names,
    resource_name=_names,
    payload_type=_names,
    intervals=_intervals,
    units=st.none() | _names,
    reading_type=st.none() | _names,
)
def test_bodies_are_the_models_canonical_form(
    event_id: str,
    client_name: str,
    resource_name: str,
    payload_type: str,
    intervals: list[ReportInterval],
    units: str | None,
    reading_type: str | None,
) -> None:
    raw = {
        "eventID": event_id,
        "clientName": client_name,
        "reportName": "n",
        "payloadDescriptors": [
            {"payloadType": payload_type, "units": units, "readingType": reading_type}
        ],
        "resources": [
            {
                "resourceName": resource_name,
                "intervals": [
                    {
                        "id": i.id,
                        "intervalPeriod": {"start": i.start, "duration": i.duration}
                        if i.start is not None or i.duration is not None
                        else None,
                        "payloads": [{"type": payload_type, "values": list(i.values)}]
                        + ([{"type": "DATA_QUALITY", "values": [i.quality]}] if i.quality else []),
                    }
                    for i in intervals
                ],
            }
        ],
    }
    try:
        expected = models.dump(models.ReportRequest.model_validate(_durations(raw)))
    except ValidationError:
        expected = None
    try:
        body = build_report(
            event_id=event_id,
            client_name=client_name,
            resource_name=resource_name,
            payload_type=payload_type,
            intervals=intervals,
            name="n",
            units=units,
            reading_type=reading_type,
        )
    except ValueError:
        assert expected is None, "the wire model accepts what the builder refused"
        return
    # Compared as JSON text: the same bytes on the wire, key order included (and NaN == NaN).
    assert json.dumps(body) == json.dumps(expected)


def _durations(raw: dict[str, object]) -> dict[str, object]:
    """timedelta → the model's Duration, as the builder does."""
    from ven_edge.oadr3.timefmt import duration_from_timedelta

    for resource in raw["resources"]:  # type: ignore[attr-defined]
        for interval in resource["intervals"]:
            period = interval["intervalPeriod"]
            if period is not None and period["duration"] is not None:
                period["duration"] = duration_from_timedelta(period["duration"])
    return raw


@pytest.mark.parametrize(
    ("field", "value"),
    [("event_id", "has space"), ("client_name", ""), ("payload_type", "x" * 129)],
)
def test_bad_names_are_refused_with_the_field(field: str, value: str) -> None:
    args = {
        "event_id": "e1",
        "client_name": "ven",
        "resource_name": "heater",
        "payload_type": "USAGE",
        "intervals": [ReportInterval(0, (1.0,))],
        "name": "n",
        field: value,
    }
    wire = {"event_id": "eventID", "client_name": "clientName", "payload_type": "payloadType"}
    with pytest.raises(ValueError, match=wire[field]):
        build_report(**args)  # type: ignore[arg-type]
