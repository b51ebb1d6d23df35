"""The gateway in a planned fleet: its planning inputs for the VTN, and following the schedule.

A VTN that plans a fleet together (docs/fleet-planner.md, "Inputs and schedules") sends each
gateway a fleet schedule: an event of the planning program, targeted at the VEN, with an
``IMPORT_CAPACITY_LIMIT`` (kW) per quarter hour. The gateway's own planner keeps planning, with
the schedule as limits on its heat sources (:func:`~ven_edge.plan.builder.build_problem` caps
each step's electric input), so:

* its comfort floor wins: when the schedule would leave the tank below its reserve where the
  gateway's own plan would not, it plans on its own (``comfort``);
* its command budget wins: commands still go through :mod:`ven_edge.command_policy`;
* a schedule that ended (``stale``) or has not begun (``not_started``) is no schedule; without
  one the gateway plans on its own (``no_schedule``).

While it follows a schedule the plan is taken even when it saves nothing against normal mode
(the limits are the point, not the price), and a re-plan takes the new schedule at once.

The planning inputs are the gateway's own problem (:func:`build_problem`) on the quarter-hour
grid, built without its fleet schedule: limits the fleet set must not come back as what the
heater can do.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Final

from ven_edge.control import ControlPlan, PlanInputs, PlanSource
from ven_edge.cta2045.device import DeviceSnapshot
from ven_edge.oadr3.planning import IMPORT_CAPACITY_LIMIT, STEP, PlanningInputs
from ven_edge.plan.builder import PRICE, BuildError, DeviceState, build_problem
from ven_edge.plan.exact_planner import ExactPlanner
from ven_edge.plan.grid import step_bounds
from ven_edge.plan.problem import ProblemError
from ven_edge.plan.rule_planner import RuleSettings, instruction_edges, plan_by_rules
from ven_edge.plan.scheduler import schedule
from ven_edge.signal_profile import winner_profile
from ven_edge.signals import SignalTimeline

log = logging.getLogger(__name__)

#: The planning inputs cover a day of quarter hours (docs/fleet-planner.md).
PLANNING_STEPS: Final = 96
#: Heat a schedule may leave the tank short of its comfort bounds and still be followed: the
#: VTN planned from the stored energy of the last report, minutes old, and every plan leaves
#: the tank exactly at its reserve somewhere; the next fleet plan starts from the new reading.
#: Half a kWh is a few minutes of a shower (docs/fleet-planner.md, "The gateway follows").
COMFORT_SLACK_KWH: Final = 0.5


_SAID: Final = {
    "following": "following it",
    "no_schedule": "none in force; planning alone",
    "stale": "ended; planning alone",
    "not_started": "not begun; planning alone",
    "comfort": "it would leave the tank below its comfort floor; planning alone",
}


def without_event(timeline: SignalTimeline, event_id: str | None) -> SignalTimeline:
    """``timeline`` without the intervals of ``event_id``."""
    if event_id is None:
        return timeline
    return SignalTimeline(tuple(i for i in timeline.intervals if i.event_id != event_id))


def device_state(device: DeviceSnapshot) -> DeviceState:
    return DeviceState(
        stored_wh=device.stored_energy_wh,
        capacity_wh=device.energy_capacity_wh,
        tank_c=device.present_temperature_c,
    )


def quarter_hour(now: datetime) -> datetime:
    """The start of the quarter hour in progress."""
    return now.replace(minute=now.minute - now.minute % 15, second=0, microsecond=0)


@dataclass
class FleetAwarePlanner:
    """A :data:`~ven_edge.control.Planner`: the exact planner, following the fleet schedule
    named in :attr:`PlanInputs.fleet_event` (module docstring); the rule planner when the exact
    problem cannot be built yet (capacity or stored energy unknown)."""

    exact: ExactPlanner
    rules: RuleSettings = field(default_factory=RuleSettings)
    #: Said once per distinct reason, not at every re-plan.
    _last_problem: list[str] = field(default_factory=list, repr=False)
    _last_reason: str | None = field(default=None, repr=False)
    #: The end of the last schedule followed, to say so when it is gone.
    _followed_until: datetime | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # The same memory (the calm plan) whichever way it plans.
        self._follower = replace(
            self.exact, min_saving=-math.inf, min_shift_kwh=0.0, keep_input_limits=True
        )

    def __call__(self, inputs: PlanInputs) -> ControlPlan:
        event = inputs.fleet_event
        own_inputs = replace(inputs, signals=without_event(inputs.signals, event))
        if event is None:
            if self._followed_until is None:
                return self._plan(self.exact, own_inputs)  # never in a planned fleet
            # The schedule followed is gone: withdrawn by the VTN, or over and no longer listed.
            gone = self._followed_until
            return replace(
                self._plan(self.exact, own_inputs),
                source=PlanSource(False, "stale", since=gone)
                if gone <= inputs.now
                else PlanSource(False, "no_schedule"),
            )
        spans = [
            i
            for i in inputs.signals.intervals
            if i.event_id == event and i.kind == IMPORT_CAPACITY_LIMIT
        ]
        now = inputs.now
        source: PlanSource
        if not spans:
            source = PlanSource(False, "no_schedule")
        elif max(i.end for i in spans) <= now:
            source = PlanSource(False, "stale", since=max(i.end for i in spans))
        elif min(i.start for i in spans) > now:
            source = PlanSource(False, "not_started", until=min(i.start for i in spans))
        elif not self._comfort_kept(inputs, own_inputs):
            source = PlanSource(False, "comfort", until=max(i.end for i in spans))
        else:
            source = PlanSource(True, "following", until=max(i.end for i in spans))
        if source.reason != self._last_reason:
            self._last_reason = source.reason
            log.log(
                logging.WARNING if source.reason == "comfort" else logging.INFO,
                "fleet schedule %s: %s",
                event,
                _SAID[source.reason],
            )
        if source.fleet:
            self._followed_until = source.until
            return replace(self._plan(self._follower, inputs), source=source)
        return replace(self._plan(self.exact, own_inputs), source=source)

    def _plan(self, planner: ExactPlanner, inputs: PlanInputs) -> ControlPlan:
        try:
            result = planner(inputs)
        except BuildError as exc:
            if self._last_problem != [str(exc)]:
                log.info("exact planning not possible yet (%s); using the rule planner", exc)
                self._last_problem[:] = [str(exc)]
            return plan_by_rules(inputs, self.rules)
        self._last_problem.clear()
        return result

    def _comfort_kept(self, inputs: PlanInputs, own: PlanInputs) -> bool:
        """Whether the schedule's limits keep the tank within its comfort bounds (give or take
        :data:`COMFORT_SLACK_KWH`), or the tank could not keep them anyway (then the schedule
        is not what breaks them)."""
        try:
            lacking = self._shortfall(inputs)
            if lacking <= COMFORT_SLACK_KWH:
                return True
            return lacking <= self._shortfall(own) + COMFORT_SLACK_KWH
        except (BuildError, ProblemError):
            return True  # the plan itself will say why it cannot be made

    def _shortfall(self, inputs: PlanInputs) -> float:
        """The heat (kWh) the tank would lack against its comfort bounds under these signals,
        on the steps the exact planner uses."""
        # Prices do not decide comfort.
        config = replace(self.exact.config_for(inputs.device), gap_price=0.0)
        prices = winner_profile(inputs.signals, PRICE)
        bounds = step_bounds(
            inputs.now, config.step, config.horizon, prices, instruction_edges(inputs.signals)
        )
        problem = build_problem(
            inputs.signals,
            device_state(inputs.device),
            config,
            inputs.now,
            self.exact.model,
            prices=prices,
            bounds=bounds,
            draw=inputs.draw,
        )
        return schedule(problem).unserved_kwh

    def planning_inputs(
        self,
        timeline: SignalTimeline,
        device: DeviceSnapshot,
        draw: Callable[[datetime, datetime], float] | None,
        now: datetime,
        fleet_event: str | None = None,
    ) -> PlanningInputs:
        """What this heater can do over the next day of quarter hours, for the VTN's fleet
        planner; raises :class:`BuildError` while the problem cannot be built."""
        start = quarter_hour(now.astimezone(UTC))
        bounds = [start + k * STEP for k in range(PLANNING_STEPS + 1)]
        # Prices are the VTN's business.
        config = replace(self.exact.config_for(device), gap_price=0.0)
        problem = build_problem(
            without_event(timeline, fleet_event),
            device_state(device),
            config,
            start,
            self.exact.model,
            bounds=bounds,
            draw=draw,
        )
        hours = STEP / timedelta(hours=1)
        pump = problem.sources[0]
        element = problem.sources[1] if len(problem.sources) > 1 else None
        return PlanningInputs(
            start=start,
            stored_kwh=min(problem.soc_kwh, problem.soc_max_kwh),
            capacity_kwh=problem.soc_max_kwh,
            reserve_kwh=problem.soc_min_kwh,
            end_min_kwh=problem.soc_end_min_kwh,
            draw_kwh=problem.load_kwh,
            hp_kw=tuple(h / (c * hours) for h, c in zip(pump.max_kwh, pump.cop, strict=True)),
            hp_cop=pump.cop,
            element_kw=(
                (0.0,) * PLANNING_STEPS
                if element is None
                else tuple(h / hours for h in element.max_kwh)
            ),
        )
