"""The default planner: the exact scheduler on prices, instructions obeyed as they come.

Prices go through :mod:`ven_edge.plan` (problem from the signals and the heater's state, the
exact min-cost schedule, plan → CTA-2045 commands with reasons). Instructions (SIMPLE levels and
grid alerts, :mod:`ven_edge.rule_planner`) override the price plan in the steps they cover: a
utility's shed request is obeyed whatever the price.

Without prices, or with prices that do not vary over the horizon, there is nothing to shift and
the price plan is left out: a flat tariff must not make the heater shed.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from ven_edge.control import (
    CommandKind,
    ControlPlan,
    PlanInputs,
    PlannedCommand,
    PlanStep,
)
from ven_edge.plan import commands as plan_commands
from ven_edge.plan.builder import DeviceState, PlannerConfig, build_problem
from ven_edge.plan.commands import Strategy
from ven_edge.plan.hpwh_model import HpwhModel
from ven_edge.plan.problem import Problem
from ven_edge.plan.scheduler import schedule
from ven_edge.rule_planner import numeric, overlay_instructions
from ven_edge.signal_profile import Profile, winner_profile

log = logging.getLogger(__name__)

# Relative price spread below which shifting is not worth a command.
MIN_PRICE_SPREAD: Final = 0.01

#: Standby loss per hour of a marginal kWh stored, when no model file says: UA over the tank's
#: heat capacity (Rheem2020Prem50: 2.4 W/K over 0.197 kWh/K, sample_data/hpwh_models).
DEFAULT_LOSS_PER_HOUR: Final = 0.012


def with_holding_cost(problem: Problem, loss_per_hour: float) -> Problem:
    """``problem`` with each step's price raised by the standby loss of heat held to the end.

    The scheduler's tank is lossless, so between equal prices it is indifferent to when it
    pre-heats and may fill the tank hours early; a real tank then loses heat all that time (and a
    heater under Load Up holds it above the set point). A kWh more in the tank raises its
    temperature by 1/C and its loss by UA/C per hour, so heat made in step t is worth
    (1 - loss)^(n - t) of heat made at the end and its price is divided by that: equal prices
    pre-heat as late as possible, and storing must pay for its loss. Prices at or below zero are
    left as they are (heating then is never worse).
    """
    n = problem.n
    keep = max(0.0, 1.0 - loss_per_hour * problem.step_hours)
    if keep >= 1.0 or keep <= 0.0:
        return problem
    price = tuple(p / keep ** (n - t) if p > 0 else p for t, p in enumerate(problem.price))
    return replace(problem, price=price)


_KINDS: Final = {
    plan_commands.SHED: CommandKind.SHED,
    plan_commands.LOAD_UP: CommandKind.LOAD_UP,
    plan_commands.ADVANCED_LOAD_UP: CommandKind.ADVANCED_LOAD_UP,
    plan_commands.NORMAL: CommandKind.NORMAL,
}


@dataclass(frozen=True)
class ExactPlanner:
    """A :data:`~ven_edge.control.Planner` (call it with :class:`PlanInputs`)."""

    config: PlannerConfig = field(default_factory=PlannerConfig)
    model: HpwhModel | None = None
    strategy: Strategy = "state"
    supports_advanced_load_up: bool = False
    price_unit: str | None = None

    def __call__(self, inputs: PlanInputs) -> ControlPlan:
        now = inputs.now
        step = self.config.step
        n = int(self.config.horizon / step)
        starts = [now + step * k for k in range(n)]
        # The prices the VTN sent, not the builder's fill for gaps: the page shows these, and
        # the reasons cite only these.
        prices = winner_profile(inputs.signals, "PRICE")
        sent = [numeric(prices.value_at(s)) for s in starts]
        priced = self._price_plan(inputs, starts, sent, prices)
        price_cmds, steps = (
            priced
            if priced is not None
            else ((), tuple(PlanStep(s, p, 0.0, None) for s, p in zip(starts, sent, strict=True)))
        )

        price_starts = [c.start for c in price_cmds]

        def price_command(at: datetime) -> PlannedCommand | None:
            if numeric(prices.value_at(at)) is None:
                return None  # beyond the prices the VTN sent, nothing justifies a price command
            # The price commands follow one another without overlap (one per run of steps).
            k = bisect_right(price_starts, at) - 1
            return price_cmds[k] if k >= 0 and price_cmds[k].covers(at) else None

        commands = overlay_instructions(inputs.signals, starts, now + step * n, price_command)
        return ControlPlan(
            made_at=now,
            commands=commands,
            steps=steps,
            step_minutes=max(1, round(step / timedelta(minutes=1))),
            price_unit=self.price_unit,
        )

    def _price_plan(
        self,
        inputs: PlanInputs,
        starts: list[datetime],
        sent: list[float | None],
        profile: Profile,
    ) -> tuple[tuple[PlannedCommand, ...], tuple[PlanStep, ...]] | None:
        horizon_end = inputs.now + self.config.horizon
        prices = [
            float(v)
            for i in inputs.signals.intervals
            if i.kind == "PRICE" and i.end > inputs.now and i.start < horizon_end
            for v in i.values
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        if not prices:
            return None
        scale = max(abs(p) for p in prices) or 1.0
        if (max(prices) - min(prices)) / scale < MIN_PRICE_SPREAD:
            return None
        device = inputs.device
        state = DeviceState(
            stored_wh=None if device.stored_kwh is None else device.stored_kwh * 1000.0,
            capacity_wh=None if device.capacity_kwh is None else device.capacity_kwh * 1000.0,
            tank_c=None if device.tank_temp_f is None else (device.tank_temp_f - 32.0) * 5 / 9,
        )
        problem = build_problem(
            inputs.signals,
            state,
            self.config,
            inputs.now,
            self.model,
            prices=profile,
            draw=inputs.draw,
        )
        plan = schedule(with_holding_cost(problem, self._loss_per_hour()))
        if not plan.feasible:
            log.warning("no plan meets every constraint (unserved %.2f kWh)", plan.unserved_kwh)
        commands = plan_commands.plan_to_commands(
            plan,
            problem,
            inputs.now,
            strategy=self.strategy,
            supports_advanced_load_up=self.supports_advanced_load_up,
            priced=[p is not None for p in sent],
        )
        heat = plan.total_heat()
        steps = tuple(
            PlanStep(start=s, price=sent[k], heat_kwh=heat[k], soc_kwh=plan.soc_kwh[k])
            for k, s in enumerate(starts)
        )
        planned = tuple(
            PlannedCommand(c.start, c.end, _KINDS[c.kind], c.reason, None, c.wh)
            for c in commands
            if c.kind != plan_commands.NORMAL
        )
        return planned, steps

    def _loss_per_hour(self) -> float:
        """The share of stored heat the tank loses per hour (model UA / thermal mass)."""
        model = self.model
        if model is None or model.heat_capacity_kwh_per_k <= 0:
            return DEFAULT_LOSS_PER_HOUR
        return model.ua_w_per_k / 1000.0 / model.heat_capacity_kwh_per_k
