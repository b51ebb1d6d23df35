"""The heater-state words and the ``/api/status`` JSON contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.devices import in_page_units
from ven_edge.cta2045.device import DeviceInformationReply, DeviceSnapshot
from ven_edge.cta2045.encodings import OperationalState, StateKind
from ven_edge.status_model import PushHealth
from ven_edge.web import status
from ven_edge.web.status import (
    HEATER_MODES,
    EventInfo,
    Events,
    GatewayInfo,
    Health,
    HeaterLinkHealth,
    HeaterStatus,
    Plan,
    PlanCommand,
    PlanInterval,
    SnapshotError,
    StatusSnapshot,
    VtnHealth,
    describe_heater,
)

DENVER = ZoneInfo("America/Denver")
# 19:00 in Denver on a winter day (UTC-7).
EVENT_END = datetime(2026, 1, 15, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 1, 14, 23, 30, tzinfo=UTC)  # 16:30 Denver

# Every CTA-2045 operational state (docs/cta2045.md §8.3): mode, words without an active event,
# and the words with an event ending at 19:00 local.
EXPECTED = {
    0: ("normal", "Idle", "Idle"),
    1: ("normal", "Heating normally", "Heating normally"),
    2: ("saving", "Saving energy: utility event", "Saving energy: utility event until 19:00"),
    3: ("preheating", "Pre-heating", "Pre-heating until 19:00"),
    4: ("saving", "Saving energy: utility event", "Saving energy: utility event until 19:00"),
    5: ("fault", "Heater fault", "Heater fault"),
    6: ("preheating", "Pre-heating (tank full)", "Pre-heating (tank full) until 19:00"),
    7: ("saving", "Saving energy: utility event", "Saving energy: utility event until 19:00"),
    8: ("saving", "Saving energy: utility event", "Saving energy: utility event until 19:00"),
    9: ("saving", "Saving energy: utility event", "Saving energy: utility event until 19:00"),
    10: ("normal", "Not following the utility event", "Not following the utility event"),
    11: ("opted_out", "Opted out", "Opted out: utility event until 19:00"),
    12: ("opted_out", "Opted out", "Opted out: utility event until 19:00"),
    13: ("normal", "Heating, following prices", "Heating, following prices"),
    14: ("normal", "Idle, following prices", "Idle, following prices"),
}


def test_every_known_code_is_covered() -> None:
    assert sorted(EXPECTED) == list(range(15))


def test_the_words_follow_the_one_definition_of_the_states() -> None:
    # The page reads what each state means from ven_edge.cta2045.encodings, not a table of its
    # own: every kind of state has its mode and words, and no code is listed here.
    assert set(status._MODE) == set(StateKind)
    assert set(status._OWN_WORDS) < set(OperationalState)
    assert not [name for name in vars(status) if name.startswith("OP_")]
    assert describe_heater(OperationalState.IDLE_CURTAILED, event_end=EVENT_END, tz=DENVER) == (
        "saving",
        "Saving energy: utility event until 19:00",
    )


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_op_state_without_event(code: int) -> None:
    mode, text, _ = EXPECTED[code]
    assert describe_heater(code, tz=DENVER) == (mode, text)


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_op_state_with_event_end_in_local_time(code: int) -> None:
    mode, _, text = EXPECTED[code]
    assert describe_heater(code, event_end=EVENT_END, now=NOW, tz=DENVER) == (mode, text)


@pytest.mark.parametrize("code", [-1, 15, 16, 99, 255])
def test_unknown_codes(code: int) -> None:
    assert describe_heater(code, event_end=EVENT_END, tz=DENVER) == (
        "unknown",
        f"Heater state unknown (code {code})",
    )


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_price_shed_is_not_called_a_utility_event(code: int) -> None:
    mode, _, text = EXPECTED[code]
    if mode == "saving":
        text = "Saving energy: high prices until 19:00"
    got = describe_heater(code, event_end=EVENT_END, now=NOW, tz=DENVER, for_price=True)
    assert got == (mode, text)


def test_price_shed_overridden_still_reads_opted_out() -> None:
    got = describe_heater(2, event_end=EVENT_END, for_price=True, override=True, tz=DENVER)
    assert got == ("opted_out", "Opted out: utility event until 19:00")


def test_not_connected() -> None:
    assert describe_heater(None) == ("unknown", "Heater not connected")
    assert describe_heater(None, override=True) == ("unknown", "Heater not connected")


@pytest.mark.parametrize("code", [None, 0, 1, 2, 3, 11, 99])
def test_fault_wins_over_everything(code: int | None) -> None:
    assert describe_heater(code, fault=True, override=True, event_end=EVENT_END) == (
        "fault",
        "Heater fault",
    )


@pytest.mark.parametrize("code", [0, 1, 2, 3, 4, 10, 13])
def test_override_reported_with_normal_codes_is_opted_out(code: int) -> None:
    # EPRI's simulator reports 0/1 while the customer override (0x11) is on (docs/cta2045.md §14).
    assert describe_heater(code, override=True) == ("opted_out", "Opted out")
    assert describe_heater(code, override=True, event_end=EVENT_END, tz=DENVER) == (
        "opted_out",
        "Opted out: utility event until 19:00",
    )


def test_end_time_follows_the_zone_and_dst() -> None:
    summer_end = datetime(2026, 7, 15, 1, 0, tzinfo=UTC)  # 19:00 MDT (UTC-6)
    assert describe_heater(2, event_end=summer_end, tz=DENVER)[1].endswith("until 19:00")
    assert describe_heater(2, event_end=summer_end, tz=UTC)[1].endswith("until 01:00")
    paris = timezone(timedelta(hours=2))
    assert describe_heater(4, event_end=summer_end, tz=paris)[1].endswith("until 03:00")


def test_end_on_another_day_names_the_day() -> None:
    end = datetime(2026, 1, 15, 14, 0, tzinfo=UTC)  # Thursday 07:00 in Denver
    assert describe_heater(2, event_end=end, now=NOW, tz=DENVER) == (
        "saving",
        "Saving energy: utility event until Thu 07:00",
    )


def test_default_zone_is_the_gateways_local_zone() -> None:
    local_hhmm = EVENT_END.astimezone().strftime("%H:%M")
    assert (
        describe_heater(2, event_end=EVENT_END)[1]
        == f"Saving energy: utility event until {local_hhmm}"
    )


def test_naive_end_time_is_refused() -> None:
    with pytest.raises(SnapshotError, match="timezone-aware"):
        describe_heater(2, event_end=datetime(2026, 1, 1, 19, 0))


@given(
    code=st.one_of(st.none(), st.integers(-1000, 1000)),
    override=st.booleans(),
    fault=st.booleans(),
    with_end=st.booleans(),
)
def test_every_input_gives_a_mode_and_words(
    code: int | None, override: bool, fault: bool, with_end: bool
) -> None:
    mode, text = describe_heater(
        code, event_end=EVENT_END if with_end else None, override=override, fault=fault, tz=DENVER
    )
    assert mode in HEATER_MODES
    assert text
    assert text[0].isupper()


def test_heater_status_from_device_and_derived_values() -> None:
    heater = HeaterStatus.from_device(
        in_page_units(
            4, tank_temp_f=122.0, set_point_f=130.0, stored_kwh=2.5, capacity_kwh=4.0, power_w=0
        ),
        event_end=EVENT_END,
        tz=DENVER,
    )
    doc = heater.as_json()
    assert doc == {
        "state_code": 4,
        "mode": "saving",
        "state_text": "Saving energy: utility event until 19:00",
        "tank_temp_f": 122.0,
        "tank_temp_c": 50.0,
        "set_point_f": 130.0,
        "stored_kwh": 2.5,
        "capacity_kwh": 4.0,
        "stored_pct": 62.0,
        "power_w": 0,
    }


def test_stored_pct_clamped_and_unknown() -> None:
    assert HeaterStatus(1, "normal", "x", stored_wh=5, capacity_wh=4).stored_pct == 100.0
    assert HeaterStatus(1, "normal", "x", stored_wh=-1, capacity_wh=4).stored_pct == 0.0
    assert HeaterStatus(1, "normal", "x", stored_wh=1, capacity_wh=0).stored_pct is None
    assert HeaterStatus(1, "normal", "x", stored_wh=None, capacity_wh=4).stored_pct is None


def test_bad_mode_refused() -> None:
    with pytest.raises(SnapshotError, match="heater mode 'eco'"):
        HeaterStatus(1, "eco", "x")  # type: ignore[arg-type]


def sample_snapshot(tz: ZoneInfo = DENVER) -> StatusSnapshot:
    start = datetime(2026, 1, 14, 23, 0, tzinfo=UTC)
    return StatusSnapshot(
        generated_at=NOW,
        heater=HeaterStatus.from_device(
            in_page_units(2, tank_temp_f=118.4, stored_kwh=1.234, capacity_kwh=3.9),
            event_end=EVENT_END,
            tz=tz,
        ),
        events=Events(
            current=EventInfo(
                "ev-1",
                "prog-7",
                "PRICE",
                start,
                EVENT_END,
                "Evening peak price",
                program_name="Winter peak",
            ),
            next=None,
        ),
        plan=Plan(
            step_minutes=60,
            start=start,
            price_unit="USD/kWh",
            expected_cost=1.2345,
            normal_cost=1.5,
            intervals=tuple(
                PlanInterval(start + timedelta(hours=h), 0.1 + h / 100, 0.5 if h < 2 else 0, 2.0)
                for h in range(3)
            ),
            commands=(
                PlanCommand(start, EVENT_END, "SHED", "Price 0.42 USD/kWh is the day's peak"),
            ),
        ),
        health=Health(
            HeaterLinkHealth(ok=True, port="/dev/ttyAMA0", last_frame=NOW, errors=3),
            VtnHealth(
                ok=False,
                url="https://ven:pw@vtn.example.com/openadr3?client_secret=s3",
                ven_id="ven-7",
                last_contact=NOW - timedelta(minutes=5),
                last_error="token refresh failed: client_secret=s3 rejected",
                push=PushHealth(
                    "mqtt",
                    "unreachable",
                    NOW - timedelta(minutes=3),
                    "mqtts://ven:pw@broker.example.com:8883",
                    "connect failed: mqtts://ven:pw@broker.example.com:8883 refused",
                ),
            ),
        ),
        device=DeviceInformationReply(
            cta_version="B",
            vendor_id=0x1234,
            device_type=3,
            device_revision=1,
            capabilities=0,
            model="HPWH-50",
            serial="SN1",
            firmware="1.2",
        ),
        gateway=GatewayInfo(version="0.1.0", uptime_s=3725.6),
    )


def test_snapshot_json_contract() -> None:
    doc = sample_snapshot().as_json(tz=DENVER)
    assert list(doc) == ["generated_at", "heater", "events", "plan", "health", "device", "gateway"]
    assert doc["generated_at"] == "2026-01-14T16:30:00-07:00"
    events = doc["events"]
    assert isinstance(events, dict)
    assert events["next"] is None
    assert events["current"] == {
        "id": "ev-1",
        "program": "prog-7",
        "program_name": "Winter peak",
        "kind": "PRICE",
        "start": "2026-01-14T16:00:00-07:00",
        "end": "2026-01-14T19:00:00-07:00",
        "summary": "Evening peak price",
    }
    plan = doc["plan"]
    assert isinstance(plan, dict)
    assert plan["step_minutes"] == 60
    assert plan["start"] == "2026-01-14T16:00:00-07:00"
    assert (plan["expected_cost"], plan["normal_cost"]) == (1.2345, 1.5)
    assert plan["expected_saving"] == pytest.approx(0.2655)
    intervals = plan["intervals"]
    assert isinstance(intervals, list)
    assert intervals[1] == {
        "start": "2026-01-14T17:00:00-07:00",
        "price": 0.11,
        "heat_kwh": 0.5,
        "soc_kwh": 2.0,
    }
    assert plan["commands"] == [
        {
            "start": "2026-01-14T16:00:00-07:00",
            "end": "2026-01-14T19:00:00-07:00",
            "kind": "SHED",
            "reason": "Price 0.42 USD/kWh is the day's peak",
        }
    ]
    assert doc["health"] == {
        "heater_link": {
            "ok": True,
            "port": "/dev/ttyAMA0",
            "last_frame": "2026-01-14T16:30:00-07:00",
            "errors": 3,
            "problem": None,
        },
        "vtn": {
            "ok": False,
            "url": "https://vtn.example.com/openadr3",
            "ven_id": "ven-7",
            "last_contact": "2026-01-14T16:25:00-07:00",
            "last_error": "token refresh failed: client_secret=[redacted] rejected",
            "push": {
                "channel": "mqtt",
                "state": "unreachable",
                "since": "2026-01-14T16:27:00-07:00",
                "broker": "mqtts://broker.example.com:8883",
                "problem": "connect failed: mqtts://broker.example.com:8883 refused",
            },
        },
    }
    device = doc["device"]
    assert isinstance(device, dict)
    assert device["device_type_name"] == "Water heater, heat pump"
    assert doc["gateway"] == {"version": "0.1.0", "uptime_s": 3726, "clock_synchronised": True}
    heater = doc["heater"]
    assert isinstance(heater, dict)
    assert heater["stored_pct"] == 32.0
    assert heater["stored_kwh"] == 1.23
    # Round-trips through JSON unchanged and carries no secret.
    text = json.dumps(doc)
    assert json.loads(text) == doc
    assert "pw@" not in text
    assert "s3" not in text


def test_naive_times_in_snapshot_refused() -> None:
    with pytest.raises(SnapshotError, match="event start"):
        EventInfo("e", None, "SIMPLE", datetime(2026, 1, 1), None, "x")
    with pytest.raises(SnapshotError, match="plan step_minutes"):
        Plan(step_minutes=0)


def test_empty_plan_and_no_device() -> None:
    snap = StatusSnapshot(
        generated_at=NOW,
        heater=HeaterStatus.from_device(DeviceSnapshot()),
        health=Health(HeaterLinkHealth(False, None), VtnHealth(False, None)),
        gateway=GatewayInfo("0.1.0", 0.0),
    )
    doc = snap.as_json(tz=UTC)
    assert doc["device"] is None
    assert doc["plan"] == {
        "step_minutes": 15,
        "start": None,
        "price_unit": None,
        "expected_cost": None,
        "normal_cost": None,
        "expected_saving": None,
        "intervals": [],
        "commands": [],
        "source": None,
    }
    assert doc["events"] == {"current": None, "next": None}
    heater = doc["heater"]
    assert isinstance(heater, dict)
    assert heater["state_text"] == "Heater not connected"
    assert heater["tank_temp_c"] is None


def test_the_plan_says_whose_plan_runs() -> None:
    from ven_edge.status_model import PlanBasis

    until = datetime(2026, 1, 14, 21, 0, tzinfo=UTC)
    plan = Plan(step_minutes=15, source=PlanBasis(True, "following", until=until))
    doc = plan.as_json(tz=timezone(timedelta(hours=-7)))
    assert doc["source"] == {
        "fleet": True,
        "reason": "following",
        "until": "2026-01-14T14:00:00-07:00",
        "since": None,
        "text": "Following the utility's fleet schedule until 14:00",
    }
    stale = PlanBasis(False, "stale", since=until)
    assert stale.text(UTC) == "Own plan: fleet schedule stale since 21:00"
    with pytest.raises(SnapshotError, match="reason 'bored'"):
        PlanBasis(False, "bored")
    with pytest.raises(SnapshotError, match="until"):
        PlanBasis(True, "following", until=datetime(2026, 1, 14, 21, 0))


@pytest.mark.parametrize(
    ("channel", "state"), [("carrier-pigeon", "polling"), ("mqtt", "asleep"), ("", "")]
)
def test_push_health_refuses_unknown_channels_and_states(channel: str, state: str) -> None:
    with pytest.raises(SnapshotError, match="push"):
        PushHealth(channel, state)


def test_push_health_since_must_be_aware() -> None:
    with pytest.raises(SnapshotError, match="push since"):
        PushHealth("mqtt", "subscribed", datetime(2026, 1, 14, 16, 30))
