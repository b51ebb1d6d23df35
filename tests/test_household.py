"""The household's draw profile: learned from heater readings, persisted, reset for a new heater,
bounded, deaf to readings no heater can give, and handed to the planner."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.hpwh_model import MODELS_DIR
from hil.learned_week import learn_week
from hil.thermal import BucketParameters, EnergyBucketModel, ThermalControls
from ven_edge.config import parse_config
from ven_edge.household import (
    DEFAULT_FORECAST,
    DEFAULT_HOURLY_FRACTIONS,
    HOURS_PER_WEEK,
    MAX_WEEKS_AVERAGED,
    CompressorFirst,
    DrawForecast,
    Household,
    default_profile,
)
from ven_edge.plan.builder import DeviceState, PlannerConfig, build_problem
from ven_edge.run import household_for
from ven_edge.signals import SignalInterval, SignalTimeline

MONDAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
CONTROLS = ThermalControls(
    setpoint_c=51.7, deadband_c=5.0, element_allowed=True, heat_pump_allowed=True
)
#: Thermal draw (W) by local hour of day: a morning shower hour, an evening hour, nothing else.
DRAW_W = {7: 2000.0, 19: 1500.0}
SATURDAY_7 = 5 * 24 + 7


def draw_w(t: datetime) -> float:
    if t.weekday() == 5 and t.hour == 7:
        return 0.0  # Saturday: no morning shower
    return DRAW_W.get(t.hour, 0.0)


def simulate(household: Household, days: int, *, start: datetime = MONDAY) -> float:
    """Run the one-node tank minute by minute with the draw schedule; feed each reading to
    ``household``. Returns the tank's standby loss in W at the set point (for comparisons)."""
    params = BucketParameters(heat_pump_cop=3.0, initial_temp_c=51.7)
    model = EnergyBucketModel(params)
    t = start
    for _ in range(days * 24 * 60):
        model.params = replace(params, draw_w=draw_w(t.astimezone(household.tz)))
        state = model.advance(60.0, CONTROLS)
        t += MINUTE
        household.observe(
            t,
            stored_kwh=state.stored_wh / 1000.0,
            used_kwh=state.energy_used_wh / 1000.0,
            capacity_kwh=state.capacity_wh / 1000.0,
            serial="SN-1",
        )
    return params.loss_w_per_k * (51.7 - params.ambient_temp_c)


def test_a_simulated_week_is_learned_hour_by_hour() -> None:
    household = Household(heat_per_kwh=3.0)  # the simulated heat pump's COP
    loss_w = simulate(household, 7)
    means = household.to_json()["means_kwh"]
    counts = household.to_json()["counts"]
    assert sum(counts) >= 7 * 24 - 1  # every complete hour is one observation
    # The standby loss is measured (within a tenth of the tank's loss at its set point)...
    assert household.standby_kw == pytest.approx(loss_w / 1000.0, rel=0.1)
    # ...and taken off: each hour of the week is the household's draw.
    for slot in range(HOURS_PER_WEEK):
        day, hour = divmod(slot, 24)
        truth = draw_w(MONDAY + timedelta(days=day, hours=hour)) / 1000.0
        assert truth - 0.05 <= means[slot] <= truth + 0.02, (slot, means[slot])
    forecast = household.forecast()
    assert forecast.learned
    # Planning uses the learned shape: the morning hour outweighs the default's 8.7 %, the
    # small hours are near zero, and Saturday morning is lower than the weekday mornings.
    weekday_7 = forecast(MONDAY + 7 * HOUR, MONDAY + 8 * HOUR)
    assert weekday_7 > 1.5
    assert (
        forecast(MONDAY + 12 * HOUR, MONDAY + 13 * HOUR) < DEFAULT_FORECAST.kwh_by_hour_of_week[12]
    )
    saturday = MONDAY + timedelta(days=5)
    assert forecast(saturday + 7 * HOUR, saturday + 8 * HOUR) < weekday_7 - 0.5


def test_without_the_cop_heating_never_counts_as_draw() -> None:
    household = Household()  # 1 kWh of heat per kWh: a floor for any heater
    simulate(household, 7)
    means = household.to_json()["means_kwh"]
    for slot in range(HOURS_PER_WEEK):
        day, hour = divmod(slot, 24)
        truth = draw_w(MONDAY + timedelta(days=day, hours=hour)) / 1000.0
        assert means[slot] <= truth + 0.02
    # Draw overlapping heat-pump heating is partly missed, never most of it.
    assert means[7] > 0.6 * DRAW_W[7] / 1000.0


