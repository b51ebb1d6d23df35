"""Exact scheduler figures: gap to HiGHS, savings against no shifting, time per call.

Run: python bench/scheduler.py. Instances: a heat-pump water heater (Rheem 80-gal HPWHsim map at
19.7 °C air and 45 °C water; 4.5 kW element; usable storage from 43.3 °C to the set point,
20 % reserve, 90 % at the start, end target 60 %) drawing the DOE 24-hour "Medium" pattern, on

* ``day``: one day at n = 24 / 96 / 288 steps (60 / 15 / 5 min) — the two Olivine eTOU-Dyn days
  and Ontario HOEP 2016 days + 0.10 $/kWh;
* ``hourly``: n consecutive Ontario HOEP hours + 0.10 $/kWh (n = 288 is 12 days).

Baseline "no shift": price-blind, least energy, as late as possible, same constraints. HiGHS
solves the same LP in sparse form (state-of-charge variables, bidiagonal equalities) in the same
process; the time ratio is HiGHS over the scheduler, both medians per call (HiGHS timed on a
prebuilt sparse model, so only scipy's linprog call is counted).
"""

from __future__ import annotations

import csv
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.plan.reference_lp import plain_model, solve_plain
from ven_edge.plan.hpwh_model import WATER_KWH_PER_L_K, HpwhModel
from ven_edge.plan.problem import Problem, Source
from ven_edge.plan.scheduler import schedule

DATA = Path(__file__).resolve().parent.parent / "sample_data"
SIZES = (24, 96, 288)
HOEP_ADDER = 0.10
DOE_DELTA_K = 51.7 - 14.4  # DOE 24-h test: 125 °F set point, 58 °F inlet
DAYS = 10  # HOEP days / windows per size
REPEATS = 7


def olivine_days() -> list[list[float]]:
    with (DATA / "prices" / "olivine_etou_dyn_notebook_days.csv").open() as f:
        rows = list(csv.DictReader(f))
    days: dict[str, list[float]] = {}
    for r in rows:
        days.setdefault(r["source_notebook"], []).append(float(r["price_usd_per_kwh"]))
    return list(days.values())


def hoep_hours() -> list[float]:
    with (DATA / "prices" / "ontario-hoep-2016" / "price2016.csv").open() as f:
        return [float(r["HOEP"]) + HOEP_ADDER for r in csv.DictReader(f)]


def doe_medium_minutes() -> list[float]:
    """Thermal draw (kWh) per minute of the DOE Medium day."""
    minutes = [0.0] * 1440
    with (DATA / "draws" / "doe_24h_uef_draw_patterns.csv").open() as f:
        for r in csv.DictReader(f):
            if r["usage_bin"] != "Medium":
                continue
            hh, mm = map(int, r["start_hhmm_from_test_start"].split(":"))
            litres, flow = float(r["volume_L"]), float(r["flow_L_per_min"])
            kwh_per_l = WATER_KWH_PER_L_K * DOE_DELTA_K
            t, left = hh * 60 + mm, litres
            while left > 1e-9:
                take = min(flow, left)
                minutes[t % 1440] += take * kwh_per_l
                left -= take
                t += 1
    return minutes


def per_step(minutes: list[float], n_per_day: int, n: int) -> tuple[float, ...]:
    width = 1440 // n_per_day
    day = [sum(minutes[k * width : (k + 1) * width]) for k in range(n_per_day)]
    return tuple(day[k % n_per_day] for k in range(n))


def make_problem(prices: list[float], steps_per_day: int, draws: list[float]) -> Problem:
    n = len(prices)
    step_h = 24 / steps_per_day
    model = HpwhModel.load(DATA / "hpwh_models" / "Rheem2020Prem80.json")
    capacity = model.heat_capacity_kwh_per_k * (model.setpoint_c - 43.3)
    cop = model.cop(19.7, 45.0)
    hp = Source("heat_pump", (cop,) * n, (model.capacity_kw(19.7, 45.0) * step_h,) * n, (0.0,) * n)
    element = Source("element", (1.0,) * n, (model.element_kw * step_h,) * n, (0.0,) * n)
    return Problem(
        step_h,
        tuple(prices),
        per_step(draws, steps_per_day, n),
        0.9 * capacity,
        0.2 * capacity,
        capacity,
        0.6 * capacity,
        (hp, element),
    )


def no_shift_cost(p: Problem) -> float:
    """Price-blind, least energy, as late as possible: prices that fall with time make the exact
    scheduler buy late and little; the result is costed at the real prices."""
    late = Problem(
        p.step_hours,
        tuple(1.0 - 1e-6 * t for t in range(p.n)),
        p.load_kwh,
        p.soc_kwh,
        p.soc_min_kwh,
        p.soc_max_kwh,
        p.soc_end_min_kwh,
        p.sources,
    )
    plan = schedule(late)
    return sum(
        p.price[t] * plan.heat_kwh[s.name][t] / s.cop[t] for s in p.sources for t in range(p.n)
    )


def timed(fn: Callable[[], object]) -> float:
    samples = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def instances(family: str, n: int, rng: random.Random) -> list[tuple[str, Problem]]:
    draws = doe_medium_minutes()
    hoep = hoep_hours()
    out = []
    if family == "day":
        per_hour = n // 24
        days = [("olivine", d) for d in olivine_days()]
        days += [("hoep", hoep[h : h + 24]) for h in rng.sample(range(0, len(hoep) - 24, 24), DAYS)]
        for name, day in days:
            prices = [day[k // per_hour] for k in range(n)]
            out.append((name, make_problem(prices, n, draws)))
    else:
        for h in rng.sample(range(len(hoep) - n), DAYS):
            out.append(("hoep", make_problem(hoep[h : h + n], 24, draws)))
    return out


def main() -> None:
    rng = random.Random(2016)
    print(
        f"{'family':7} {'n':>4} {'inst':>4} {'inf':>3} {'max gap':>9} {'saving med/min/max %':>22} "
        f"{'greedy ms':>9} {'HiGHS ms':>9} {'ratio':>6}"
    )
    for family in ("day", "hourly"):
        for n in SIZES:
            gaps, savings, t_greedy, t_lp = [], [], [], []
            infeasible = 0
            for _, p in instances(family, n, rng):
                plan = schedule(p)
                ok, lp_cost = solve_plain(p)
                if ok != plan.feasible:
                    raise SystemExit(f"feasibility differs from HiGHS ({family}, n={n})")
                if not ok:
                    infeasible += 1
                    continue
                gaps.append(abs(plan.cost - lp_cost) / max(abs(lp_cost), 1e-9))
                base = no_shift_cost(p)
                savings.append(100 * (base - plan.cost) / base)
                t_greedy.append(timed(lambda p=p: schedule(p)))
                model = plain_model(p)
                t_lp.append(timed(lambda p=p, m=model: solve_plain(p, m)))
            g, h = statistics.median(t_greedy), statistics.median(t_lp)
            print(
                f"{family:7} {n:4d} {len(gaps):4d} {infeasible:3d} {max(gaps):9.1e} "
                f"{statistics.median(savings):8.1f} /{min(savings):5.1f} /{max(savings):5.1f} "
                f"{g:9.3f} {h:9.3f} {h / g:6.1f}"
            )


if __name__ == "__main__":
    main()
