"""What the planner is worth on the simulated heater: every model file × DOE draws × priced days.

Run: python bench/grid_value.py [--quick] [--days N] [--workers 2] [--basic-only]

For each HPWHsim model file in sample_data/hpwh_models, each DOE 24-h draw pattern (low, medium,
high) and each priced day (N days of Ontario HOEP 2016 + 0.10 $/kWh spread evenly over the year,
plus the eTOU-Dyn days in sample_data/prices), the same simulated heater (stratified tank behind a
49 °C mixing valve, hil.dayrun) runs the day twice: in normal mode (no command) and under the
gateway's planner (default `state` strategy, hourly plan; `heater.mixing_valve = true`, so the
planner may store above the set point with Advanced Load Up, which the simulated heater takes;
`--basic-only`: the heater is asked in Basic DR messages only). The planner is given the profile the
gateway's household learner took from the preceding simulated week of the same household, lived
in normal mode with the pattern varied from day to day (hil.learned_week); `--pattern-draws`:
the draw pattern's own heat per hour of the day instead (`household_draw`, what a profile learned
from a household that repeats the pattern exactly converges to); `--default-draws`: the
planner's flat default. Figures:

* saving against normal mode (median, worst), raw and "fair": a day is 24 h cut out of a
  continuing life, so the heat a plan leaves in the tank at the end beyond normal mode's is
  credited at what it would cost normal mode (normal day's effective COP, day's mean price),
  and a plan that ends the day with an emptier tank is charged for it; and the share of the
  LP reference's saving (hil.dayrun.lp_optimum) captured (median, p10; days where the LP
  saves < 0.5 % are left out);
* energy in the top price quarter, planned against normal (summed over the HOEP days);
* the lowest outlet temperature at the valve against normal mode's on the same day;
* heat delivered to the household against normal mode's, and the fair saving with the heat
  delivered short of normal mode's charged at what normal mode pays per kWh delivered that day
  (negative when the plan delivers more): how much of the saving is cooler water;
* CTA-2045 commands per day (heartbeats apart), and the wall time per re-plan (hourly steps on
  the grid, and 15-minute steps on the eTOU-Dyn days);
* on a subset of days (`--optimum-days`, spread over the HOEP days), the share of the tank
  optimum's fair saving captured: the cheapest hourly command schedule found with perfect
  foresight on the same simulated tank (hil.tank_optimum, docs/planner.md "The tank optimum").

The full grid (4 models × 3 patterns × 33 days, two runs each) takes 2 minutes on two idle
cores (4–6 on a loaded machine) with --pattern-draws --optimum-days 0; each learned week adds
about 2 s a cell and each tank optimum 5–20 s (25 minutes in all on a loaded machine); --quick
takes 6 HOEP days.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._measure import percentile  # noqa: E402
from hil.dayrun import (  # noqa: E402
    HourPrice,
    load_hoep_days,
    load_prices,
    lp_optimum,
    simulate_day,
    stored_value,
)
from hil.draws import HOUSEHOLD_PATTERNS, load_draw_profile  # noqa: E402
from hil.hpwh_model import MODEL_NAMES, MODELS_DIR, WATER_RHO_CP_J_PER_L_K, load_model  # noqa: E402
from hil.learned_week import learn_week, planning_with  # noqa: E402
from hil.tank import DEFAULT_VALVE_C, MIN_USEFUL_C, Conditions  # noqa: E402
from hil.tank_optimum import tank_optimum  # noqa: E402
from ven_edge.config import parse_config  # noqa: E402
from ven_edge.control import ControlPlan, PlanInputs, Planner  # noqa: E402
from ven_edge.run import planner_for  # noqa: E402

PRICES = REPO / "sample_data" / "prices"
MODEL_15 = MODELS_DIR / "Rheem2020Prem50.json"
DOE_INLET_C = Conditions().inlet_c
#: Plan with the draw pattern's own hourly heat (the profile a household repeating it is learned
#: to); off: the planner's flat default (--default-draws).
KNOWN_DRAWS = True
#: Plan with the profile learned from the preceding simulated week (off: the pattern's own).
LEARNED_DRAWS = True
#: The household's mixing valve lets the planner store heat above the set point with Advanced
#: Load Up, which the simulated heater takes; on: the heater is asked in Basic DR only.
BASIC_ONLY = False
LP_MIN_SAVING = 0.005  # a day the LP cannot improve by 0.5 % says nothing about capture
#: Days (by name) the tank optimum is searched on; it takes seconds a cell.
OPTIMUM_DAYS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Cell:
    model: str
    draws: str
    day: str
    hoep: bool
    saving: float
    fair_saving: float  # with the end-of-day stored heat valued (module doc)
    fair_extra_cost: float  # $ the plan cost beyond normal mode, stored heat valued
    lp_saving: float
    normal_peak_kwh: float
    planned_peak_kwh: float
    normal_min_c: float
    planned_min_c: float
    delivered_ratio: float
    commands_per_day: float
    replan_ms: tuple[float, ...]
    tank_fair_saving: float | None = None  # the tank optimum's, on the days it is searched
    #: The fair saving with the hot water delivered short of normal mode's charged (module doc).
    hot_water_saving: float | None = None


def priced_days(hoep_days: int) -> list[tuple[str, bool, list[HourPrice]]]:
    picks = [round(i * 366 / hoep_days + 366 / (2 * hoep_days)) for i in range(hoep_days)]
    days = [
        (f"HOEP {prices[0].start:%m-%d}", True, prices)
        for prices in load_hoep_days([min(p, 365) for p in picks])
    ]
    etou = PRICES / "olivine_etou_dyn_notebook_days.csv"
    days.append(("eTOU-Dyn 02-19", False, load_prices(etou)))
    days.append(("eTOU-Dyn 02-25", False, load_prices(etou, skip_hours=24)))
    event = load_prices(PRICES / "etou_dyn_2026-02-17_13h.csv", hours=13)
    days.append(("eTOU-Dyn 02-17 13h", False, event))
    return days


def timed(planner: Planner, sink: list[float]) -> Planner:
    def run(inputs: PlanInputs) -> ControlPlan:
        started = time.perf_counter()
        plan = planner(inputs)
        sink.append(1000 * (time.perf_counter() - started))
        return plan

    return run


def run_cell(job: tuple[str, str, str, bool, list[HourPrice]]) -> Cell:
    model, draws, name, hoep, prices = job
    config = parse_config(
        {
            "plan": {"step_minutes": 60},
            "heater": {"model": str(MODELS_DIR / f"{model}.json"), "mixing_valve": True},
        }
    )
    replans: list[float] = []
    normal = simulate_day(prices, None, model=model, draws=draws)
    planner = planner_for(config, household_draw(draws, prices[0].start) if KNOWN_DRAWS else None)
    if KNOWN_DRAWS and LEARNED_DRAWS:
        planner = planning_with(planner, learn_week(model, draws, prices[0].start).forecast)
    planned = simulate_day(
        prices, timed(planner, replans), model=model, draws=draws, basic_only=BASIC_ONLY
    )
    product = load_model(model)
    usable_kwh = product.volume_l * WATER_RHO_CP_J_PER_L_K * (51.7 - MIN_USEFUL_C) / 3.6e6
    lp = lp_optimum(prices, normal, usable_kwh)
    fair_cost = planned.cost + stored_value(prices, normal, planned)
    short = normal.delivered_kwh - planned.delivered_kwh
    per_kwh = normal.cost / normal.delivered_kwh if normal.delivered_kwh > 0 else 0.0
    optimum = (
        tank_optimum(prices, normal, model=model, draws=draws) if name in OPTIMUM_DAYS else None
    )
    return Cell(
        model=model,
        draws=draws,
        day=name,
        hoep=hoep,
        saving=1 - planned.cost / normal.cost,
        fair_saving=1 - fair_cost / normal.cost,
        fair_extra_cost=fair_cost - normal.cost,
        lp_saving=1 - lp / normal.cost,
        normal_peak_kwh=normal.peak_energy_kwh,
        planned_peak_kwh=planned.peak_energy_kwh,
        normal_min_c=normal.min_outlet_c,
        planned_min_c=planned.min_outlet_c,
        delivered_ratio=planned.delivered_kwh / normal.delivered_kwh,
        commands_per_day=len(planned.commands) * 24 / len(prices),
        replan_ms=tuple(replans),
        tank_fair_saving=None if optimum is None else 1 - optimum.fair_cost / normal.cost,
        hot_water_saving=1 - (fair_cost + short * per_kwh) / normal.cost,
    )


def household_draw(draws: str, start: datetime) -> tuple[tuple[float, ...], timedelta]:
    """The draw pattern's heat per hour of its day (kWh, mixed water at the valve from the
    mains) and the offset from UTC to the simulated day's clock, which starts at ``start``: what
    a profile learned over the preceding weeks of a household repeating the pattern converges
    to."""
    profile = load_draw_profile(draws)
    kwh_per_l = WATER_RHO_CP_J_PER_L_K * (DEFAULT_VALVE_C - DOE_INLET_C) / 3.6e6
    by_hour = tuple(
        profile.litres_between(3600.0 * h, 3600.0 * (h + 1)) * kwh_per_l for h in range(24)
    )
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    return by_hour, midnight - start


def spread(items: Sequence[str], count: int) -> list[str]:
    """``count`` of ``items`` evenly spread (all of them when there are fewer)."""
    if count >= len(items):
        return list(items)
    return [items[(2 * k + 1) * len(items) // (2 * count)] for k in range(max(0, count))]


def hot_water_summary(cells: Sequence[Cell]) -> str:
    """The fair saving with the hot water delivered short of normal mode's charged."""
    charged = [c.hot_water_saving for c in cells if c.hot_water_saving is not None]
    if not charged:
        return "hot water charged: no cell"
    fair = statistics.median(c.fair_saving for c in cells)
    return (
        f"fair saving with the hot water delivered short of normal mode's charged: median "
        f"{100 * statistics.median(charged):.1f} % (fair {100 * fair:.1f} %), worst "
        f"{100 * min(charged):.1f} %"
    )


