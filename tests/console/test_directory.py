"""Report values as the console lists them: units, times, qualifiers, odd bodies."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vtn_lite.console.directory import ReportValue, report_values

# Keys of a report body, so that the nesting the parser walks is reached with odd values.
KEYS = st.sampled_from(
    ["resources", "intervals", "payloads", "type", "values", "intervalPeriod", "start",
     "payloadDescriptors", "payloadType", "units", "DATA_QUALITY"]
) | st.text(max_size=4)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=30,
)


def test_values_carry_units_and_interval_times_and_skip_qualifiers() -> None:
    body: dict[str, Any] = {
        "modificationDateTime": "2030-01-01T00:10:00Z",
        "payloadDescriptors": [{"payloadType": "STORAGE_CHARGE_LEVEL", "units": "PERCENT"}],
        "resources": [
            {
                "resourceName": "tank",
                "intervals": [
                    {
                        "id": 0,
                        "intervalPeriod": {"start": "2030-01-01T00:00:00Z"},
                        "payloads": [
                            {"type": "STORAGE_CHARGE_LEVEL", "values": [71.5]},
                            {"type": "DATA_QUALITY", "values": ["OK"]},
                        ],
                    },
                    {"id": 1, "payloads": [{"type": "OPERATING_STATE", "values": ["IDLE"]}]},
                ],
            }
        ],
    }
    assert report_values(body) == [
        ReportValue("STORAGE_CHARGE_LEVEL", 71.5, "PERCENT", "2030-01-01T00:00:00Z"),
        ReportValue("OPERATING_STATE", "IDLE", None, "2030-01-01T00:10:00Z"),
    ]


@given(st.dictionaries(KEYS, JSON))
def test_any_body_gives_a_list_never_an_exception(body: dict[str, Any]) -> None:
    assert isinstance(report_values(body), list)
