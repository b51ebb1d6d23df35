"""The default planner: the exact scheduler on prices, instructions obeyed as they come.

Prices go through :mod:`ven_edge.plan` (problem from the signals and the heater's state, the
exact min-cost schedule, plan → CTA-2045 commands with reasons). Instructions (SIMPLE levels and
grid alerts, :mod:`ven_edge.plan.rule_planner`) override the price plan in the steps they cover: a
utility's shed request is obeyed whatever the price.

Without prices, or with prices that do not vary over the horizon, there is nothing to shift and
the price plan is left out: a flat tariff must not make the heater shed. Nor is it followed when
it does not save at least ``min_saving`` against normal mode (docs/planner.md, "Comfort first").

Steps lie on the clock (:mod:`ven_edge.plan.grid`), and a re-plan keeps the previous plan's price
command until the end of the step in force and beyond it unless the change is worth it
(:mod:`ven_edge.plan.calm`).
"""

from __future__ import annotations

import itertools
import logging
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from ven_edge.control import ControlPlan, PlanInputs, PlannedCommand, PlanStep
from ven_edge.cta2045.command_kind import CommandKind
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.heater_commands import supports_advanced_load_up
from ven_edge.plan import commands as plan_commands
from ven_edge.plan.builder import (
    PRICE,
    DeviceState,
    PlannerConfig,
    average_price,
    build_problem,
    inlet_c,
    normal_capacity,
    set_point_c,
)
from ven_edge.plan.calm import PricePlan, settle
from ven_edge.plan.commands import Strategy
from ven_edge.plan.grid import step_bounds
from ven_edge.plan.hpwh_model import HpwhModel
from ven_edge.plan.load_up_prune import prune_load_ups
from ven_edge.plan.rule_planner import instruction_edges, numeric, overlay_instructions
from ven_edge.plan.shed_trim import DEAR_SHARE, trim_sheds
from ven_edge.plan.tank_costs import (
    cop_by_storage,
    cop_fixed_point,
    end_value,
    energy_cost,
    normal_mode,
    saves_with_draw_error,
)
from ven_edge.plan.thermostat import Run, Thermostat
from ven_edge.signal_profile import Profile, winner_profile

log = logging.getLogger(__name__)

# Relative price spread below which shifting is not worth a command.
MIN_PRICE_SPREAD: Final = 0.01

#: Standby loss per hour of a marginal kWh stored, when no model file says: UA over the tank's
#: heat capacity (Rheem2020Prem50: 2.4 W/K over 0.197 kWh/K, sample_data/hpwh_models).
DEFAULT_LOSS_PER_HOUR: Final = 0.012


