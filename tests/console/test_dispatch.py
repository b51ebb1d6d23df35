"""The dispatch form's rules, without HTTP: field errors, event bodies, targets, overlaps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vtn_lite.console.directory import VenEntry
from vtn_lite.console.dispatch import DispatchContext, validate_dispatch

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC).timestamp()
PROGRAM = {
    "id": "p1",
    "programName": "tariff",
    "payloadDescriptors": [{"payloadType": "PRICE", "currency": "EUR", "units": "MWH"}],
}
VENS = {
    "a": VenEntry("a", "ven-a", "client-a", ("north",)),
    "b": VenEntry("b", "ven-b", "client-b", ("ven:b", "north")),
    "c": VenEntry("c", "ven-c", "client-c", ()),
}


def ctx(events: list[dict[str, Any]] | None = None) -> DispatchContext:
    return DispatchContext(NOW, VENS, ["north"], {"p1": PROGRAM}, events or [])


def form(**changes: str) -> dict[str, str]:
    base = {"program": "p1", "payload_type": "SIMPLE", "value": "2", "start_mode": "now",
            "duration": "45", "target_mode": "vens", "vens": "a,b"}  # fmt: skip
    return {**base, **changes}


def test_simple_to_two_vens_grants_the_missing_ven_target() -> None:
    result = validate_dispatch(form(), ctx())
    assert result.errors == {}
    assert result.body is not None
    assert result.body["targets"] == ["ven:a", "ven:b"]
    assert result.grant == ("a",)  # b holds ven:b already
    assert result.body["intervalPeriod"] == {"start": "2030-06-01T12:00:00Z", "duration": "PT45M"}
    assert result.body["intervals"][0]["payloads"] == [{"type": "SIMPLE", "values": [2]}]


def test_price_takes_the_programs_currency_and_unit() -> None:
    result = validate_dispatch(form(payload_type="PRICE", value="0.31"), ctx())
    assert result.body is not None
    assert result.body["payloadDescriptors"] == [
        {"payloadType": "PRICE", "currency": "EUR", "units": "MWH"}
    ]
    assert result.body["intervals"][0]["payloads"][0]["values"] == [0.31]


def test_capacity_limit_and_ghg_carry_their_units() -> None:
    for kind, units in (("IMPORT_CAPACITY_LIMIT", "KW"), ("GHG", "G_PER_KWH")):
        result = validate_dispatch(form(payload_type=kind, value="7.5"), ctx())
        assert result.body is not None
        assert result.body["payloadDescriptors"] == [{"payloadType": kind, "units": units}]
    negative = validate_dispatch(form(payload_type="GHG", value="-1"), ctx())
    assert negative.errors == {"value": "must not be negative"}
    assert negative.body is None


def test_a_later_local_start_with_randomisation_to_a_group() -> None:
    # 14:30 at UTC+2 (getTimezoneOffset() = -120) is 12:30 UTC.
    chosen = form(start_mode="at", start_at="2030-06-01T14:30", tz_offset="-120",
                  randomize="10", target_mode="group", group="north")  # fmt: skip
    result = validate_dispatch(chosen, ctx())
    assert result.body is not None, result.errors
    period = {"start": "2030-06-01T12:30:00Z", "duration": "PT45M", "randomizeStart": "PT10M"}
    assert result.body["intervalPeriod"] == period
    assert result.body["targets"] == ["north"]
    assert result.grant == ()


def test_all_is_an_untargeted_event_and_unknown_groups_are_refused() -> None:
    everyone = validate_dispatch(form(target_mode="all"), ctx())
    assert everyone.body is not None
    assert "targets" not in everyone.body
    unknown = validate_dispatch(form(target_mode="group", group="south"), ctx())
    assert set(unknown.errors) == {"group"}
    assert unknown.body is None


def test_overlaps_of_the_same_type_warn_other_types_do_not() -> None:
    existing = {
        "id": "e1", "programID": "p1", "eventName": "morning", "targets": ["north"],
        "intervalPeriod": {"start": "2030-06-01T11:30:00Z", "duration": "PT1H"},
        "intervals": [{"id": 0, "payloads": [{"type": "SIMPLE", "values": [1]}]}],
    }  # fmt: skip
    warned = validate_dispatch(form(vens="a,c"), ctx([existing]))
    assert warned.warnings == ["morning (SIMPLE) overlaps for ven-a"]
    confirmed = validate_dispatch(form(vens="a,c", confirm="yes"), ctx([existing]))
    assert confirmed.warnings == []
    assert confirmed.body is not None
    price = validate_dispatch(form(payload_type="PRICE", value="0.2"), ctx([existing]))
    assert price.warnings == []
    later = validate_dispatch(
        form(start_mode="at", start_at="2030-06-01T12:30", tz_offset="0"), ctx([existing])
    )
    assert later.warnings == []


FIELDS = ["program", "payload_type", "value", "start_mode", "start_at", "tz_offset", "duration",
          "randomize", "target_mode", "vens", "group", "event_name"]  # fmt: skip


@given(st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=40)))
def test_any_form_gives_errors_or_a_body_never_an_exception(fields: dict[str, str]) -> None:
    result = validate_dispatch({**form(), **fields}, ctx())
    assert (result.body is None) == bool(result.errors)
