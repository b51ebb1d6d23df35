"""Problem builder: price resampling from the signal timeline, stored energy, capacities."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ven_edge.plan.builder import (
    BuildError,
    DeviceState,
    PlannerConfig,
    build_problem,
    resample_draw,
    resample_prices,
    stored_energy,
)
from ven_edge.plan.hpwh_model import HpwhModel, ModelError
from ven_edge.plan.scheduler import schedule
from ven_edge.signals import SignalInterval, SignalTimeline

MODELS = Path(__file__).resolve().parents[2] / "sample_data" / "hpwh_models"
T0 = datetime(2026, 2, 17, 19, 0, tzinfo=UTC)
H = timedelta(hours=1)
Q = timedelta(minutes=15)


def price(
    start: timedelta, end: timedelta, *values: float, priority: int | None = None, eid: str = "e"
) -> SignalInterval:
    return SignalInterval(T0 + start, T0 + end, "PRICE", values, priority, eid, "prog")


def test_irregular_intervals_are_time_weighted_per_step() -> None:
    tl = SignalTimeline(
        (
            price(timedelta(0), 20 * timedelta(minutes=1), 0.30),
            price(20 * timedelta(minutes=1), 2 * H, 0.60),
        )
    )
    assert resample_prices(tl, T0, H, 2, None) == pytest.approx((0.50, 0.60))


def test_packed_sub_intervals_resample_to_quarter_hours() -> None:
    tl = SignalTimeline((price(timedelta(0), H, 0.1, 0.2, 0.3, 0.4),))
    assert resample_prices(tl, T0, Q, 4, None) == pytest.approx((0.1, 0.2, 0.3, 0.4))
    assert resample_prices(tl, T0, H, 1, None) == pytest.approx((0.25,))


def test_gaps_take_the_configured_price_or_the_mean() -> None:
    tl = SignalTimeline((price(timedelta(0), H, 0.2), price(2 * H, 3 * H, 0.4)))
    assert resample_prices(tl, T0, H, 4, None) == pytest.approx((0.2, 0.3, 0.4, 0.3))
    assert resample_prices(tl, T0, H, 4, 0.9) == pytest.approx((0.2, 0.9, 0.4, 0.9))
    # A step half covered averages only over the covered half.
    assert resample_prices(tl, T0 + H / 2, H, 1, 0.9) == pytest.approx((0.2,))
    with pytest.raises(BuildError, match="no PRICE signal"):
        resample_prices(SignalTimeline(), T0, H, 2, None)


def test_overlapping_events_resolve_by_priority() -> None:
    tl = SignalTimeline(
        (
            price(timedelta(0), 3 * H, 0.1, eid="tariff"),
            price(H, 2 * H, 0.9, priority=1, eid="peak"),
            price(H, 3 * H, 0.5, priority=4, eid="low-priority"),
        )
    )
    assert resample_prices(tl, T0, H, 3, None) == pytest.approx((0.1, 0.9, 0.5))


def test_draw_profile_resamples_by_overlap() -> None:
    by_hour = tuple(float(h) for h in range(24))
    assert resample_draw(by_hour, timedelta(0), T0, Q, 2) == pytest.approx((19 / 4, 19 / 4))
    assert resample_draw(by_hour, timedelta(hours=-8), T0 + H / 2, H, 1) == pytest.approx(
        (0.5 * 11 + 0.5 * 12,)
    )


def test_hpwh_model_reproduces_the_reference_performance_points() -> None:
    rheem = HpwhModel.load(MODELS / "Rheem2020Prem50.json")
    # COP and input power interpolated, capacity their product (HPWHsim's ``interpolate_cop``).
    assert rheem.capacity_kw(20, 35) == pytest.approx(1.62, abs=0.005)
    assert rheem.cop(20, 35) == pytest.approx(4.51, abs=0.005)
    assert rheem.cop(20, 50) == pytest.approx(3.49, abs=0.005)
    assert rheem.capacity_kw(10, 35) == pytest.approx(1.24, abs=0.005)
    assert rheem.element_kw == 4.5
    assert rheem.tank_litres == pytest.approx(170.7, abs=0.1)
    aos = HpwhModel.load(MODELS / "AOSmithHPTU50.json")
    assert aos.cop(20, 15) == pytest.approx(5.37, abs=0.005)
    # Between the A. O. Smith map's two water points (0 and 71 °C) the COP is the interpolated
    # COP, not interpolated capacity over interpolated input power (3.1 at 35 °C).
    assert aos.cop(20, 35) > 4.0
    # Outside the grid the map is held at its edge.
    assert rheem.cop(-30, 35) == rheem.cop(rheem.air_c[0], 35)


def test_model_errors_are_precise(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"integrated_system": {}}')
    with pytest.raises(ModelError, match="missing key 'integrated_system/performance'"):
        HpwhModel.load(bad)
    bad.write_text("{nope")
    with pytest.raises(ModelError, match="not JSON"):
        HpwhModel.load(bad)


def test_stored_energy_from_commodity_readings_or_temperature() -> None:
    model = HpwhModel.load(MODELS / "Rheem2020Prem50.json")
    cfg = PlannerConfig()
    assert stored_energy(DeviceState(stored_wh=1200, capacity_wh=2000), cfg, model) == (1.2, 2.0)
    stored, cap = stored_energy(DeviceState(tank_c=48.3), cfg, model)
    assert stored == pytest.approx(model.heat_capacity_kwh_per_k * 5.0)
    assert cap == pytest.approx(model.heat_capacity_kwh_per_k * (model.setpoint_c - 43.3))
    # Above the set point (after an advanced load up) the energy is still counted; below the
    # minimum useful temperature the tank is empty.
    assert stored_energy(DeviceState(tank_c=60.0), cfg, model)[0] == pytest.approx(
        model.heat_capacity_kwh_per_k * 16.7
    )
    assert stored_energy(DeviceState(tank_c=30.0), cfg, model)[0] == 0.0
    with pytest.raises(BuildError, match="stored energy unknown"):
        stored_energy(DeviceState(), cfg, model)
    with pytest.raises(BuildError, match="capacity unknown"):
        stored_energy(DeviceState(tank_c=50.0), cfg, None)


def test_build_problem_end_to_end_with_a_model_and_a_capacity_limit() -> None:
    model = HpwhModel.load(MODELS / "Rheem2020Prem80.json")
    tl = SignalTimeline(
        (
            price(timedelta(0), 24 * H, *[0.10] * 16 + [0.45] * 5 + [0.10] * 3),
            SignalInterval(T0 + 2 * H, T0 + 3 * H, "IMPORT_CAPACITY_LIMIT", (0.2,), None, "l"),
        )
    )
    cfg = PlannerConfig(step=Q, horizon=24 * H, draw_kwh_by_hour=(0.4,) * 24)
    state = DeviceState(tank_c=47.0, air_c=20.0)
    p = build_problem(tl, state, cfg, T0, model)
    assert p.n == 96
    assert p.step_hours == 0.25
    assert [s.name for s in p.sources] == ["heat_pump", "element"]
    hp, el = p.sources
    assert hp.cop[0] == pytest.approx(model.cop(20.0, 47.0))
    assert hp.max_kwh[0] == pytest.approx(model.capacity_kw(20.0, 47.0) * 0.25)
    assert hp.max_kwh[8] == pytest.approx(0.2 * hp.cop[8] * 0.25)  # the limit caps input power
    # The limit holds for both sources together: the heat pump takes all of it here.
    assert el.max_kwh[8] == 0.0
    for k in range(p.n):
        assert hp.max_kwh[k] / hp.cop[k] + el.max_kwh[k] <= (0.2 if 8 <= k < 12 else 99) * 0.25
    assert el.max_kwh[0] == pytest.approx(4.5 * 0.25)
    loss = model.ua_w_per_k * (47.0 - 20.0) / 1000 * 0.25
    assert p.load_kwh[0] == pytest.approx(0.1 + loss)
    assert p.soc_end_min_kwh == pytest.approx(p.soc_kwh)
    plan = schedule(p)
    assert plan.feasible
    heat = plan.total_heat()
    peak = range(64, 84)  # 16:00-21:00 after the start, in quarter hours
    assert sum(heat[t] for t in peak) < sum(p.load_kwh[t] for t in peak)


def test_build_problem_without_model_needs_config() -> None:
    tl = SignalTimeline((price(timedelta(0), 2 * H, 0.1),))
    state = DeviceState(stored_wh=1000, capacity_wh=3000)
    with pytest.raises(BuildError, match="COP unknown"):
        build_problem(tl, state, PlannerConfig(horizon=2 * H), T0)
    cfg = PlannerConfig(horizon=2 * H, hp_max_kw=1.2, hp_cop=3.0, element_enabled=False)
    p = build_problem(tl, state, cfg, T0)
    assert [s.name for s in p.sources] == ["heat_pump"]
    assert p.soc_min_kwh == pytest.approx(0.6)
    with_hour = build_problem(tl, state, replace(cfg, reserve_peak_hour=True), T0)
    # Optionally 20 % of the capacity plus the largest expected hour of draws (0.35 kWh).
    assert with_hour.soc_min_kwh == pytest.approx(0.6 + 0.35)
    with pytest.raises(BuildError, match="timezone-aware"):
        build_problem(tl, state, cfg, datetime(2026, 1, 1))


def test_advanced_load_up_raises_the_ceiling_not_the_normal_capacity() -> None:
    model = HpwhModel.load(MODELS / "Rheem2020Prem50.json")
    tl = SignalTimeline((price(timedelta(0), 4 * H, 0.1),))
    state = DeviceState(tank_c=70.0, air_c=20.0)
    plain = build_problem(tl, state, PlannerConfig(horizon=4 * H), T0, model)
    alu_cfg = PlannerConfig(horizon=4 * H, advanced_load_up_c=62.8)
    alu = build_problem(tl, state, alu_cfg, T0, model)
    mass = model.heat_capacity_kwh_per_k
    assert plain.soc_max_kwh == pytest.approx(mass * (model.setpoint_c - 43.3))
    assert plain.soc_kwh == plain.soc_max_kwh  # a 70 °C reading plans from the ceiling
    assert alu.soc_max_kwh == pytest.approx(mass * (62.8 - 43.3))
    assert alu.soc_kwh == alu.soc_max_kwh
    assert alu.soc_end_min_kwh == pytest.approx(plain.soc_max_kwh)
    with pytest.raises(BuildError, match="above the set point"):
        build_problem(tl, state, PlannerConfig(advanced_load_up_c=40.0), T0, model)


def test_thirteen_hour_event_packed_in_one_interval_reproduces_the_lp_cost() -> None:
    """The sample event's 13 prices as one packed PRICE interval, an overlapping low-priority
    tariff that must lose, and the toolkit's quickstart parameters: the reference LP cost."""
    csv_path = MODELS.parent / "prices" / "etou_dyn_2026-02-17_13h.csv"
    rows = csv_path.read_text().splitlines()[1:]
    prices = tuple(float(r.split(",")[2]) for r in rows)
    tl = SignalTimeline(
        (
            price(timedelta(0), 13 * H, *prices, priority=1, eid="etou-dyn"),
            price(-H, 20 * H, 0.30, priority=None, eid="flat-tariff"),
        )
    )
    cfg = PlannerConfig(
        horizon=13 * H,
        draw_kwh_by_hour=(1.5,) * 24,
        reserve_fraction=1 / 12,
        end_fraction=1 / 12,
        capacity_kwh=12.0,
        hp_max_kw=4.5,
        hp_cop=3.0,
        element_enabled=False,
    )
    p = build_problem(tl, DeviceState(stored_wh=6000), cfg, T0)
    assert p.price == pytest.approx(prices)
    assert (p.soc_kwh, p.soc_min_kwh, p.soc_max_kwh) == pytest.approx((6.0, 1.0, 12.0))
    assert round(schedule(p).cost, 4) == 0.5702