def optimum_summary(cells: Sequence[Cell]) -> str:
    """The planner's fair saving as a share of the tank optimum's, where it was searched."""
    searched = [c for c in cells if c.tank_fair_saving is not None]
    if not searched:
        return "tank optimum: not searched (--optimum-days 0)"
    shares = [
        c.fair_saving / c.tank_fair_saving
        for c in searched
        if c.tank_fair_saving is not None and c.tank_fair_saving >= LP_MIN_SAVING
    ]
    tank = [c.tank_fair_saving for c in searched if c.tank_fair_saving is not None]
    lp = [c.lp_saving for c in searched]
    days = sorted({c.day for c in searched})
    return (
        f"tank optimum ({len(searched)} cells, days {', '.join(days)}): fair saving median "
        f"{100 * statistics.median(tank):.1f} % (LP reference on the same cells "
        f"{100 * statistics.median(lp):.1f} %); share of the tank optimum captured (fair "
        f"saving, cells where it saves ≥ 0.5 %): median "
        f"{statistics.median(shares) if shares else float('nan'):.2f}, p10 "
        f"{percentile(shares, 0.10) if shares else float('nan'):.2f} over {len(shares)} cells"
    )


def draws_known() -> str:
    if not KNOWN_DRAWS:
        return "flat default"
    return "learned from the week before" if LEARNED_DRAWS else "the pattern"