@dataclass(frozen=True)
class ExactPlanner:
    """A :data:`~ven_edge.control.Planner` (call it with :class:`PlanInputs`).

    It remembers the last price plan it made (``memory``), so that a re-plan changes the price
    command only at a step boundary and only when that is worth ``min_saving`` and
    ``min_shift_kwh``; one planner serves one heater, one plan at a time."""

    config: PlannerConfig = field(default_factory=PlannerConfig)
    model: HpwhModel | None = None
    strategy: Strategy = "state"
    #: Ask for Advanced Load Up whatever the heater reports; otherwise only when it reports the
    #: capability and ``config.advanced_load_up_c`` is set (a mixing valve is fitted).
    supports_advanced_load_up: bool = False
    #: Overrides the unit the events' payload descriptors give.
    price_unit: str | None = None
    min_saving: float = 0.01
    #: Follow a plan only if its commands, played through the heater's thermostat, cost no
    #: more than normal mode also with the draws ±30 % or an hour off (the forecast's error).
    #: Measured (docs/planner.md, "Comfort first"): it removes most of the worst days' loss
    #: and most of the saving, so it is off.
    check_draw_error: bool = False
    #: Move the thermostat's recoveries from a shed in the horizon's dear quarter to cheaper
    #: steps, played by a heater that starts late (docs/planner.md, "What the heater does
    #: with a command" and "Sheds cut short in the dear quarter, measured").
    cut_sheds: bool = True
    #: Turn to Normal the load ups that, played through the heater's thermostat, cost more than
    #: they save (docs/planner.md, "Load ups the heater would not pay for").
    prune_load_ups: bool = True
    #: Price normal mode with the thermostat's dead band (docs/planner.md, "What the heater
    #: does with a command"); False replaces each step's draw at once.
    normal_dead_band: bool = True
    min_shift_kwh: float = 0.5
    #: Keep each step's electric input within the limits as built, whatever COP the tank's
    #: temperature gives (a fleet schedule's limits are on electricity).
    keep_input_limits: bool = False
    memory: list[PricePlan] = field(default_factory=list, compare=False, repr=False)

    def __call__(self, inputs: PlanInputs) -> ControlPlan:
        now = inputs.now
        step = self.config.step
        prices = winner_profile(inputs.signals, PRICE)
        edges = instruction_edges(inputs.signals)
        bounds = step_bounds(now, step, self.config.horizon, prices, edges)
        starts = bounds[:-1]
        # The prices the VTN sent, not the builder's fill for gaps: the page shows these, and
        # the reasons cite only these.
        sent = [average_price(prices, a, b) for a, b in itertools.pairwise(bounds)]
        unit = self.price_unit or _unit(prices)
        fresh = self._price_plan(inputs, bounds, sent, prices, unit)
        previous = self.memory[-1] if self.memory else None
        priced = settle(previous, fresh, now, bounds, self.min_saving, self.min_shift_kwh)
        self.memory[:] = [] if priced is None else [priced]
        if priced is None:
            price_cmds: tuple[PlannedCommand, ...] = ()
            steps = tuple(PlanStep(s, p, 0.0, None) for s, p in zip(starts, sent, strict=True))
            expected = normal = None
        else:
            price_cmds, steps = priced.commands, priced.steps
            expected, normal = priced.expected_cost, priced.normal_cost

        price_starts = [c.start for c in price_cmds]

        def price_command(at: datetime) -> PlannedCommand | None:
            if numeric(prices.value_at(at)) is None:
                return None  # beyond the prices the VTN sent, nothing justifies a price command
            # The price commands follow one another without overlap (one per run of steps).
            k = bisect_right(price_starts, at) - 1
            return price_cmds[k] if k >= 0 and price_cmds[k].covers(at) else None

        commands = overlay_instructions(inputs.signals, starts, bounds[-1], price_command)
        return ControlPlan(
            made_at=now,
            commands=commands,
            steps=steps,
            step_minutes=max(1, round(step / timedelta(minutes=1))),
            price_unit=unit,
            expected_cost=expected,
            normal_cost=normal,
        )

    def _price_plan(
        self,
        inputs: PlanInputs,
        bounds: list[datetime],
        sent: list[float | None],
        profile: Profile,
        unit: str | None,
    ) -> PricePlan | None:
        horizon_end = bounds[-1]
        prices = [
            float(v)
            for i in inputs.signals.intervals
            if i.kind == PRICE and i.end > inputs.now and i.start < horizon_end
            for v in i.values
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        if not prices:
            return None
        scale = max(abs(p) for p in prices) or 1.0
        if (max(prices) - min(prices)) / scale < MIN_PRICE_SPREAD:
            return None
        device = inputs.device
        alu = self._advanced_load_up(device)
        config = self._config(alu)
        state = DeviceState(
            stored_wh=device.stored_energy_wh,
            capacity_wh=device.energy_capacity_wh,
            tank_c=device.present_temperature_c,
        )
        problem = build_problem(
            inputs.signals, state, config, inputs.now, self.model, prices=profile,
            bounds=bounds, draw=inputs.draw,
        )  # fmt: skip
        air = state.air_c if state.air_c is not None else self.config.air_c
        mains = inlet_c(state, self.model)
        problem, plan = cop_fixed_point(
            problem,
            self._loss_per_hour(),
            self.model,
            air,
            mains,
            keep_input=self.keep_input_limits,
        )
        if not plan.feasible:
            log.warning("no plan meets every constraint (unserved %.2f kWh)", plan.unserved_kwh)
        # The heater's own thermostat stops at its set point, whatever the readings' capacity;
        # only an advanced load up stores above it.
        normal_cap = normal_capacity(problem.soc_max_kwh, config, self.model)
        mass = None if self.model is None else self.model.heat_capacity_kwh_per_k
        if self.model is not None and mass is not None and mains is not None:
            at_set_point = mass * (self.model.setpoint_c - mains)
            normal_cap = min(normal_cap, max(at_set_point, problem.soc_min_kwh))
        differential = None if self.model is None else self.model.hp_differential_c
        thermo = Thermostat.of(normal_cap, mass, differential)
        cop_at = cop_by_storage(self.model, air, mains)
        # Without its dead band, normal mode replaces each step's draw at once (the earlier
        # model, kept for comparison).
        normal_thermo = thermo if self.normal_dead_band else Thermostat.topping_up(normal_cap)
        normal_cost, normal_end, normal_heat, normal_soc = normal_mode(
            problem, normal_thermo, cop_at
        )

        # The scheduler's plan, its end heat valued against normal mode's.
        expected = energy_cost(problem, plan) + end_value(problem, normal_end - plan.soc_kwh[-1])
        kinds = None
        if normal_cost - expected >= self.min_saving:

            def worth(run: Run) -> float:
                # The heat left at the end against normal mode's, valued (docs/planner.md).
                return run.cost + end_value(problem, normal_end - run.end)

            kinds = plan_commands.step_kinds(
                plan,
                problem,
                strategy=self.strategy,
                supports_advanced_load_up=alu,
                normal_capacity_kwh=normal_cap,
            )
            # What the heater does under these commands: its thermostat's recoveries from a
            # shed moved to cheaper steps where that pays ("What the heater does with a
            # command").
            if self.cut_sheds:
                # Played by a heater that starts late (thermostat.LATE_SENSOR_SHARE): a
                # recovery is moved only where even it would recover at a dear price.
                kinds, _ = trim_sheds(
                    problem, thermo.late(), kinds, worth, cop_at, dear_share=DEAR_SHARE
                )
            if self.prune_load_ups:
                # Played by the heater that recovers soonest (thermostat.EARLIEST_SENSOR_SHARE):
                # a load up is dropped only if it does not pay even then.
                kinds = prune_load_ups(problem, thermo.early(), kinds, worth, cop_at)
            if self.check_draw_error and not saves_with_draw_error(
                problem, thermo, kinds, cop_at, self.config.step
            ):
                kinds = None
        if kinds is None:
            # Comfort first: a plan that does not save enough is not worth its risk (nor, when
            # checked, one that saves only within the draw forecast's error). The steps show
            # what the heater's own thermostat is expected to do.
            steps = _steps(bounds, sent, normal_heat, normal_soc)
            return PricePlan((), steps, normal_cost, normal_cost)
        commands = plan_commands.plan_to_commands(
            plan,
            problem,
            inputs.now,
            strategy=self.strategy,
            supports_advanced_load_up=alu,
            normal_capacity_kwh=normal_cap,
            priced=[p is not None for p in sent],
            times=bounds,
            unit=unit,
            kinds=kinds,
        )
        planned = tuple(
            PlannedCommand(c.start, c.end, c.kind, c.reason, None, c.wh)
            for c in commands
            if c.kind is not CommandKind.NORMAL
        )
        # The electricity the plan takes per step: what an import limit bounds.
        electric = [
            sum(plan.heat_kwh[source.name][t] / source.cop[t] for source in problem.sources)
            for t in range(problem.n)
        ]
        return PricePlan(
            planned,
            _steps(bounds, sent, plan.total_heat(), plan.soc_kwh, electric),
            expected,
            normal_cost,
            bounds=tuple(bounds),
            heat=plan.total_heat(),
            soc=plan.soc_kwh,
            price=problem.price,
            cop=problem.sources[0].cop,
            reserve_kwh=problem.soc_min_kwh,
        )

    def config_for(self, device: DeviceSnapshot) -> PlannerConfig:
        """The configuration to plan ``device`` with: storage above the set point only when
        the heater takes Advanced Load Up (docs/planner.md, "Storing above the set point")."""
        return self._config(self._advanced_load_up(device))

    def _config(self, advanced_load_up: bool) -> PlannerConfig:
        return self.config if advanced_load_up else replace(self.config, advanced_load_up_c=None)

    def _advanced_load_up(self, device: DeviceSnapshot) -> bool:
        """Plan storage above the set point (docs/planner.md, "Storing above the set point")?"""
        if self.supports_advanced_load_up:
            return True
        ceiling = self.config.advanced_load_up_c
        setpoint = set_point_c(self.config, self.model)
        return (
            ceiling is not None
            and setpoint is not None  # the ceiling is counted from the set point
            and ceiling > setpoint
            and supports_advanced_load_up(device)
        )

    def _loss_per_hour(self) -> float:
        """The share of stored heat the tank loses per hour (model UA / thermal mass)."""
        model = self.model
        if model is None or model.heat_capacity_kwh_per_k <= 0:
            return DEFAULT_LOSS_PER_HOUR
        return model.ua_w_per_k / 1000.0 / model.heat_capacity_kwh_per_k


def _steps(
    bounds: list[datetime],
    sent: list[float | None],
    heat: Sequence[float],
    soc: Sequence[float],
    electric: Sequence[float] | None = None,
) -> tuple[PlanStep, ...]:
    return tuple(
        PlanStep(
            start=s,
            price=sent[k],
            heat_kwh=heat[k],
            soc_kwh=soc[k],
            input_kwh=None if electric is None else electric[k],
        )
        for k, s in enumerate(bounds[:-1])
    )


def _unit(prices: Profile) -> str | None:
    """The unit the events' payload descriptors give their prices (the first that says)."""
    return next((i.unit for i in prices.chosen if i is not None and i.unit), None)