def test_hours_of_the_week_are_in_the_gateway_local_time() -> None:
    denver = ZoneInfo("America/Denver")
    household = Household(tz=denver, heat_per_kwh=3.0)
    simulate(household, 7, start=datetime(2026, 3, 2, 0, 0, tzinfo=denver).astimezone(UTC))
    means = household.to_json()["means_kwh"]
    assert means[7] > 1.5  # Monday 07:00 in Denver, 14:00 UTC
    assert means[14] < 0.2
    forecast = household.forecast()
    local_7 = datetime(2026, 3, 9, 7, 0, tzinfo=denver)
    assert forecast(local_7, local_7 + HOUR) > 1.5


def test_default_profile_until_there_is_data() -> None:
    household = Household()
    forecast = household.forecast()
    assert not forecast.learned
    assert forecast.kwh_by_hour_of_week == default_profile()
    day = sum(default_profile()[:24])
    assert day == pytest.approx(9.0)
    shares = [v / day for v in default_profile()[:24]]
    total = sum(DEFAULT_HOURLY_FRACTIONS)
    assert shares == pytest.approx([f / total for f in DEFAULT_HOURLY_FRACTIONS])
    # Integration over partial hours: 07:30–08:15 is half of 07:00 and a quarter of 08:00.
    start = MONDAY + 7.5 * HOUR
    expected = 0.5 * default_profile()[7] + 0.25 * default_profile()[8]
    assert forecast(start, start + 45 * MINUTE) == pytest.approx(expected)


def test_persisted_profile_survives_a_restart() -> None:
    household = Household(heat_per_kwh=3.0)
    simulate(household, 3)
    document = json.loads(json.dumps(household.to_json()))
    restarted = Household(heat_per_kwh=3.0)
    restarted.restore(document)
    assert restarted.forecast() == household.forecast()
    assert restarted.serial == "SN-1"
    # Learning continues from the last reading and the hour being gathered.
    simulate(restarted, 1, start=MONDAY + timedelta(days=3))
    simulate(household, 1, start=MONDAY + timedelta(days=3))
    assert restarted.to_json() == household.to_json()


def test_a_new_serial_number_starts_afresh(caplog: pytest.LogCaptureFixture) -> None:
    household = Household(heat_per_kwh=3.0)
    simulate(household, 2)
    assert household.observations > 0
    at = MONDAY + timedelta(days=2, minutes=1)
    with caplog.at_level(logging.INFO, logger="ven_edge.household"):
        household.observe(at, stored_kwh=5.0, used_kwh=0.0, serial="SN-2")
    assert "heater serial number changed from SN-1 to SN-2" in caplog.text
    assert household.serial == "SN-2"
    assert household.observations == 0
    assert household.forecast() == DrawForecast(default_profile())
    # A serial first seen after learning started is the same heater (Device Information is
    # read after the first readings), and an unreadable one is no change either.
    fresh = Household()
    fresh.observe(MONDAY, stored_kwh=5.0, used_kwh=0.0)
    fresh.observe(MONDAY + MINUTE, stored_kwh=4.0, used_kwh=0.0, serial="SN-9")
    assert fresh.serial == "SN-9"
    fresh.observe(MONDAY + 2 * MINUTE, stored_kwh=3.0, used_kwh=0.0, serial=None)
    assert fresh.serial == "SN-9"


def test_persisted_size_is_bounded() -> None:
    household = Household(heat_per_kwh=3.0)
    simulate(household, 7)
    week = len(json.dumps(household.to_json()))
    simulate(household, 21, start=MONDAY + timedelta(days=7))
    month = household.to_json()
    assert len(json.dumps(month)) <= week + 200  # digits, not entries
    assert len(month["means_kwh"]) == len(month["counts"]) == HOURS_PER_WEEK
    assert max(month["counts"]) == 4
    simulate(household, 42, start=MONDAY + timedelta(days=28))
    assert max(household.to_json()["counts"]) == MAX_WEEKS_AVERAGED


