"""Hypothesis: malformed event payloads give a precise PayloadError and keep the last timeline."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ven_edge.oadr3.client import VtnClient
from ven_edge.oadr3.errors import PayloadError
from ven_edge.oadr3.eventparse import parse_event
from ven_edge.oadr3.vtnhttp import VtnSettings

GOOD: dict[str, Any] = {
    "id": "e1",
    "programID": "p1",
    "priority": 1,
    "modificationDateTime": "2026-07-01T11:00:00Z",
    "intervalPeriod": {"start": "2026-07-01T13:00:00Z", "duration": "PT1H"},
    "intervals": [
        {"id": 0, "payloads": [{"type": "PRICE", "values": [0.3, 0.2]}]},
        {
            "id": 1,
            "intervalPeriod": {
                "start": "0001-01-01",
                "duration": "PT30M",
                "randomizeStart": "PT5M",
            },
            "payloads": [{"type": "SIMPLE", "values": [1]}],
        },
    ],
    "reportDescriptors": [{"payloadType": "USAGE"}],
}

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["P9999Y", "PT0S", "-PT1H", "0001-01-01", "12:22:12", "P1M", "PT1.5S"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)

PATHS = [
    ("programID",),
    ("priority",),
    ("intervalPeriod",),
    ("intervalPeriod", "start"),
    ("intervalPeriod", "duration"),
    ("duration",),
    ("intervals",),
    ("intervals", 0),
    ("intervals", 0, "payloads"),
    ("intervals", 0, "payloads", 0, "values"),
    ("intervals", 0, "payloads", 0, "type"),
    ("intervals", 1, "intervalPeriod"),
    ("intervals", 1, "intervalPeriod", "randomizeStart"),
    ("reportDescriptors",),
    ("reportDescriptors", 0, "payloadType"),
]


def _mutate(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(GOOD)
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), junk)
def test_mutated_events_fail_precisely_or_build(path: tuple[Any, ...], value: Any) -> None:
    client = VtnClient(VtnSettings(base_url="http://127.0.0.1:9/x"))
    client.apply_event_notification("CREATE", GOOD)
    good = client.timeline
    assert len(good) == 2  # the packed two-value PRICE and the SIMPLE interval
    raw = _mutate(path, value)
    error = _parse_error(raw)
    if error is not None:
        # Precise: the error names the event and a field on the mutated path.
        assert error.object_id == "e1"
        head = error.where.split(".")[0].split("[")[0]
        # Dropping the event's intervalPeriod is blamed on the interval that then lacks one.
        assert head == str(path[0]) or (path[0], head) == ("intervalPeriod", "intervals")
        with pytest.raises(PayloadError):
            client.apply_event_notification("UPDATE", raw)
        assert client.timeline == good  # the last good timeline is kept
        return
    # Accepted: building a timeline from it must not raise either.
    result = client.apply_event_notification("UPDATE", raw)
    assert result.timeline is client.timeline


def _parse_error(raw: dict[str, Any]) -> PayloadError | None:
    try:
        parse_event(raw)
    except PayloadError as exc:
        return exc
    return None
