"""Load ups the heater would not pay for are dropped; sheds and paying load ups are kept
(docs/planner.md, "Load ups the heater would not pay for")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.devices import answering
from tests.plan.test_thermostat import FULL, THERMO, problem
from ven_edge.control import PlanInputs
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.plan.builder import PlannerConfig
from ven_edge.plan.commands import load_up_runs
from ven_edge.plan.exact_planner import ExactPlanner
from ven_edge.plan.hpwh_model import HpwhModel
from ven_edge.plan.load_up_prune import prune_load_ups
from ven_edge.plan.problem import Problem
from ven_edge.plan.tank_costs import end_value
from ven_edge.plan.thermostat import Run, run
from ven_edge.signals import SignalInterval, SignalTimeline

N, S, L, A = (
    CommandKind.NORMAL,
    CommandKind.SHED,
    CommandKind.LOAD_UP,
    CommandKind.ADVANCED_LOAD_UP,
)


def cop_at(stored: float) -> float:
    """The heat pump's COP falls once the tank is above where its thermostat stops."""
    return 3.0 if stored <= THERMO.full_kwh else 2.0


def worth_for(p: Problem) -> tuple[float, Callable[[Run], float]]:
    normal = run(p, THERMO, [N] * p.n, cop_at)

    def worth(r: Run) -> float:
        return r.cost + end_value(p, normal.end - r.end)

    return normal.cost, worth


def test_a_load_up_for_heat_the_day_never_needs_is_dropped() -> None:
    # A full tank and small draws: the thermostat would not heat before the horizon ends, so a
    # load up before the dear hour only buys heat at a hotter tank's COP.
    price = [0.10, 0.10, 0.10, 0.30, 0.10, 0.10]
    p = problem(price, [0.1] * 6, THERMO.full_kwh)
    normal_cost, worth = worth_for(p)
    assert normal_cost == 0.0
    kinds = [L, L, N, S, N, N]
    assert worth(run(p, THERMO, kinds, cop_at)) > 0.0
    pruned = prune_load_ups(p, THERMO, kinds, worth, cop_at)
    assert pruned == [N, N, N, S, N, N]  # the shed is the scheduler's, left alone


def test_a_load_up_before_a_dear_recovery_is_kept() -> None:
    # Normal mode's thermostat starts in the dear fourth hour; a load up before it saves.
    band = THERMO.normal_band_kwh
    price = [0.10, 0.10, 0.10, 0.40] + [0.08] * 8
    load = [0.0, 0.0, 0.0, 1.05 * band] + [0.0] * 8
    p = problem(price, load, THERMO.full_kwh)
    normal_cost, worth = worth_for(p)
    kinds = [L] + [N] * 11
    assert worth(run(p, THERMO, kinds, cop_at)) < normal_cost
    assert prune_load_ups(p, THERMO, kinds, worth, cop_at) == kinds


def test_the_costliest_run_goes_first_and_a_paying_one_stays() -> None:
    band = THERMO.normal_band_kwh
    # Run one (step 0) stores for the dear recovery at step 3; run two (step 5) stores heat
    # nothing draws before the end, at a price above what it is worth then.
    price = [0.10, 0.10, 0.10, 0.40, 0.05, 0.20, 0.05, 0.05]
    load = [0.0, 0.0, 0.0, 1.05 * band, 0.0, 0.0, 0.0, 0.0]
    p = problem(price, load, THERMO.full_kwh)
    _, worth = worth_for(p)
    kinds = [L, N, N, N, N, A, N, N]
    assert load_up_runs(kinds) == [(0, 0), (5, 5)]
    assert prune_load_ups(p, THERMO, kinds, worth, cop_at) == [L, N, N, N, N, N, N, N]


@settings(max_examples=60, deadline=None)
@given(
    price=st.lists(st.floats(-1.0, 10.0), min_size=1, max_size=24),
    load=st.lists(st.floats(0.0, 5.0), min_size=24, max_size=24),
    soc=st.floats(0.0, FULL),
    kinds=st.lists(st.sampled_from([N, S, L, A]), min_size=24, max_size=24),
)
def test_pruning_only_turns_load_ups_to_normal_and_never_costs_more(
    price: list[float], load: list[float], soc: float, kinds: list[CommandKind]
) -> None:
    n = len(price)
    p = problem(price, load[:n], soc)
    _, worth = worth_for(p)
    before = kinds[:n]
    after = prune_load_ups(p, THERMO, before, worth, cop_at)
    assert len(after) == n
    for b, a in zip(before, after, strict=True):
        assert a is b or (b in (L, A) and a is N)
    played_after = worth(run(p, THERMO, after, cop_at))
    assert played_after <= worth(run(p, THERMO, before, cop_at)) + 1e-9
    # Nothing left to drop: every remaining run pays.
    assert prune_load_ups(p, THERMO, after, worth, cop_at) == after


T0 = datetime(2026, 2, 17, 0, 0, tzinfo=UTC)
AOSMITH_80 = HpwhModel.load(
    Path(__file__).resolve().parents[2] / "sample_data" / "hpwh_models" / "AOSmithHPTU80.json"
)
#: A day of prices with dear hours scattered through it, for an 80-gallon tank a little over
#: half full: the scheduler stores before several of them.
DAY = [0.10, 0.12, 0.22, 0.22, 0.22, 0.10, 0.10, 0.10, 0.11, 0.22, 0.11, 0.11]
DAY += [0.15, 0.11, 0.22, 0.10, 0.10, 0.11, 0.10, 0.22, 0.11, 0.11, 0.12, 0.22]


def test_the_planner_sends_only_the_load_ups_that_pay() -> None:
    signals = SignalTimeline(
        tuple(
            SignalInterval(
                T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1), "PRICE", (p,), None, "t"
            )
            for h, p in enumerate(DAY)
        )
    )
    tank = answering(
        operational_state=0,
        stored_energy_wh=9000,
        energy_capacity_wh=16000,
        present_temperature_c=50,
    )
    config = PlannerConfig(step=timedelta(hours=1))

    def load_ups(prune: bool) -> set[datetime]:
        planner = ExactPlanner(config, AOSMITH_80, prune_load_ups=prune)
        plan = planner(PlanInputs(T0, signals, tank))
        return {c.start for c in plan.commands if c.kind in (L, A)}

    every, paying = load_ups(False), load_ups(True)
    assert paying < every  # some dropped, none added
    assert paying  # and not all: the ones before the dear hours stay


def test_the_early_thermostat_starts_sooner_in_normal_and_under_shed_only() -> None:
    early = THERMO.early()
    assert early.start_below(N) > THERMO.start_below(N)
    assert early.start_below(S) > THERMO.start_below(S)
    assert early.start_below(L) == THERMO.start_below(L)
    assert early.stop_at(N) == THERMO.stop_at(N)