def clean_run() -> Household:
    household = Household()
    for k in range(61):
        household.observe(MONDAY + k * MINUTE, stored_kwh=10.0 - k * 0.01, used_kwh=0.0)
    return household


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"stored_kwh": math.nan}, "stored energy nan kWh at 2026-03-02T00:30:30+00:00 is not"),
        ({"stored_kwh": -1.0}, "stored energy -1.0 kWh at 2026-03-02T00:30:30+00:00 is not"),
        ({"stored_kwh": 1e9}, "stored energy 1000000000.0 kWh"),
        ({"used_kwh": math.inf}, "energy-used counter inf kWh at 2026-03-02T00:30:30+00:00"),
        ({"used_kwh": -3.0}, "energy-used counter -3.0 kWh"),
    ],
)
def test_impossible_values_are_ignored_with_a_precise_log(
    caplog: pytest.LogCaptureFixture, bad: dict[str, float], message: str
) -> None:
    household = Household()
    with caplog.at_level(logging.WARNING, logger="ven_edge.household"):
        for k in range(61):
            at = MONDAY + k * MINUTE
            household.observe(at, stored_kwh=10.0 - k * 0.01, used_kwh=0.0)
            if k == 30:
                household.observe(at + MINUTE / 2, **{"stored_kwh": 9.7, "used_kwh": 0.0, **bad})
    assert f"household reading ignored: {message}" in caplog.text
    assert household.to_json()["means_kwh"] == clean_run().to_json()["means_kwh"]


def test_counter_going_back_and_huge_jumps_are_not_draws(caplog: pytest.LogCaptureFixture) -> None:
    household = Household()
    with caplog.at_level(logging.WARNING, logger="ven_edge.household"):
        household.observe(MONDAY, stored_kwh=10.0, used_kwh=50.0)
        household.observe(MONDAY + MINUTE, stored_kwh=9.0, used_kwh=49.0)  # counter back
        household.observe(MONDAY + 2 * MINUTE, stored_kwh=9.0, used_kwh=500.0)  # 451 kWh/min
        household.observe(MONDAY + 3 * MINUTE, stored_kwh=20.0, used_kwh=500.0)
        household.observe(MONDAY + 2 * MINUTE, stored_kwh=1.0, used_kwh=500.0)  # time back
    text = caplog.text
    assert "energy-used counter went back from 50.000 to 49.000 kWh at 2026-03-02T00:01:00" in text
    assert "451.000 kWh used and 0.000 kWh stored change in 60 s at 2026-03-02T00:02:00" in text
    assert "exceed 60 kW" in text
    assert "reading at 2026-03-02T00:02:00+00:00 is older than the previous one" in text
    assert household.to_json()["hour"] is None  # no pair was counted


def test_a_gap_in_the_readings_is_not_attributed(caplog: pytest.LogCaptureFixture) -> None:
    household = Household()
    with caplog.at_level(logging.INFO, logger="ven_edge.household"):
        household.observe(MONDAY, stored_kwh=10.0, used_kwh=0.0)
        household.observe(MONDAY + 2 * HOUR, stored_kwh=2.0, used_kwh=0.0)
    assert "no heater readings from 2026-03-02T00:00:00+00:00 to 2026-03-02T02:00:00" in caplog.text
    assert household.observations == 0


def test_gaps_in_the_readings_are_said_a_few_times_not_at_every_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    household = Household()
    with caplog.at_level(logging.INFO, logger="ven_edge.household"):
        for k in range(40):  # a reading every 90 minutes: every pair is a gap
            household.observe(MONDAY + k * HOUR * 1.5, stored_kwh=10.0, used_kwh=0.0)
    gaps = [r for r in caplog.records if "no heater readings" in r.getMessage()]
    assert 1 <= len(gaps) <= 5


def test_a_bad_persisted_document_starts_from_the_default(caplog: pytest.LogCaptureFixture) -> None:
    good = Household(heat_per_kwh=3.0)
    simulate(good, 1)
    for broken in (
        {**good.to_json(), "version": 99},
        {**good.to_json(), "means_kwh": [math.nan] * HOURS_PER_WEEK},
        {**good.to_json(), "counts": [1] * 10},
        {**good.to_json(), "last": ["yesterday", 1, 2]},
        {**good.to_json(), "last": [MONDAY.isoformat(), math.nan, 2]},
        {**good.to_json(), "hour": [MONDAY.isoformat(), -1.0, 60.0]},
        {**good.to_json(), "hour": [MONDAY.isoformat(), 1.0, 7200.0]},
        {**good.to_json(), "standby": [5.0, 10]},
        {"version": 1},
    ):
        household = Household()
        with caplog.at_level(logging.ERROR, logger="ven_edge.household"):
            household.restore(broken)
        assert "persisted household profile unusable" in caplog.text
        assert household.forecast() == DrawForecast(default_profile())