def summary(label: str, cells: Sequence[Cell]) -> str:
    savings = [c.saving for c in cells]
    fair = [c.fair_saving for c in cells]
    captures = [c.saving / c.lp_saving for c in cells if c.lp_saving >= LP_MIN_SAVING]
    hoep = [c for c in cells if c.hoep]
    peak_n = sum(c.normal_peak_kwh for c in hoep)
    peak_p = sum(c.planned_peak_kwh for c in hoep)
    outlet = min(c.planned_min_c - c.normal_min_c for c in cells)
    lowest = min(c.planned_min_c for c in cells)
    delivered = min(c.delivered_ratio for c in cells)
    commands = [c.commands_per_day for c in cells]
    return (
        f"{label:28s} {100 * statistics.median(savings):6.1f} {100 * min(savings):6.1f} "
        f"{100 * statistics.median(fair):6.1f} {100 * min(fair):6.1f} "
        f"{100 * max(c.fair_extra_cost for c in cells):6.1f} "
        f"{statistics.median(captures) if captures else float('nan'):6.2f} "
        f"{percentile(captures, 0.10) if captures else float('nan'):6.2f} "
        f"{100 * (peak_p / peak_n - 1) if peak_n else float('nan'):+6.1f} "
        f"{outlet:+6.1f} {lowest:6.1f} {100 * delivered:6.1f} "
        f"{statistics.median(commands):5.0f} {max(commands):5.0f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 HOEP days instead of 30")
    parser.add_argument("--days", type=int, default=30, help="HOEP days spread over 2016")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--default-draws",
        action="store_true",
        help="plan with the planner's flat default draws, not the pattern's own",
    )
    parser.add_argument(
        "--pattern-draws",
        action="store_true",
        help="plan with the pattern's own hourly draws, not the profile learned the week before",
    )
    parser.add_argument(
        "--basic-only",
        action="store_true",
        help="ask the heater in Basic DR messages only (no Advanced Load Up above the set point)",
    )
    parser.add_argument(
        "--optimum-days",
        type=int,
        default=None,
        help="HOEP days the tank optimum is searched on (default 4; 2 with --quick)",
    )
    args = parser.parse_args(argv)
    global KNOWN_DRAWS, LEARNED_DRAWS, OPTIMUM_DAYS, BASIC_ONLY
    KNOWN_DRAWS = not args.default_draws
    BASIC_ONLY = args.basic_only
    LEARNED_DRAWS = not args.pattern_draws
    days = priced_days(6 if args.quick else args.days)
    hoep_names = [name for name, hoep, _ in days if hoep]
    wanted = args.optimum_days if args.optimum_days is not None else 2 if args.quick else 4
    OPTIMUM_DAYS = frozenset(spread(hoep_names, wanted))
    jobs = [
        (model, draws, name, hoep, prices)
        for model in MODEL_NAMES
        for draws in HOUSEHOLD_PATTERNS
        for name, hoep, prices in days
    ]
    started = time.monotonic()
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        cells = list(pool.map(run_cell, jobs, chunksize=4))
    took = time.monotonic() - started
    n_hoep = sum(1 for d in days if d[1])
    patterns = len(HOUSEHOLD_PATTERNS)
    print(f"== {len(MODEL_NAMES)} models × {patterns} DOE patterns × {len(days)} days "
          f"({n_hoep} HOEP 2016 + 0.10 $/kWh, {len(days) - n_hoep} eTOU-Dyn); "
          "planner: default `state` strategy, hourly plan; valve 49 °C; draws known to the "
          f"planner: {draws_known()}")  # fmt: skip
    print(
        "   saving % vs normal (median, worst); LP capture (median, p10; days with LP "
        "saving ≥ 0.5 %); peak-quarter kWh vs normal (HOEP days, %); min outlet − "
        "normal's (°C, worst day); lowest outlet °C; delivered vs normal (worst, %); "
        "commands/day (median, max)"
    )
    print(f"{'':28s} {'med%':>6s} {'worst%':>6s} {'fair%':>6s} {'worst':>6s} {'¢/day':>6s} "
          f"{'capt':>6s} "
          f"{'p10':>6s} {'peak%':>6s} "
          f"{'Δout':>6s} {'out°C':>6s} {'deliv%':>6s} {'cmd':>5s} {'max':>5s}")  # fmt: skip
    for model in MODEL_NAMES:
        for draws in HOUSEHOLD_PATTERNS:
            group = [c for c in cells if c.model == model and c.draws == draws]
            print(summary(f"{model} {draws}", group))
    print(summary("all", cells))
    print(hot_water_summary(cells))
    print(optimum_summary(cells))
    replans = [ms for c in cells for ms in c.replan_ms]
    print(
        f"re-plan (hourly steps, 24 h): median {statistics.median(replans):.1f} ms, "
        f"p99 {percentile(replans, 0.99):.1f} ms over {len(replans)} re-plans"
    )
    print(f"(grid: {len(jobs)} cells, {took:.0f} s on {args.workers} workers)")
    fine: list[float] = []
    for _name, _hoep, prices in days[-3:]:
        config = parse_config({"plan": {"step_minutes": 15}, "heater": {"model": str(MODEL_15)}})
        simulate_day(prices, timed(planner_for(config), fine), draws="doe-medium")
    print(
        f"re-plan (15-minute steps, eTOU-Dyn days, Rheem2020Prem50): median "
        f"{statistics.median(fine):.1f} ms, p99 {percentile(fine, 0.99):.1f} ms, "
        f"max {max(fine):.1f} ms over {len(fine)} re-plans"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
