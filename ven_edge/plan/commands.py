"""Turn a plan into a CTA-2045 command timeline.

Commands are plain data here; the control layer maps them onto CTA-2045 messages (Shed, Load Up,
Advanced Load Up with its Wh amount, End Shed/Normal). CTA-2045 defines the messages, not how a
heater responds (docs/cta2045.md §8–§9), so the planner asks for *states* and says why.

Strategies:

* ``"state"`` (default): from the planned heat and the stored energy. Heat about zero while the
  tank is above the reserve → shed; more heat than this interval's draw (the tank is being charged
  beyond what a normal thermostat would replace) → load up, or advanced load up with a Wh amount
  when the device supports it and the plan stores more than its normal capacity; otherwise normal.
  A load up is kept only when the price peak it stores heat for costs at least
  ``load_up_price_ratio`` times the load up's own price (or electricity is free or paid for):
  heaters answer Load Up by heating the whole tank above its set point (the simulated one: +5 °C
  with a 1 °C deadband), which costs COP and standby loss the lossless plan does not see.
* ``"fraction"``: the toolkit's mapping by share of maximum output: 0 → shed, < 30 % → normal,
  < 80 % → load up, else advanced load up.
* ``"price"``: the toolkit's mapping by price percentile over the horizon: ≥ P75 shed, ≥ P50
  normal, ≥ P25 load up, else advanced load up.

Advanced load up falls back to load up when the device does not support it (it is CTA-2045-B
only and needs a mixing valve). Adjacent intervals with the same command merge into one command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Final, Literal

from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.plan.problem import Plan, Problem

Strategy = Literal["state", "fraction", "price"]
STRATEGIES: tuple[str, ...] = ("state", "fraction", "price")

#: Heat below this share of the step's maximum output counts as "about zero" (kWh/kWh).
IDLE_FRACTION = 0.02
#: The toolkit's thresholds for the fraction mapping (docs/hpwh.md §4, controls/cta2045.py).
FRACTION_NORMAL_BELOW = 0.3
FRACTION_LOAD_UP_BELOW = 0.8
#: Least ratio of the later price peak to a load up's mean price for the state strategy to keep
#: the load up. Measured with hil/dayrun.py on the two-node tank (Rheem2020Prem50, DOE medium
#: draws) on five real-price days: the load ups kept before peaks of 1.3 times their price made
#: the day cost 0.6–0.7 % more than normal mode, against 2.9–3.2 % less without them; a
#: time-of-use peak of twice the off-peak price or more may still be pre-heated for.
LOAD_UP_PRICE_RATIO = 1.5
#: The toolkit's default price percentiles (shed, normal, load up).
PRICE_PERCENTILES = (75.0, 50.0, 25.0)
_EPS = 1e-9
#: The commands that ask the heater to store heat.
LOAD_UPS: Final = frozenset({CommandKind.LOAD_UP, CommandKind.ADVANCED_LOAD_UP})


@dataclass(frozen=True, slots=True)
class Command:
    """One command over ``[start, end)``.

    ``wh`` is set for advanced load up only: the heat the plan puts into the tank during the
    command (CTA-2045-B Advanced Load Up carries an energy amount in Wh and a duration).
    ``reason`` is a sentence for the homeowner.
    """

    kind: CommandKind
    start: datetime
    end: datetime
    reason: str
    wh: int | None = None

    @property
    def duration_s(self) -> int:
        return round((self.end - self.start).total_seconds())

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.label,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "duration_s": self.duration_s,
            "wh": self.wh,
            "reason": self.reason,
        }


def _classify_state(
    plan: Plan, problem: Problem, alu: bool, normal_capacity: float
) -> list[CommandKind]:
    heat = plan.total_heat()
    kinds = []
    for t in range(problem.n):
        top = sum(s.max_kwh[t] for s in problem.sources)
        idle = heat[t] <= max(IDLE_FRACTION * top, _EPS)
        if idle and plan.soc_kwh[t] > problem.soc_min_kwh + _EPS:
            kinds.append(CommandKind.SHED)
        elif heat[t] > problem.load_kwh[t] + max(IDLE_FRACTION * top, _EPS):
            above = plan.soc_kwh[t + 1] > normal_capacity + _EPS
            kinds.append(CommandKind.ADVANCED_LOAD_UP if alu and above else CommandKind.LOAD_UP)
        else:
            kinds.append(CommandKind.NORMAL)
    return kinds


def _drop_unpaid_load_ups(
    kinds: list[CommandKind], problem: Problem, ratio: float
) -> list[CommandKind]:
    """Turn load-up runs whose later price peak is below ``ratio`` × their mean price to normal."""
    price = problem.price
    out = list(kinds)
    for first, last in load_up_runs(kinds):
        run_price = sum(price[first : last + 1]) / (last + 1 - first)
        peak = max(price[last + 1 :], default=run_price)
        worth = peak > run_price + _EPS if run_price <= 0 else peak >= ratio * run_price - _EPS
        if not worth:
            out[first : last + 1] = [CommandKind.NORMAL] * (last + 1 - first)
    return out


def with_kind(
    kinds: Sequence[CommandKind], first: int, last: int, kind: CommandKind
) -> list[CommandKind]:
    """``kinds`` with the steps ``first`` to ``last`` (both included) set to ``kind``."""
    return [*kinds[:first], *[kind] * (last + 1 - first), *kinds[last + 1 :]]


def load_up_runs(kinds: Sequence[CommandKind]) -> list[tuple[int, int]]:
    """The ``(first, last)`` steps of each run of load-up steps (either kind)."""
    runs = []
    t = 0
    while t < len(kinds):
        if kinds[t] not in LOAD_UPS:
            t += 1
            continue
        last = t
        while last + 1 < len(kinds) and kinds[last + 1] in LOAD_UPS:
            last += 1
        runs.append((t, last))
        t = last + 1
    return runs


def _classify_fraction(plan: Plan, problem: Problem) -> list[CommandKind]:
    heat = plan.total_heat()
    kinds = []
    for t in range(problem.n):
        top = sum(s.max_kwh[t] for s in problem.sources)
        if top <= 0:
            kinds.append(CommandKind.NORMAL)
            continue
        share = heat[t] / top
        if heat[t] <= _EPS:
            kinds.append(CommandKind.SHED)
        elif share < FRACTION_NORMAL_BELOW:
            kinds.append(CommandKind.NORMAL)
        elif share < FRACTION_LOAD_UP_BELOW:
            kinds.append(CommandKind.LOAD_UP)
        else:
            kinds.append(CommandKind.ADVANCED_LOAD_UP)
    return kinds


def _classify_price(problem: Problem) -> list[CommandKind]:
    p75, p50, p25 = (percentile(problem.price, q) for q in PRICE_PERCENTILES)
    kinds = []
    for p in problem.price:
        if p >= p75:
            kinds.append(CommandKind.SHED)
        elif p >= p50:
            kinds.append(CommandKind.NORMAL)
        elif p >= p25:
            kinds.append(CommandKind.LOAD_UP)
        else:
            kinds.append(CommandKind.ADVANCED_LOAD_UP)
    return kinds


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) of ``values``, interpolated linearly between closest ranks.

    The same definition as numpy's default (``method="linear"``), in plain Python: the strategy
    needs three percentiles of at most a few thousand prices, not numpy's 16 MB of RSS.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0-100, got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    fraction = rank - low
    a, b = ordered[low], ordered[high]
    # numpy's lerp: from the nearer end, so an exact rank returns the value itself.
    return a + (b - a) * fraction if fraction < 0.5 else b - (b - a) * (1.0 - fraction)


def _clock(t: datetime, tz: tzinfo | None) -> str:
    return (t.astimezone(tz) if tz is not None else t).strftime("%H:%M")


def _money(p: float, unit: str | None = None) -> str:
    return f"{p:.3f} {unit or '$/kWh'}"


#: A later price is called "cheaper" or "dearer" in a reason only when it differs from the
#: command's own by more than this share: 0.120 against 0.122 is the same price to a homeowner.
HONEST_PRICE_SHARE = 0.05
#: A later price is a "price peak" only in the top quarter of the horizon's prices.
PEAK_QUANTILE = 75.0


def _reason(
    kind: CommandKind,
    first: int,
    last: int,
    problem: Problem,
    plan: Plan,
    times: Sequence[datetime],
    tz: tzinfo | None,
    priced: Sequence[bool] | None,
    unit: str | None = None,
) -> str:
    price = problem.price
    span = [times[t + 1] - times[t] for t in range(first, last + 1)]
    run_price = sum(p * (d / span[0]) for p, d in zip(price[first : last + 1], span, strict=True))
    run_price /= sum(d / span[0] for d in span)
    margin = max(_EPS, HONEST_PRICE_SHARE * abs(run_price))
    # A reason names only prices the utility sent, never the builder's fill for a gap.
    later = [t for t in range(last + 1, problem.n) if priced is None or priced[t]]

    def money(p: float) -> str:
        return _money(p, unit)

    if kind in (CommandKind.LOAD_UP, CommandKind.ADVANCED_LOAD_UP):
        extra = plan.soc_kwh[last + 1] - plan.soc_kwh[first]
        what = "storing extra heat" if kind == CommandKind.ADVANCED_LOAD_UP else "pre-heating"
        if run_price < 0:
            return f"{what} while electricity is paid for ({money(run_price)})"
        dearest = max(later, key=lambda t: (price[t], -t), default=None)
        if dearest is not None and price[dearest] > run_price + margin:
            # The first step of the dearest price, not a step inside it.
            start = dearest
            while start - 1 > last and price[start - 1] >= price[dearest] - _EPS:
                start -= 1
            known = [price[t] for t in range(problem.n) if priced is None or priced[t]]
            peak = price[dearest] >= percentile(known, PEAK_QUANTILE) - _EPS
            clock = _clock(times[start], tz)
            what_later = f"the {clock} price peak" if peak else f"dearer electricity from {clock}"
            return (
                f"{what} at {money(run_price)} before {what_later} ({money(price[dearest])}); "
                f"+{max(extra, 0.0):.1f} kWh stored"
            )
        return f"{what} while electricity is cheap ({money(run_price)})"
    if kind == CommandKind.SHED:
        heat = plan.total_heat()
        cheaper = next((t for t in later if price[t] < run_price - margin and heat[t] > _EPS), None)
        stored = plan.soc_kwh[first]
        if cheaper is not None:
            return (
                f"using {stored:.1f} kWh of stored hot water while electricity costs "
                f"{money(run_price)}; reheating from {_clock(times[cheaper], tz)} when it is "
                f"cheaper ({money(price[cheaper])})"
            )
        return (
            f"using {stored:.1f} kWh of stored hot water instead of heating now "
            f"({money(run_price)})"
        )
    return f"heating as usual ({money(run_price)})"


def step_kinds(
    plan: Plan,
    problem: Problem,
    *,
    strategy: Strategy = "state",
    supports_advanced_load_up: bool = False,
    normal_capacity_kwh: float | None = None,
    load_up_price_ratio: float = LOAD_UP_PRICE_RATIO,
) -> list[CommandKind]:
    """The command of each step (see :func:`plan_to_commands` for the arguments)."""
    if strategy == "state":
        cap = problem.soc_max_kwh if normal_capacity_kwh is None else normal_capacity_kwh
        kinds = _classify_state(plan, problem, supports_advanced_load_up, cap)
        kinds = _drop_unpaid_load_ups(kinds, problem, load_up_price_ratio)
    elif strategy == "fraction":
        kinds = _classify_fraction(plan, problem)
    elif strategy == "price":
        kinds = _classify_price(problem)
    else:
        raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
    if not supports_advanced_load_up:
        kinds = [CommandKind.LOAD_UP if k == CommandKind.ADVANCED_LOAD_UP else k for k in kinds]
    return kinds


def plan_to_commands(
    plan: Plan,
    problem: Problem,
    start: datetime,
    *,
    strategy: Strategy = "state",
    supports_advanced_load_up: bool = False,
    normal_capacity_kwh: float | None = None,
    tz: tzinfo | None = None,
    priced: Sequence[bool] | None = None,
    load_up_price_ratio: float = LOAD_UP_PRICE_RATIO,
    times: Sequence[datetime] | None = None,
    unit: str | None = None,
    kinds: Sequence[CommandKind] | None = None,
) -> tuple[Command, ...]:
    """The command timeline for ``plan`` over ``problem`` starting at ``start`` (aware).

    ``normal_capacity_kwh`` is the stored energy a normal thermostat reaches (default:
    ``problem.soc_max_kwh``); the state strategy asks for advanced load up only to go above it,
    and keeps a load up only before a price peak ``load_up_price_ratio`` times its price.
    ``tz`` sets the clock in the reasons (default: ``start``'s zone). ``priced[t]`` says whether
    step ``t``'s price came from the utility (default: all did); reasons cite only those.
    ``times`` are the steps' bounds (n + 1 of them, :func:`ven_edge.plan.grid.step_bounds`;
    default: ``start`` and every ``problem.step_hours`` after it). ``unit`` is the prices' unit
    in the reasons (default $/kWh). ``kinds``, when given, is the command of each step
    (:func:`step_kinds`, perhaps adjusted) instead of the strategy's.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if kinds is None:
        kinds = step_kinds(
            plan,
            problem,
            strategy=strategy,
            supports_advanced_load_up=supports_advanced_load_up,
            normal_capacity_kwh=normal_capacity_kwh,
            load_up_price_ratio=load_up_price_ratio,
        )
    elif len(kinds) != problem.n:
        raise ValueError("kinds must hold one command per step")
    if times is None:
        step = timedelta(hours=problem.step_hours)
        times = [start + k * step for k in range(problem.n + 1)]
    elif len(times) != problem.n + 1 or times[0] != start:
        raise ValueError("times must be the n + 1 step bounds from start")
    normal = problem.soc_max_kwh if normal_capacity_kwh is None else normal_capacity_kwh
    heat = plan.total_heat()
    commands = []
    first = 0
    for t in range(1, problem.n + 1):
        if t < problem.n and kinds[t] == kinds[first]:
            continue
        kind = kinds[first]
        wh = None
        if kind == CommandKind.ADVANCED_LOAD_UP:
            # The toolkit's mappings know no normal capacity: their amount is the run's heat.
            state = strategy == "state"
            wh = _extra_wh(plan, problem, t, normal) if state else round(1000 * sum(heat[first:t]))
        commands.append(
            Command(
                kind=kind,
                start=times[first],
                end=times[t],
                reason=_reason(kind, first, t - 1, problem, plan, times, tz, priced, unit),
                wh=wh,
            )
        )
        first = t
    return tuple(commands)


def _extra_wh(plan: Plan, problem: Problem, end: int, normal_capacity: float) -> int:
    """An advanced load up's energy: the heat the plan stores above the normal thermostat's by
    the end of the run (CTA-2045-B Advanced Load Up asks for energy beyond normal operation, in
    Wh; docs/planner.md, "Storing above the set point"), at least 1 Wh and never more than the
    tank may hold above normal."""
    room = max(problem.soc_max_kwh - normal_capacity, 0.0)
    extra = min(max(plan.soc_kwh[end] - normal_capacity, 0.0), room)
    return max(1, round(1000 * extra))