reading = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-1e12, max_value=1e12),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(min_value=-5, max_value=30), reading, reading, reading),
        max_size=80,
    )
)
def test_any_readings_keep_the_profile_finite_and_non_negative(
    rows: list[tuple[int, float | None, float | None, float | None]],
) -> None:
    household = Household()
    at = MONDAY
    for minutes, stored, used, capacity in rows:
        at += timedelta(minutes=minutes)
        household.observe(at, stored_kwh=stored, used_kwh=used, capacity_kwh=capacity)
    values = household.forecast().kwh_by_hour_of_week
    assert all(math.isfinite(v) and v >= 0 for v in values)
    restored = Household()
    restored.restore(json.loads(json.dumps(household.to_json())))
    assert restored.forecast() == household.forecast()


def test_the_planner_takes_the_learned_profile() -> None:
    household = Household(heat_per_kwh=3.0)
    simulate(household, 7)
    forecast = household.forecast()
    start = MONDAY + timedelta(days=7)
    prices = SignalTimeline((SignalInterval(start, start + timedelta(days=1), "PRICE", (0.1,)),))
    config = PlannerConfig(
        step=timedelta(minutes=15),
        capacity_kwh=10.0,
        hp_max_kw=1.0,
        hp_cop=3.0,
        include_standby_loss=False,
    )
    state = DeviceState(stored_wh=5000.0)
    learned = build_problem(prices, state, config, start, draw=forecast)
    default = build_problem(prices, state, config, start)
    steps = [start + k * config.step for k in range(96)]
    assert learned.load_kwh == pytest.approx([forecast(s, s + config.step) for s in steps])
    assert learned.load_kwh != default.load_kwh
    assert sum(learned.load_kwh[28:32]) > 1.5  # 07:00–08:00


RHEEM_50 = parse_config({"heater": {"model": str(MODELS_DIR / "Rheem2020Prem50.json")}})
WEEK_END = datetime(2016, 3, 7, tzinfo=UTC)


def test_draws_overlapping_heat_pump_heating_are_learned_with_the_model_s_cop() -> None:
    # A week of the DOE high pattern on the stratified tank, read every minute: the gateway's
    # learner, told the heater's model file, counts what the household took within 2 %.
    week = learn_week("Rheem2020Prem50", "doe-high", WEEK_END, household=household_for(RHEEM_50))
    assert week.observations == HOURS_PER_WEEK
    assert week.learned_kwh == pytest.approx(week.delivered_kwh, rel=0.02)
    # A kWh of heat per kWh (no model file) misses the heat-pump share of overlapping draws.
    floor = learn_week("Rheem2020Prem50", "doe-high", WEEK_END, household=Household())
    assert floor.learned_kwh < 0.96 * floor.delivered_kwh


def test_readings_twenty_minutes_apart_are_still_learned() -> None:
    # The demo's clock runs 600 times faster than the UCM's poll timer: a reading every 20
    # simulated minutes. Every hour is still an observation and the week's draw is not lost.
    week = learn_week(
        "Rheem2020Prem50",
        "doe-high",
        WEEK_END,
        poll_s=1200.0,
        household=household_for(RHEEM_50),
    )
    assert week.observations >= HOURS_PER_WEEK - 2
    assert week.learned_kwh == pytest.approx(week.delivered_kwh, rel=0.15)


def test_compressor_first_counts_the_element_kwh_for_kwh() -> None:
    heat = CompressorFirst(input_kw=lambda c: 0.5, cop=lambda c: 3.0, default_c=50.0)
    assert heat(0.25, 1.0, 40.0) == pytest.approx(0.75)  # compressor alone, half the hour
    assert heat(2.5, 1.0, None) == pytest.approx(0.5 * 3.0 + 2.0)  # element beyond it
    assert heat(0.0, 1.0, math.nan) == 0.0
