"""The heater's thermostat on the planner's tank: normal mode's dead band, shed recoveries moved
to cheaper steps, and the draw-error check (docs/planner.md, "What the heater does with a
command")."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.plan.hpwh_model import HpwhModel
from ven_edge.plan.problem import Problem, Source
from ven_edge.plan.shed_trim import DEAR_SHARE, dear_price, trim_sheds
from ven_edge.plan.tank_costs import end_value, normal_mode, saves_with_draw_error
from ven_edge.plan.thermostat import Run, Thermostat, run

N, S, L = CommandKind.NORMAL, CommandKind.SHED, CommandKind.LOAD_UP
#: A 50-gallon tank: 0.197 kWh/K, 7.6 kWh at the set point above the mains.
MASS = 0.197
FULL = 7.6
THERMO = Thermostat.of(FULL, MASS, 17.8)


def problem(price: list[float], load: list[float], soc: float, *, hp: float = 1.5) -> Problem:
    n = len(price)
    return Problem(
        step_hours=1.0,
        price=tuple(price),
        load_kwh=tuple(load),
        soc_kwh=soc,
        soc_min_kwh=2.0,
        soc_max_kwh=FULL,
        soc_end_min_kwh=2.0,
        sources=(
            Source("heat_pump", (3.0,) * n, (hp,) * n, (0.0,) * n),
            Source("element", (1.0,) * n, (4.5,) * n, (0.0,) * n),
        ),
    )


def test_normal_mode_waits_for_its_dead_band_then_heats_back_to_where_it_stops() -> None:
    stop = THERMO.full_kwh
    band = THERMO.normal_band_kwh
    # Three small draws: the first two stay within the dead band, the third starts the heat pump.
    draw = 0.45 * band
    p = problem([0.1, 0.1, 0.3, 0.1, 0.1], [draw, draw, draw, 0.0, 0.0], stop)
    cost, end, heat, soc = normal_mode(p, THERMO)
    assert heat[0] == heat[1] == 0.0
    assert heat[2] > 0  # it started in the third step, dear as it is
    assert abs(end - stop) < 1e-9
    assert abs(sum(heat) - 3 * draw) < 1e-9
    assert cost == sum(pr * h / 3.0 for pr, h in zip(p.price, heat, strict=True))
    assert soc[0] == stop


def test_without_its_dead_band_normal_mode_replaces_each_draw_at_once() -> None:
    p = problem([0.1, 0.3, 0.1], [0.2, 0.3, 0.1], FULL)
    _, end, heat, _ = normal_mode(p, Thermostat.topping_up(FULL))
    assert all(abs(h - d) < 1e-9 for h, d in zip(heat, p.load_kwh, strict=True))
    assert abs(end - FULL) < 1e-9
    # With it, these draws stay inside the dead band: nothing is heated.
    assert sum(normal_mode(p, THERMO)[2]) == 0.0


def test_the_dead_band_under_shed_is_wider_and_load_up_heats_above_the_set_point() -> None:
    assert THERMO.start_below(S) < THERMO.start_below(N) < THERMO.full_kwh
    assert THERMO.stop_at(L) > THERMO.stop_at(N) == THERMO.full_kwh
    # The model file's differential sets the band; without one the documented default does.
    assert Thermostat.of(FULL, MASS, None) == THERMO
    assert Thermostat.of(FULL, MASS, 10.0).normal_band_kwh < THERMO.normal_band_kwh


def test_a_running_heat_pump_runs_to_the_set_point_whatever_the_command() -> None:
    stop = THERMO.full_kwh
    p = problem([0.1] * 4, [THERMO.shed_band_kwh + 0.1, 0, 0, 0], stop, hp=0.6)
    shed = run(p, THERMO, [S, S, S, S])
    assert shed.starts == (0,)
    assert all(h > 0 for h in shed.heat)  # started under shed, it keeps heating
    assert shed.end > shed.soc[1]


def test_a_shed_that_would_recover_in_a_dear_hour_ends_at_a_cheaper_one() -> None:
    stop = THERMO.full_kwh
    # A long shed: cheap at first, then dear; the draws take the tank to the shed trigger in
    # the dear hour.
    price = [0.10, 0.08, 0.12, 0.30, 0.30, 0.10]
    load = [0.6, 0.6, 0.6, 0.9, 0.0, 0.0]
    p = problem(price, load, stop)
    kinds = [S, S, S, S, S, N]
    before = run(p, THERMO, kinds)
    assert any(price[t] == 0.30 for t in before.starts)
    normal_end = run(p, THERMO, [N] * p.n).end

    def worth(r: Run) -> float:
        return r.cost + end_value(p, normal_end - r.end)

    after_kinds, after = trim_sheds(p, THERMO, kinds, worth)
    assert worth(after) < worth(before)
    # No heat pump starts under a shed in a dear step any more.
    assert not any(after_kinds[t] is S and price[t] == 0.30 for t in after.starts)
    assert sum(h for h, pr in zip(after.heat, price, strict=True) if pr == 0.30) < sum(
        h for h, pr in zip(before.heat, price, strict=True) if pr == 0.30
    )


def test_a_shed_the_tank_rides_through_is_kept() -> None:
    stop = THERMO.full_kwh
    p = problem([0.1, 0.3, 0.3, 0.1], [0.3, 0.3, 0.3, 0.0], stop)
    kinds = [N, S, S, N]
    normal_end = run(p, THERMO, [N] * p.n).end

    def worth(r: Run) -> float:
        return r.cost + end_value(p, normal_end - r.end)

    assert trim_sheds(p, THERMO, kinds, worth)[0] == kinds


def test_only_recoveries_in_the_dear_quarter_are_moved() -> None:
    stop = THERMO.full_kwh
    # The same long shed: its recovery falls in a step whose price (0.30) is the dearest of
    # the six, then in one whose price (0.11) is middling.
    load = [0.6, 0.6, 0.6, 0.9, 0.0, 0.0]
    normal_end = run(problem([0.1] * 6, load, stop), THERMO, [N] * 6).end
    kinds = [S, S, S, S, S, N]
    for recovery_price, moved in ((0.30, True), (0.11, False)):
        price = [0.10, 0.08, 0.12, recovery_price, 0.30, 0.10]
        p = problem(price, load, stop)
        assert 3 in run(p, THERMO, kinds).starts

        def worth(r: Run, p: Problem = p) -> float:
            return r.cost + end_value(p, normal_end - r.end)

        every, _ = trim_sheds(p, THERMO, kinds, worth)
        assert every != kinds  # with every step open to it, the recovery moves
        dear_only, _ = trim_sheds(p, THERMO, kinds, worth, dear_share=DEAR_SHARE)
        assert (dear_only != kinds) is moved


def _valued(p: Problem) -> Callable[[Run], float]:
    normal_end = run(p, THERMO, [N] * p.n).end

    def worth(r: Run) -> float:
        return r.cost + end_value(p, normal_end - r.end)

    return worth


def _dear_heat(r: Run, price: list[float], dear: float) -> float:
    return sum(h for h, pr in zip(r.heat, price, strict=True) if pr >= dear)


def test_a_recovery_a_shed_releases_into_dear_steps_waits_until_after_them() -> None:
    stop = THERMO.full_kwh
    # The draws take the tank below Normal's start but not Shed's; the scheduler wants one
    # step of heat at 0.12 before two dear steps, but the heat pump, once started, runs on into
    # them.
    price = [0.10, 0.10, 0.12, 0.30, 0.30, 0.10, 0.10]
    load = [1.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0]
    p = problem(price, load, stop)
    assert THERMO.start_below(S) < stop - sum(load) < THERMO.start_below(N)
    kinds = [S, S, N, S, S, N, N]
    before = run(p, THERMO, kinds)
    assert before.starts == (2,)
    assert _dear_heat(before, price, 0.30) > 0
    worth = _valued(p)
    after_kinds, after = trim_sheds(p, THERMO, kinds, worth, dear_share=DEAR_SHARE)
    assert worth(after) < worth(before)
    assert _dear_heat(after, price, 0.30) == 0.0
    # Kept on through the dear steps, the shed moves the whole recovery to the cheap end.
    assert after_kinds == [S, S, S, S, S, N, N]


def test_a_recovery_released_at_the_horizon_s_start_is_moved_too() -> None:
    price = [0.12, 0.30, 0.30, 0.10, 0.10]
    soc = THERMO.start_below(N) - 0.1  # below Normal's start, above Shed's
    p = problem(price, [0.0] * 5, soc)
    kinds = [N, S, S, N, N]
    before = run(p, THERMO, kinds)
    assert before.starts == (0,)
    assert _dear_heat(before, price, 0.30) > 0
    after_kinds, after = trim_sheds(p, THERMO, kinds, _valued(p), dear_share=DEAR_SHARE)
    assert after_kinds == [S, S, S, N, N]
    assert _dear_heat(after, price, 0.30) == 0.0


def test_a_released_recovery_done_before_the_dear_steps_is_left_alone() -> None:
    price = [0.10, 0.12, 0.12, 0.30, 0.30, 0.10]
    soc = THERMO.start_below(N) - 0.1
    p = problem(price, [0.0] * 6, soc)
    kinds = [S, N, N, S, S, N]
    before = run(p, THERMO, kinds)
    assert before.starts == (1,)
    assert _dear_heat(before, price, 0.30) == 0.0
    assert trim_sheds(p, THERMO, kinds, _valued(p), dear_share=DEAR_SHARE)[0] == kinds


def test_the_dear_price_is_the_lowest_of_the_dearest_share() -> None:
    prices = [0.10 + 0.01 * k for k in range(24)]
    assert dear_price(prices, 0.25) == prices[-6]
    assert dear_price(prices, 1.0) == prices[0]
    assert dear_price(prices, 0.0) == prices[-1]  # at least one step
    assert dear_price([], 0.25) == math.inf


@settings(max_examples=60, deadline=None)
@given(
    prices=st.lists(st.floats(-1.0, 10.0), min_size=1, max_size=48),
    share=st.floats(0.0, 1.0),
)
def test_at_least_the_share_of_steps_is_dear(prices: list[float], share: float) -> None:
    dear = dear_price(prices, share)
    assert dear in prices
    count = sum(p >= dear for p in prices)
    assert count >= max(1, math.ceil(share * len(prices) - 1e-9))
    # and no cheaper price would do: the next one down makes more than the share dear
    assert sum(p > dear for p in prices) < max(1, math.ceil(share * len(prices) - 1e-9))


def test_a_plan_that_saves_only_with_the_forecast_draws_is_refused() -> None:
    stop = THERMO.full_kwh
    band = THERMO.normal_band_kwh
    # With the forecast, normal mode starts in the dear fourth hour and a load up before it
    # saves; with 30 % less drawn normal mode never starts and the load up only costs.
    price = [0.10, 0.10, 0.10, 0.40] + [0.08] * 8
    load = [0.0, 0.0, 0.0, 1.05 * band] + [0.0] * 8
    p = problem(price, load, stop)
    load_up = [L] + [N] * 11

    def cop_at(stored: float) -> float:
        return 3.0 if stored <= stop else 2.0  # the heat pump's COP falls above the set point

    normal = run(p, THERMO, [N] * p.n, cop_at)
    planned = run(p, THERMO, load_up, cop_at)
    assert planned.cost + end_value(p, normal.end - planned.end) < normal.cost
    assert not saves_with_draw_error(p, THERMO, load_up, cop_at, timedelta(hours=1))
    # Doing nothing different is never refused.
    assert saves_with_draw_error(p, THERMO, [N] * p.n, cop_at, timedelta(hours=1))


@settings(max_examples=40, deadline=None)
@given(
    price=st.lists(st.floats(-1.0, 10.0), min_size=1, max_size=30),
    load=st.lists(st.floats(0.0, 20.0), min_size=30, max_size=30),
    soc=st.floats(0.0, FULL),
    kinds=st.lists(st.sampled_from([N, S, L]), min_size=30, max_size=30),
)
def test_the_thermostat_never_heats_beyond_its_stop_or_its_rate(
    price: list[float], load: list[float], soc: float, kinds: list[CommandKind]
) -> None:
    n = len(price)
    p = problem(price, load[:n], soc)
    r = run(p, THERMO, kinds[:n])
    for t in range(n):
        assert 0.0 <= r.heat[t] <= 1.5 + 4.5 + 1e-9
        if r.heat[t] > 0:
            assert r.soc[t + 1] <= max(THERMO.stop_at(kinds[t]), p.soc_min_kwh) + 1e-9
        assert (
            r.soc[t + 1] == r.soc[t] - load[t] + r.heat[t]
            or abs(r.soc[t + 1] - (r.soc[t] - load[t] + r.heat[t])) < 1e-9
        )
    trimmed, tr = trim_sheds(p, THERMO, kinds[:n], lambda x: x.cost)
    assert tr.cost <= r.cost + 1e-9
    assert len(trimmed) == n


MODEL_FILE = Path(__file__).resolve().parents[2] / "sample_data" / "hpwh_models"


def test_the_model_file_gives_the_compressor_s_differential_not_the_standby_one() -> None:
    rheem = HpwhModel.load(MODEL_FILE / "Rheem2020Prem50.json")
    aosmith = HpwhModel.load(MODEL_FILE / "AOSmithHPTU80.json")
    assert rheem.hp_differential_c is not None
    assert abs(rheem.hp_differential_c - 17.78) < 0.01  # 32 °F, not the 5 °C standby logic
    assert aosmith.hp_differential_c is not None
    assert abs(aosmith.hp_differential_c - 19.44) < 0.01


json_values = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True) | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=30), inner),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None)
@given(
    logic=st.one_of(
        json_values,
        st.lists(
            st.fixed_dictionaries(
                {
                    "heating_logic": st.dictionaries(
                        st.sampled_from(
                            ["differential_temperature", "standby_temperature_location"]
                        ),
                        json_values | st.floats(allow_nan=True, allow_infinity=True),
                    )
                }
            ),
            max_size=3,
        ),
    )
)
def test_a_bad_turn_on_logic_leaves_the_differential_to_the_default(logic: object) -> None:
    data = json.loads((MODEL_FILE / "Rheem2020Prem50.json").read_text(encoding="utf-8"))
    for source in data["integrated_system"]["performance"]["heat_source_configurations"]:
        if source["heat_source_type"] == "CONDENSER":
            source["turn_on_logic"] = logic
    model = HpwhModel.from_json(data)
    value = model.hp_differential_c
    assert value is None or 0 < value <= 50
    # The thermostat is built either way, with a finite dead band.
    band = Thermostat.of(FULL, MASS, value).normal_band_kwh
    assert math.isfinite(band)
    assert band > 0


def test_the_late_thermostat_starts_later_in_normal_and_under_shed_only() -> None:
    late = THERMO.late()
    assert late.start_below(S) < THERMO.start_below(S) < THERMO.early().start_below(S)
    assert late.start_below(N) < THERMO.start_below(N)
    assert late.start_below(L) == THERMO.start_below(L)
    assert late.stop_at(S) == THERMO.stop_at(S)