def test_the_plan_keeps_the_heat_below_which_the_heater_brings_in_its_element() -> None:
    model = HpwhModel.load(MODELS / "Rheem2020Prem50.json")
    mass = model.heat_capacity_kwh_per_k
    # Readings counted from a 14 °C mains: a 40 °C mean tank holds 26 K of heat.
    state = DeviceState(stored_wh=1000 * mass * 26.0, capacity_wh=1000 * mass * 48.8, tank_c=40.0)
    tl = SignalTimeline((price(timedelta(0), 4 * H, 0.1),))
    cfg = PlannerConfig(horizon=4 * H)
    p = build_problem(tl, state, cfg, T0, model)
    held = cfg.min_stored_share * mass * (model.setpoint_c - 14.0)
    assert p.soc_min_kwh == pytest.approx(held)
    without = build_problem(tl, state, replace(cfg, min_stored_share=0.0), T0, model)
    assert without.soc_min_kwh < held


def test_the_planner_s_map_is_the_reference_heater_s_inside_the_grid() -> None:
    """Capacity and COP as the simulated heater (hil, which follows HPWHsim) takes them, at
    points between the grid's, for every shipped model file."""
    from hil.hpwh_model import MODEL_NAMES, load_model

    for name in MODEL_NAMES:
        planner = HpwhModel.load(MODELS / f"{name}.json")
        reference = load_model(name).performance
        for air in (7.5, 12.5, 20.0, 27.5):
            for water in (15.0, 30.0, 42.5, 55.0):
                capacity_w, input_w = reference.lookup(air, water)
                assert planner.cop(air, water) == pytest.approx(capacity_w / input_w, rel=1e-9)
                assert planner.capacity_kw(air, water) == pytest.approx(capacity_w / 1000, rel=1e-9)
